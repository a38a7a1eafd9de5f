//! The browser edge: the only module that knows about wasm-bindgen.
//!
//! A module Web Worker owns an `Engine` and calls `step()` once per epoch, so JavaScript owns
//! the loop (Stop is immediate, the page never freezes). The page's main thread uses `draw` to
//! paint the engine's plotters charts on canvases. Every export returns errors as JS `Error`s
//! with the engine's specific message (a [`WebError`]); where a setting is to blame, the
//! error's `field` property names it as a path into the run config (`sams.mask_prior`,
//! `train.lr`, ...) so the page can show the message beside that control. Panics are reported
//! by console_error_panic_hook.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use burn::tensor::Device;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use serde::Serialize;
use thiserror::Error;
use wasm_bindgen::prelude::*;

use crate::charts::{self, ChartError, Theme};
use crate::data::{self, DataError, Dataset, LoadOptions};
use crate::masks::MaskTruth;
use crate::model::{ModelConfigError, SamsConfigError};
use crate::pipeline::{RunConfig, RunError, Session};
use crate::results::{EpochRecord, RunResults, Scores};
use crate::sample::{self, SampleConfig};
use crate::split::SplitError;
use crate::train::TrainError;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// Everything the web layer can refuse, each with the message the page shows.
#[derive(Debug, Error)]
pub enum WebError {
    #[error("the engine is busy with a training step; wait for it to finish")]
    Busy,
    #[error("no data loaded: choose the sample or a CSV file first")]
    NoData,
    #[error("no run started")]
    NoRun,
    #[error("invalid settings: {0}")]
    Settings(String),
    #[error("invalid load options: {0}")]
    LoadOptions(String),
    #[error("invalid results: {0}")]
    Results(String),
    #[error("invalid history: {0}")]
    History(String),
    #[error("canvas has no 2D context")]
    NoCanvas,
    #[error("unknown panel `{0}`: expected shift, jaccard, pca, curves, masks or scoreboard")]
    UnknownPanel(String),
    #[error("{0} learns no latent masks: the mask heatmap is drawn for sams, sams-mf and svae-plus")]
    NoMasks(String),
    #[error("nothing to compare: no results were given")]
    NoRuns,
    #[error("runs differ in {0}: scores can only be compared on the same data and the same split")]
    Incomparable(&'static str),
    #[error("could not convert a value for the page: {0}")]
    Convert(String),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Chart(#[from] ChartError),
}

impl WebError {
    /// The run-config setting to blame, as a dotted path, when one setting is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            WebError::Run(e) => run_error_field(e),
            _ => None,
        }
    }
}

fn model_field(e: &ModelConfigError) -> Option<&'static str> {
    Some(match e {
        ModelConfigError::Latent(_) | ModelConfigError::LatentTooLarge(..) => "latent",
        ModelConfigError::Hidden(_) | ModelConfigError::HiddenTooLarge(..) => "hidden",
        ModelConfigError::Genes(_) => "genes",
        ModelConfigError::UnknownLikelihood(_) => "likelihood",
    })
}

fn run_error_field(e: &RunError) -> Option<&'static str> {
    match e {
        RunError::UnknownModel(_) => Some("model"),
        RunError::Genes(_) => Some("genes"),
        RunError::NbNeedsCounts => Some("likelihood"),
        RunError::Model(m) => model_field(m),
        RunError::Sams(s) => match s {
            SamsConfigError::MaskPrior(_) => Some("sams.mask_prior"),
            SamsConfigError::Particles(_) => Some("sams.particles"),
            SamsConfigError::IwelboParticles(_) => Some("sams.iwelbo_particles"),
            SamsConfigError::GlobalLr(_) => Some("sams.global_lr"),
            SamsConfigError::MaskInitLogit(_) => Some("sams.mask_init_logit"),
            SamsConfigError::EmbeddingScale(_) => Some("sams.embedding_prior_scale"),
            SamsConfigError::Temperature(_) => Some("sams.temperature"),
            SamsConfigError::SvaeBeta(_) => Some("sams.svae_beta"),
            SamsConfigError::AteSamples(_) => Some("sams.ate_samples"),
            SamsConfigError::AlignEpochs(_) => Some("sams.align_epochs"),
            SamsConfigError::Model(m) => model_field(m),
        },
        RunError::Train(t) => match t {
            TrainError::Epochs(_) => Some("train.epochs"),
            TrainError::BatchSize(_) => Some("train.batch_size"),
            TrainError::LearningRate(_) => Some("train.lr"),
            TrainError::WeightDecay(_) => Some("train.weight_decay"),
            TrainError::Beta(_) => Some("train.beta"),
            TrainError::GradClip(_) => Some("train.grad_clip"),
            TrainError::Warmup(_) => Some("train.kl_warmup"),
            TrainError::Model(m) => model_field(m),
            _ => None,
        },
        RunError::Split(s) => match s {
            SplitError::Fraction(_) => Some("holdout.fraction"),
            SplitError::ValFraction(_) => Some("val_fraction"),
            SplitError::UnknownCondition { .. } | SplitError::ControlHeldOut(_) | SplitError::NoConditions => {
                Some("holdout.conditions")
            }
            SplitError::GroupSyntax(_) | SplitError::UnknownCovariate { .. } => Some("holdout.covariate"),
            SplitError::UnknownLevel { .. } => Some("holdout.level"),
            SplitError::NothingToScore { .. } | SplitError::NoTrainingControls(_) => Some("holdout"),
            _ => None,
        },
        _ => None,
    }
}

