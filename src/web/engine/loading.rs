//! Making data current: the sample, a CSV, an AnnData file or a 10x matrix with its metadata
//! table — told apart by their bytes — and the current run's cells exported as `.h5ad`.
//! On any error the data loaded before stays current.

use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::{Engine, summary};
use crate::config::Combination;
use crate::config::schema::SettingValue;
use crate::data::{self, Dataset, FormatOptions, Found, Joiner, LoadOptions};
use crate::masks::MaskTruth;
use crate::sample::{self, SampleConfig};
use crate::web::{WebError, to_js};

/// The page's choices for AnnData and 10x input (the `layer`, `combination` and `genes`
/// settings).
#[derive(Deserialize, Default)]
#[serde(default)]
struct FormatChoices {
    layer: String,
    combination: String,
    genes: Option<usize>,
}

fn read_options(options: JsValue) -> Result<LoadOptions, WebError> {
    if options.is_undefined() || options.is_null() {
        return Ok(LoadOptions::default());
    }
    serde_wasm_bindgen::from_value(options).map_err(|e| WebError::LoadOptions(e.to_string()))
}

fn read_format(format: JsValue) -> Result<(FormatOptions, Combination), WebError> {
    let c: FormatChoices = if format.is_undefined() || format.is_null() {
        FormatChoices::default()
    } else {
        serde_wasm_bindgen::from_value(format).map_err(|e| WebError::LoadOptions(e.to_string()))?
    };
    let text = if c.combination.trim().is_empty() {
        "auto"
    } else {
        c.combination.trim()
    };
    let combination = Combination::parse(text).map_err(WebError::LoadOptions)?;
    let mut fopts = FormatOptions {
        layer: c.layer.trim().to_string(),
        joiner: Joiner::parse(text).map_err(WebError::LoadOptions)?,
        ..FormatOptions::default()
    };
    if let Some(g) = c.genes {
        fopts.min_genes = g;
    }
    Ok((fopts, combination))
}

/// `[{name, bytes}]` from the page.
fn read_files(files: &js_sys::Array) -> Result<Vec<(String, Vec<u8>)>, WebError> {
    let mut out = Vec::new();
    for f in files.iter() {
        let name = js_sys::Reflect::get(&f, &JsValue::from_str("name"))
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default();
        let bytes = js_sys::Reflect::get(&f, &JsValue::from_str("bytes"))
            .map_err(|_| WebError::LoadOptions("a file without bytes".into()))?;
        out.push((name, js_sys::Uint8Array::new(&bytes).to_vec()));
    }
    Ok(out)
}

/// Whether a file is one of a 10x folder's three.
fn is_tenx_part(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    let base = base.strip_suffix(".gz").unwrap_or(&base);
    matches!(
        base,
        "matrix.mtx" | "barcodes.tsv" | "features.tsv" | "genes.tsv"
    )
}

/// Reads the files in whichever format their bytes are: one HDF5 file is AnnData; a 10x
/// folder's files or a tar archive of them go with the one other file, the metadata table;
/// anything else is CSV.
fn parse_files(
    mut files: Vec<(String, Vec<u8>)>,
    opts: &LoadOptions,
    fopts: &FormatOptions,
) -> Result<(Dataset, Option<Found>), WebError> {
    if files.len() == 1 && data::is_hdf5(&files[0].1) {
        let (_, bytes) = files.remove(0);
        let (ds, found) = data::parse_h5ad(bytes, opts, fopts)?;
        return Ok((ds, Some(found)));
    }
    let is_matrix =
        |(name, bytes): &(String, Vec<u8>)| is_tenx_part(name) || data::is_archive(bytes);
    if files.iter().any(is_matrix) {
        let (matrix, others): (Vec<_>, Vec<_>) = files.into_iter().partition(is_matrix);
        let metadata = match others.as_slice() {
            [(_, m)] => m.clone(),
            [] => {
                return Err(data::DataError::from(data::FormatError::TenX {
                    file: "the dropped files".into(),
                    message: "a 10x matrix has no conditions of its own: add the metadata table (CSV or TSV keyed by barcode) to the files".into(),
                })
                .into());
            }
            many => {
                let names: Vec<&str> = many.iter().map(|(n, _)| n.as_str()).collect();
                return Err(data::DataError::from(data::FormatError::TenX {
                    file: "the dropped files".into(),
                    message: format!(
                        "only one metadata table may go with the matrix, found {}",
                        names.join(", ")
                    ),
                })
                .into());
            }
        };
        let (ds, found) = data::parse_10x(matrix, &metadata, opts, fopts)?;
        return Ok((ds, Some(found)));
    }
    match files.as_slice() {
        [(name, bytes)] => {
            if name.to_ascii_lowercase().ends_with(".h5ad") {
                // Named like AnnData but not HDF5: say so rather than read it as CSV.
                return Err(data::DataError::from(data::FormatError::NotHdf5).into());
            }
            Ok((data::parse_csv(bytes, opts)?, None))
        }
        _ => Err(WebError::LoadOptions(format!(
            "{} files were given: expected one CSV or .h5ad file, or a 10x folder's files with a metadata table",
            files.len()
        ))),
    }
}

