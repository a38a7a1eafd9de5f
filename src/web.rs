//! The browser edge: the only module that knows about wasm-bindgen.
//!
//! A module Web Worker owns an `Engine` and calls `step()` once per epoch, so JavaScript owns
//! the loop (Stop is immediate, the page never freezes). The page's main thread uses `draw` to
//! paint the engine's plotters charts on canvases. Every export returns errors as JS `Error`s
//! with the engine's specific message; panics are reported by console_error_panic_hook.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use burn::tensor::Device;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::charts::{self, Theme};
use crate::data::{self, Dataset, LoadOptions};
use crate::pipeline::{RunConfig, Session};
use crate::results::{EpochRecord, RunResults};
use crate::sample::{self, SampleConfig};

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(js_err)
}

/// What the page shows about loaded data.
#[derive(Serialize)]
struct Summary {
    source: String,
    cells: usize,
    genes: usize,
    values: &'static str,
    conditions: BTreeMap<String, usize>,
    covariates: BTreeMap<String, Vec<String>>,
    sha256: String,
    warnings: Vec<String>,
}

fn summary(ds: &Dataset, source: &str) -> Summary {
    let design = crate::design::Design::from_dataset(ds);
    Summary {
        source: source.to_string(),
        cells: ds.n_cells(),
        genes: ds.n_genes(),
        values: if ds.is_counts { "counts" } else { "continuous" },
        conditions: ds.condition_counts(),
        covariates: design.covariates.into_iter().collect(),
        sha256: ds.sha256.clone(),
        warnings: ds.warnings.clone(),
    }
}

#[derive(Serialize, Clone, Default)]
struct BackendInfo {
    /// `webgpu` or `cpu`.
    backend: String,
    adapter: Option<BTreeMap<String, String>>,
    /// Why the backend differs from the one asked for, if it does.
    notice: Option<String>,
}

#[derive(Default)]
struct State {
    data: Option<(Dataset, String)>,
    session: Option<Session>,
    device: Option<Device>,
    /// The WebGPU device, initialised at most once per page (burn requires it).
    gpu: Option<Result<(Device, BTreeMap<String, String>), String>>,
    backend: BackendInfo,
    elapsed_ms: f64,
}

#[wasm_bindgen]
pub struct Engine {
    state: Rc<RefCell<State>>,
}

const BUSY: &str = "the engine is busy with a training step; wait for it to finish";

#[wasm_bindgen]
impl Engine {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Engine {
        Engine { state: Rc::new(RefCell::new(State::default())) }
    }

    /// Generates the seeded sample dataset and makes it the current data.
    pub fn load_sample(&self, seed: u64) -> Result<JsValue, JsError> {
        let (ds, _) = sample::generate(&SampleConfig { seed, ..Default::default() }).map_err(js_err)?;
        let out = to_js(&summary(&ds, "sample"))?;
        let mut st = self.state.try_borrow_mut().map_err(|_| JsError::new(BUSY))?;
        st.data = Some((ds, "sample".into()));
        st.session = None;
        Ok(out)
    }

