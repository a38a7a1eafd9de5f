//! What the AnnData and 10x readers share: a matrix read a window at a time ([`Entries`]),
//! per-cell annotations ([`Obs`]), and the step that turns them into a [`Dataset`] — choosing
//! the condition column, the control label, the combination joiner and the counts matrix
//! (each guess reported in [`Found`]), then densifying only the genes that are kept.

mod build;
mod labels;
mod scan;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

pub use self::labels::{CONTROL_LABELS, Joiner, is_control_like};
pub(crate) use build::{Candidate, build};

use super::DataError;

/// Values kept dense by default (100 MB of `f32`): a larger file keeps its most variable genes.
pub const MAX_DENSE_VALUES: usize = 25_000_000;

/// A stored matrix (cells × genes), visited entry by entry.
pub(crate) trait Entries {
    /// Where it lives in the file (`X`, `layers/counts`, `raw/X`, `matrix.mtx`).
    fn name(&self) -> &str;
    fn rows(&self) -> usize;
    fn cols(&self) -> usize;
    /// Calls `f(cell, gene, value)` for every stored entry (explicit zeros included, implicit
    /// ones not), reading a bounded window at a time.
    fn visit(
        &self,
        f: &mut dyn FnMut(usize, usize, f32) -> Result<(), DataError>,
    ) -> Result<(), DataError>;
}

/// One annotation column.
#[derive(Debug, Clone)]
pub(crate) enum ObsValues {
    /// Codes into categories; a negative code is a missing value.
    Categorical {
        codes: Vec<i64>,
        categories: Vec<String>,
    },
    Text(Vec<String>),
    /// Numbers (NaN missing); integers print without a decimal point.
    Numbers(Vec<f64>),
}

impl ObsValues {
    /// The value of cell `i` as text; `None` when missing.
    pub(crate) fn get(&self, i: usize) -> Option<Cow<'_, str>> {
        match self {
            ObsValues::Categorical { codes, categories } => {
                let code = usize::try_from(*codes.get(i)?).ok()?;
                categories.get(code).map(|s| Cow::Borrowed(s.as_str()))
            }
            ObsValues::Text(v) => v.get(i).map(|s| Cow::Borrowed(s.as_str())),
            ObsValues::Numbers(v) => {
                let x = *v.get(i)?;
                if x.is_nan() {
                    None
                } else if x.fract() == 0.0 && x.abs() < 1e15 {
                    Some(Cow::Owned(format!("{}", x as i64)))
                } else {
                    Some(Cow::Owned(x.to_string()))
                }
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ObsValues::Categorical { .. } => "categorical",
            ObsValues::Text(_) => "text",
            ObsValues::Numbers(_) => "numeric",
        }
    }
}

/// The per-cell annotations: cell names and named columns.
#[derive(Debug, Clone, Default)]
pub(crate) struct Obs {
    pub(crate) index: Vec<String>,
    pub(crate) columns: Vec<(String, ObsValues)>,
}

impl Obs {
    pub(crate) fn column(&self, name: &str) -> Option<&ObsValues> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.columns.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// How to read an AnnData or 10x input beyond [`super::LoadOptions`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FormatOptions {
    /// The matrix to read: `X`, `raw/X`, `layers/NAME` or a bare layer name; empty: guess
    /// (integer counts first: a counts layer, then `raw/X`, then `X`).
    pub layer: String,
    /// How combination labels are joined.
    pub joiner: Joiner,
    /// Cells × kept genes at most; more genes are cut to the most variable ones.
    pub max_dense_values: usize,
    /// Genes always kept when the file has them (the panel size asked for).
    pub min_genes: usize,
}

impl Default for FormatOptions {
    fn default() -> Self {
        Self {
            layer: String::new(),
            joiner: Joiner::Auto,
            max_dense_values: MAX_DENSE_VALUES,
            min_genes: 200,
        }
    }
}

/// What a file holds and what was chosen from it, guesses marked: shown before training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Found {
    /// `h5ad` or `10x`.
    pub format: String,
    pub cells: usize,
    pub obs_columns: Vec<ObsInfo>,
    pub matrices: Vec<MatrixInfo>,
    pub condition_column: String,
    pub control_label: String,
    pub matrix: String,
    pub joiner: Joiner,
    /// Which of `condition_column`, `control_label`, `matrix`, `joiner` were guessed.
    pub guessed: Vec<String>,
    /// Labels rewritten into `A+B` form, `(as in the file, as read)`, the first few.
    pub relabelled: Vec<(String, String)>,
    pub genes_in_file: usize,
    pub genes_kept: usize,
    /// Guesses and choices in words.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObsInfo {
    pub name: String,
    /// `categorical`, `text` or `numeric`.
    pub kind: String,
    /// Distinct values (text and categorical columns).
    pub levels: Option<usize>,
    /// A few of its values.
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixInfo {
    pub name: String,
    pub cells: usize,
    pub genes: usize,
    /// `dense`, `csr`, `csc` or `mtx`.
    pub storage: String,
    /// Whether it holds integer counts, when it was scanned.
    pub counts: Option<bool>,
}