#[wasm_bindgen]
impl Engine {
    /// Generates the seeded sample dataset and makes it the current data.
    /// Its true sparse effects are kept, to be drawn beside the learned masks.
    pub fn load_sample(&self, seed: u64) -> Result<JsValue, JsValue> {
        let (ds, truth) = sample::generate(&SampleConfig {
            seed,
            ..Default::default()
        })
        .map_err(WebError::from)?;
        let out = to_js(&summary(&ds, "sample", None)?)?;
        let mut st = self.state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        st.data = Some((ds, "sample".into(), LoadOptions::default()));
        st.format = None;
        st.truth = Some(MaskTruth::from_sample(&truth));
        st.session = None;
        Ok(out)
    }

    /// Parses CSV or gzip'd CSV bytes with the data settings (`condition_column`,
    /// `control_label`, `covariates`). On error the previously loaded data stays current.
    pub fn load_csv(
        &self,
        bytes: &[u8],
        name: String,
        options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let opts = read_options(options)?;
        let ds = data::parse_csv(bytes, &opts).map_err(WebError::from)?;
        self.make_current(ds, None, name, opts, None)
    }

    /// Reads `[{name, bytes}]` — one CSV or `.h5ad`, or a 10x folder's files (or its
    /// `.tar.gz`) with a metadata table — with the data settings and `format`
    /// (`{layer, combination, genes}`). The summary's `found` lists what an AnnData or 10x
    /// input holds and what was guessed. On error the previously loaded data stays current.
    pub fn load_files(
        &self,
        files: js_sys::Array,
        name: String,
        options: JsValue,
        format: JsValue,
    ) -> Result<JsValue, JsValue> {
        let opts = read_options(options)?;
        let (fopts, combination) = read_format(format)?;
        let (ds, found) = parse_files(read_files(&files)?, &opts, &fopts)?;
        let resolved = LoadOptions {
            condition_column: ds.condition_column.clone(),
            control_label: ds.control_label.clone(),
            ..opts
        };
        let format = found.as_ref().map(|f| {
            let layer = if f.format == "h5ad" {
                f.matrix.clone()
            } else {
                String::new()
            };
            (layer, combination)
        });
        self.make_current(ds, found, name, resolved, format)
    }

    /// The current run's held-out true cells, predictions and matched controls as `.h5ad`
    /// bytes (obs: condition, split, source, model; X log-normalised; layers/counts for NB).
    // A shared borrow, like `evaluate`'s: the worker sends nothing else while it runs.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn export_h5ad(&self) -> Result<Vec<u8>, JsValue> {
        let state = self.state.clone();
        let st = state.try_borrow().map_err(|_| WebError::Busy)?;
        let session = st.session.as_ref().ok_or(WebError::NoRun)?;
        let (bytes, _) = session.export_h5ad().await.map_err(WebError::from)?;
        Ok(bytes)
    }
}

impl Engine {
    /// Makes `ds` the current data; the run, if any, ends.
    fn make_current(
        &self,
        ds: Dataset,
        found: Option<Found>,
        name: String,
        opts: LoadOptions,
        format: Option<(String, Combination)>,
    ) -> Result<JsValue, JsValue> {
        let out = to_js(&summary(&ds, &name, found)?)?;
        let mut st = self.state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        st.data = Some((ds, name, opts));
        st.format = format;
        // An uploaded table's true effects are unknown.
        st.truth = None;
        st.session = None;
        Ok(out)
    }
}