    /// Parses CSV or gzip'd CSV bytes. On error the previously loaded data stays current.
    pub fn load_csv(&self, bytes: &[u8], name: String, options: JsValue) -> Result<JsValue, JsError> {
        let opts: LoadOptions = if options.is_undefined() || options.is_null() {
            LoadOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&format!("invalid load options: {e}")))?
        };
        let ds = data::parse_csv(bytes, &opts).map_err(js_err)?;
        let out = to_js(&summary(&ds, &name))?;
        let mut st = self.state.try_borrow_mut().map_err(|_| JsError::new(BUSY))?;
        st.data = Some((ds, name));
        st.session = None;
        Ok(out)
    }

    /// Chooses the device: `cpu`, `webgpu` or `auto`. WebGPU falls back to the CPU with a notice.
    pub async fn init_backend(&self, preference: String) -> Result<JsValue, JsError> {
        let want_gpu = matches!(preference.as_str(), "auto" | "webgpu");
        let needs_init = want_gpu && self.state.try_borrow().map_err(|_| JsError::new(BUSY))?.gpu.is_none();
        if needs_init {
            let gpu = match Device::wgpu_options().init_with_setup_async().await {
                Ok((device, setup)) => {
                    let info = setup.adapter.get_info();
                    let mut a = BTreeMap::new();
                    a.insert("name".into(), info.name.clone());
                    a.insert("vendor".into(), format!("{}", info.vendor));
                    a.insert("driver".into(), info.driver.clone());
                    a.insert("backend".into(), format!("{:?}", info.backend));
                    a.insert("device_type".into(), format!("{:?}", info.device_type));
                    Ok((device, a))
                }
                Err(e) => Err(format!("{e}")),
            };
            self.state.try_borrow_mut().map_err(|_| JsError::new(BUSY))?.gpu = Some(gpu);
        }
        let mut st = self.state.try_borrow_mut().map_err(|_| JsError::new(BUSY))?;
        let info = match (want_gpu, st.gpu.clone()) {
            (true, Some(Ok((device, adapter)))) => {
                st.device = Some(device.autodiff());
                BackendInfo { backend: "webgpu".into(), adapter: Some(adapter), notice: None }
            }
            (true, Some(Err(why))) => {
                st.device = Some(Device::flex().autodiff());
                BackendInfo {
                    backend: "cpu".into(),
                    adapter: None,
                    notice: Some(format!("WebGPU is not available here ({why}); training on the CPU instead.")),
                }
            }
            _ => {
                st.device = Some(Device::flex().autodiff());
                BackendInfo { backend: "cpu".into(), adapter: None, notice: None }
            }
        };
        st.session = None;
        st.backend = info.clone();
        to_js(&info)
    }

    /// The default run settings, for the page's form.
    pub fn default_config(&self) -> Result<JsValue, JsError> {
        to_js(&RunConfig::default())
    }

    /// Validates the settings and prepares a run on the current data and device.
    pub fn start(&self, config: JsValue) -> Result<JsValue, JsError> {
        let mut cfg: RunConfig =
            serde_wasm_bindgen::from_value(config).map_err(|e| JsError::new(&format!("invalid settings: {e}")))?;
        let mut st = self.state.try_borrow_mut().map_err(|_| JsError::new(BUSY))?;
        let Some((ds, name)) = st.data.clone() else {
            return Err(JsError::new("no data loaded: choose the sample or a CSV file first"));
        };
        cfg.source = name;
        let device = st.device.clone().unwrap_or_else(|| Device::flex().autodiff());
        let session = Session::new(ds, cfg, &device).map_err(js_err)?;
        #[derive(Serialize)]
        struct Started {
            train_cells: usize,
            val_cells: usize,
            test_cells: usize,
            genes: usize,
            epochs: usize,
        }
        let out = Started {
            train_cells: session.split.train.len(),
            val_cells: session.split.val.len(),
            test_cells: session.split.test.len(),
            genes: session.prep.panel.len(),
            epochs: session.trainer.config().epochs,
        };
        st.session = Some(session);
        st.elapsed_ms = 0.0;
        to_js(&out)
    }

    /// Runs one epoch and returns its named loss terms.
    pub async fn step(&self) -> Result<JsValue, JsError> {
        let state = self.state.clone();
        let mut st = state.try_borrow_mut().map_err(|_| JsError::new(BUSY))?;
        let t0 = js_sys::Date::now();
        let session = st.session.as_mut().ok_or_else(|| JsError::new("no run started"))?;
        let rec: EpochRecord = session.step().await.map_err(js_err)?;
        st.elapsed_ms += js_sys::Date::now() - t0;
        to_js(&rec)
    }

    pub fn is_done(&self) -> bool {
        self.state.try_borrow().ok().and_then(|s| s.session.as_ref().map(|s| s.is_done())).unwrap_or(true)
    }

    /// Allows `epochs` more epochs (Resume after a finished or early-stopped run).
    pub fn extend(&self, epochs: usize) -> Result<(), JsError> {
        let mut st = self.state.try_borrow_mut().map_err(|_| JsError::new(BUSY))?;
        st.session.as_mut().ok_or_else(|| JsError::new("no run started"))?.trainer.extend(epochs);
        Ok(())
    }

    /// Scores the model as it is now (after Stop too) beside the baselines.
    pub async fn evaluate(&self) -> Result<JsValue, JsError> {
        let state = self.state.clone();
        let st = state.try_borrow().map_err(|_| JsError::new(BUSY))?;
        let session = st.session.as_ref().ok_or_else(|| JsError::new("no run started"))?;
        let backend = match &st.backend.adapter {
            Some(a) => format!("webgpu ({})", a.get("name").cloned().unwrap_or_default()),
            None => "flex (CPU, wasm)".to_string(),
        };
        let r: RunResults = session.evaluate(st.elapsed_ms / 1000.0, &backend).await.map_err(js_err)?;
        to_js(&r)
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

/// Draws one scoreboard panel (`shift`, `jaccard`, `pca`, `curves` or `scoreboard`) on a canvas
/// whose pixel size the caller has already set; `scale` is the device-pixel ratio.
#[wasm_bindgen]
pub fn draw(canvas: web_sys::HtmlCanvasElement, results: JsValue, panel: &str, scale: f64) -> Result<(), JsError> {
    let r: RunResults = serde_wasm_bindgen::from_value(results).map_err(|e| JsError::new(&format!("invalid results: {e}")))?;
    let backend = CanvasBackend::with_canvas_object(canvas).ok_or_else(|| JsError::new("canvas has no 2D context"))?;
    let area = backend.into_drawing_area();
    let theme = Theme::scaled(scale);
    area.fill(&theme.background).map_err(js_err)?;
    match panel {
        "shift" => charts::draw_shift_scatter(&area, &r.figures.shift, &theme),
        "jaccard" => charts::draw_jaccard(&area, &r.scores, &theme),
        "pca" => charts::draw_pca(&area, &r.figures.pca, &theme),
        "curves" => charts::draw_training_curves(&area, &r.train.history, &theme),
        "scoreboard" => charts::draw_scoreboard(&area, &r, &theme),
        other => return Err(JsError::new(&format!("unknown panel `{other}`"))),
    }
    .map_err(js_err)?;
    area.present().map_err(js_err)?;
    Ok(())
}

/// Draws live training curves from an epoch history (during training, before any results).
#[wasm_bindgen]
pub fn draw_curves(canvas: web_sys::HtmlCanvasElement, history: JsValue, scale: f64) -> Result<(), JsError> {
    let h: Vec<EpochRecord> = serde_wasm_bindgen::from_value(history).map_err(|e| JsError::new(&format!("invalid history: {e}")))?;
    let backend = CanvasBackend::with_canvas_object(canvas).ok_or_else(|| JsError::new("canvas has no 2D context"))?;
    let area = backend.into_drawing_area();
    let theme = Theme::scaled(scale);
    area.fill(&theme.background).map_err(js_err)?;
    charts::draw_training_curves(&area, &h, &theme).map_err(js_err)?;
    area.present().map_err(js_err)?;
    Ok(())
}

/// The scores as CSV: one row per predictor and condition (plus `pooled`).
#[wasm_bindgen]
pub fn scores_csv(results: JsValue) -> Result<String, JsError> {
    let r: RunResults = serde_wasm_bindgen::from_value(results).map_err(|e| JsError::new(&format!("invalid results: {e}")))?;
    Ok(crate::results::scores_csv(&r))
}