/// A JS `Error` with the message, and `field` when a setting is to blame.
impl From<WebError> for JsValue {
    fn from(e: WebError) -> JsValue {
        let err = js_sys::Error::new(&e.to_string());
        if let Some(field) = e.field() {
            // Setting a property on a fresh Error object cannot fail.
            let _ = js_sys::Reflect::set(&err, &JsValue::from_str("field"), &JsValue::from_str(field));
        }
        err.into()
    }
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, WebError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| WebError::Convert(e.to_string()))
}

fn read_results(v: JsValue) -> Result<RunResults, WebError> {
    serde_wasm_bindgen::from_value(v).map_err(|e| WebError::Results(e.to_string()))
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
    /// The true sparse effects of the current data, when it is the simulated sample.
    truth: Option<MaskTruth>,
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

#[wasm_bindgen]
impl Engine {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Engine {
        Engine { state: Rc::new(RefCell::new(State::default())) }
    }

    /// Generates the seeded sample dataset and makes it the current data.
    /// Its true sparse effects are kept, to be drawn beside the learned masks.
    pub fn load_sample(&self, seed: u64) -> Result<JsValue, JsValue> {
        let (ds, truth) = sample::generate(&SampleConfig { seed, ..Default::default() }).map_err(WebError::from)?;
        let out = to_js(&summary(&ds, "sample"))?;
        let mut st = self.state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        st.data = Some((ds, "sample".into()));
        st.truth = Some(MaskTruth::from_sample(&truth));
        st.session = None;
        Ok(out)
    }

    /// Parses CSV or gzip'd CSV bytes. On error the previously loaded data stays current.
    pub fn load_csv(&self, bytes: &[u8], name: String, options: JsValue) -> Result<JsValue, JsValue> {
        let opts: LoadOptions = if options.is_undefined() || options.is_null() {
            LoadOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(|e| WebError::LoadOptions(e.to_string()))?
        };
        let ds = data::parse_csv(bytes, &opts).map_err(WebError::from)?;
        let out = to_js(&summary(&ds, &name))?;
        let mut st = self.state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        st.data = Some((ds, name));
        // An uploaded table's true effects are unknown.
        st.truth = None;
        st.session = None;
        Ok(out)
    }

    /// Chooses the device: `cpu`, `webgpu` or `auto`. WebGPU falls back to the CPU with a notice.
    pub async fn init_backend(&self, preference: String) -> Result<JsValue, JsValue> {
        let want_gpu = matches!(preference.as_str(), "auto" | "webgpu");
        let needs_init = want_gpu && self.state.try_borrow().map_err(|_| WebError::Busy)?.gpu.is_none();
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
            self.state.try_borrow_mut().map_err(|_| WebError::Busy)?.gpu = Some(gpu);
        }
        let mut st = self.state.try_borrow_mut().map_err(|_| WebError::Busy)?;
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
        Ok(to_js(&info)?)
    }

    /// The default run settings, for the page's form.
    pub fn default_config(&self) -> Result<JsValue, JsValue> {
        Ok(to_js(&RunConfig::default())?)
    }

    /// Validates the settings and prepares a run on the current data and device. On the
    /// sample, the true sparse effects are attached for the mask figure.
    pub fn start(&self, config: JsValue) -> Result<JsValue, JsValue> {
        let mut cfg: RunConfig = serde_wasm_bindgen::from_value(config).map_err(|e| WebError::Settings(e.to_string()))?;
        let mut st = self.state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        let Some((ds, name)) = st.data.clone() else {
            return Err(WebError::NoData.into());
        };
        cfg.source = name;
        let device = st.device.clone().unwrap_or_else(|| Device::flex().autodiff());
        let mut session = Session::new(ds, cfg, &device).map_err(WebError::from)?;
        if let Some(truth) = st.truth.clone() {
            session = session.with_truth(truth);
        }
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
        Ok(to_js(&out)?)
    }

    /// Runs one epoch and returns its named loss terms.
    pub async fn step(&self) -> Result<JsValue, JsValue> {
        let state = self.state.clone();
        let mut st = state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        let t0 = js_sys::Date::now();
        let session = st.session.as_mut().ok_or(WebError::NoRun)?;
        let rec: EpochRecord = session.step().await.map_err(WebError::from)?;
        st.elapsed_ms += js_sys::Date::now() - t0;
        Ok(to_js(&rec)?)
    }

    pub fn is_done(&self) -> bool {
        self.state.try_borrow().ok().and_then(|s| s.session.as_ref().map(|s| s.is_done())).unwrap_or(true)
    }

    /// Allows `epochs` more epochs (Resume after a finished or early-stopped run).
    pub fn extend(&self, epochs: usize) -> Result<(), JsValue> {
        let mut st = self.state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        st.session.as_mut().ok_or(WebError::NoRun)?.trainer.extend(epochs);
        Ok(())
    }

    /// Scores the model as it is now (after Stop too) beside the baselines.
    pub async fn evaluate(&self) -> Result<JsValue, JsValue> {
        let state = self.state.clone();
        let st = state.try_borrow().map_err(|_| WebError::Busy)?;
        let session = st.session.as_ref().ok_or(WebError::NoRun)?;
        let backend = match &st.backend.adapter {
            Some(a) => format!("webgpu ({})", a.get("name").cloned().unwrap_or_default()),
            None => "flex (CPU, wasm)".to_string(),
        };
        let r: RunResults = session.evaluate(st.elapsed_ms / 1000.0, &backend).await.map_err(WebError::from)?;
        Ok(to_js(&r)?)
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

/// Checks the settings that need no data ([`RunConfig::validate_settings`]) on whichever
/// thread has the module, so the page can show a rule's message beside its control before
/// starting a run. Throws an `Error` with `field` set; returns nothing when the settings pass.
#[wasm_bindgen]
pub fn check_settings(config: JsValue) -> Result<(), JsValue> {
    let cfg: RunConfig = serde_wasm_bindgen::from_value(config).map_err(|e| WebError::Settings(e.to_string()))?;
    cfg.validate_settings().map_err(WebError::from)?;
    Ok(())
}

fn draw_panel(canvas: web_sys::HtmlCanvasElement, r: &RunResults, panel: &str, scale: f64) -> Result<(), WebError> {
    // Refused before the canvas is touched, so the page keeps what it shows.
    let masks = match panel {
        "masks" => Some(r.figures.masks.as_ref().ok_or_else(|| WebError::NoMasks(r.figures.shift.model.clone()))?),
        "shift" | "jaccard" | "pca" | "curves" | "scoreboard" => None,
        other => return Err(WebError::UnknownPanel(other.to_string())),
    };
    paint(canvas, scale, |area, theme| match (panel, masks) {
        (_, Some(fig)) => charts::draw_masks(area, fig, theme),
        ("shift", _) => charts::draw_shift_scatter(area, &r.figures.shift, theme),
        ("jaccard", _) => charts::draw_jaccard(area, &r.scores, theme),
        ("pca", _) => charts::draw_pca(area, &r.figures.pca, theme),
        ("curves", _) => charts::draw_training_curves(area, &r.train.history, theme),
        _ => charts::draw_scoreboard(area, r, theme),
    })
}

/// Clears the canvas to the theme's background at device-pixel ratio `scale`, lets `draw`
/// paint on it and presents the result.
fn paint(
    canvas: web_sys::HtmlCanvasElement,
    scale: f64,
    draw: impl FnOnce(&DrawingArea<CanvasBackend, Shift>, &Theme) -> Result<(), ChartError>,
) -> Result<(), WebError> {
    let backend = CanvasBackend::with_canvas_object(canvas).ok_or(WebError::NoCanvas)?;
    let area = backend.into_drawing_area();
    let theme = Theme::scaled(scale);
    area.fill(&theme.background).map_err(|e| ChartError::Draw(e.to_string()))?;
    draw(&area, &theme)?;
    area.present().map_err(|e| ChartError::Draw(e.to_string()))?;
    Ok(())
}

/// Draws one scoreboard panel (`shift`, `jaccard`, `pca`, `curves`, `masks` or `scoreboard`)
/// on a canvas whose pixel size the caller has already set; `scale` is the device-pixel ratio.
/// `masks` needs results of a model with masks (SAMS-VAE, SVAE+); the truth is drawn beside
/// the learned masks when the results carry it.
#[wasm_bindgen]
pub fn draw(canvas: web_sys::HtmlCanvasElement, results: JsValue, panel: &str, scale: f64) -> Result<(), JsValue> {
    let r = read_results(results)?;
    draw_panel(canvas, &r, panel, scale)?;
    Ok(())
}

/// Draws live training curves from an epoch history (during training, before any results).
#[wasm_bindgen]
pub fn draw_curves(canvas: web_sys::HtmlCanvasElement, history: JsValue, scale: f64) -> Result<(), JsValue> {
    let h: Vec<EpochRecord> = serde_wasm_bindgen::from_value(history).map_err(|e| WebError::History(e.to_string()))?;
    paint(canvas, scale, |area, theme| charts::draw_training_curves(area, &h, theme))?;
    Ok(())
}

/// The scores as CSV: one row per predictor and condition (plus `pooled`).
#[wasm_bindgen]
pub fn scores_csv(results: JsValue) -> Result<String, JsValue> {
    Ok(crate::results::scores_csv(&read_results(results)?))
}

/// Several runs on the same data and split as one: every run's model scores beside the
/// baselines (taken from the last run, the same for every run on that split). The other fields
/// are the last run's.
pub fn merge_runs(runs: Vec<RunResults>) -> Result<RunResults, WebError> {
    let mut runs = runs.into_iter();
    let first = runs.next().ok_or(WebError::NoRuns)?;
    let mut models: BTreeMap<String, Scores> = BTreeMap::new();
    let mut last = first;
    loop {
        let model = last.figures.shift.model.clone();
        if let Some(s) = last.scores.get(&model) {
            models.insert(model, s.clone());
        }
        let Some(next) = runs.next() else { break };
        if next.data.sha256 != last.data.sha256 {
            return Err(WebError::Incomparable("their data"));
        }
        let (a, b) = (&next.split, &last.split);
        if a.kind != b.kind
            || a.train_cells != b.train_cells
            || a.val_cells != b.val_cells
            || a.test_cells != b.test_cells
            || a.test_conditions != b.test_conditions
        {
            return Err(WebError::Incomparable("their split"));
        }
        last = next;
    }
    let mut merged = last;
    let baselines: Vec<(String, Scores)> =
        merged.scores.iter().filter(|(k, _)| charts::BASELINES.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    merged.scores = models;
    merged.scores.extend(baselines);
    Ok(merged)
}

/// The scores of several runs on the same data and split as one CSV (see [`merge_runs`]); for a
/// single run it is exactly [`scores_csv`].
#[wasm_bindgen]
pub fn compared_scores_csv(runs: JsValue) -> Result<String, JsValue> {
    let runs: Vec<RunResults> = serde_wasm_bindgen::from_value(runs).map_err(|e| WebError::Results(e.to_string()))?;
    Ok(crate::results::scores_csv(&merge_runs(runs)?))
}

/// The whole scoreboard of several runs on the same data and split (see [`merge_runs`]): the
/// Top-K panel shows every model; the other panels show the last run.
#[wasm_bindgen]
pub fn draw_compared(canvas: web_sys::HtmlCanvasElement, runs: JsValue, scale: f64) -> Result<(), JsValue> {
    let runs: Vec<RunResults> = serde_wasm_bindgen::from_value(runs).map_err(|e| WebError::Results(e.to_string()))?;
    draw_panel(canvas, &merge_runs(runs)?, "scoreboard", scale)?;
    Ok(())
}
