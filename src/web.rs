//! The browser edge: the only module that knows about wasm-bindgen.
//!
//! A module Web Worker owns an `Engine` and calls `step()` once per epoch, so JavaScript owns
//! the loop (Stop is immediate, the page never freezes); each step reports the run's state
//! (epoch, budget, done, training time), so the page keeps none of its own. The page's main
//! thread builds its settings form from [`settings_schema`], keeps the compared runs in a
//! [`Comparison`] and the live loss curves in a [`LiveCurves`], and paints the engine's plotters
//! charts on canvases. Every export returns errors as JS `Error`s with the engine's specific
//! message (a [`WebError`]); where a setting is to blame, the error's `field` property holds its
//! key (`lr`, `mask_prior`, ...) so the page can show the message beside that field. Panics are
//! reported by console_error_panic_hook.

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
use crate::comparison;
use crate::config::{SCHEMA, SettingError, Settings, Spec};
use crate::data::{self, DataError, Dataset, LoadOptions};
use crate::masks::MaskTruth;
use crate::pipeline::{RunError, Session};
use crate::results::{EpochRecord, RunResults};
use crate::sample::{self, SampleConfig};
use crate::split::SplitError;

unsafe extern "C" {
    /// The module's static constructors (some dependencies register items at start-up).
    fn __wasm_call_ctors();
}

/// Runs once when the module is instantiated. Calling the constructors here, once, makes the
/// linker treat the module as a library: otherwise it wraps every export so that each call from
/// JavaScript reruns them, which made every call cost a quarter of a millisecond and a chart
/// that makes hundreds of calls take over a second.
#[wasm_bindgen(start)]
pub fn start() {
    // SAFETY: called once, at instantiation, before any other export runs.
    unsafe { __wasm_call_ctors() };
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
    SettingsShape(String),
    #[error("invalid load options: {0}")]
    LoadOptions(String),
    #[error("invalid results: {0}")]
    Results(String),
    #[error("invalid epoch record: {0}")]
    Record(String),
    #[error("canvas has no 2D context")]
    NoCanvas,
    #[error("unknown panel `{0}`: expected shift, jaccard, pca, curves, masks or scoreboard")]
    UnknownPanel(String),
    #[error(
        "{0} learns no latent masks: the mask heatmap is drawn for sams, sams-mf and svae-plus"
    )]
    NoMasks(String),
    #[error("nothing to compare: no results were added")]
    NoRuns,
    #[error("could not convert a value for the page: {0}")]
    Convert(String),
    #[error(transparent)]
    Setting(#[from] SettingError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Chart(#[from] ChartError),
}

impl WebError {
    /// The setting to blame, by key, when one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            WebError::Setting(e) | WebError::Run(RunError::Settings(e)) => e.key(),
            WebError::Run(RunError::NbNeedsCounts) => Some("likelihood"),
            WebError::Run(RunError::Split(s)) => match s {
                SplitError::Fraction(_) => Some("holdout_fraction"),
                SplitError::ValFraction(_) => Some("val_fraction"),
                SplitError::UnknownCondition { .. }
                | SplitError::ControlHeldOut(_)
                | SplitError::NoConditions => Some("holdout_conditions"),
                SplitError::GroupSyntax(_)
                | SplitError::UnknownCovariate { .. }
                | SplitError::UnknownLevel { .. } => Some("holdout_group"),
                SplitError::NothingToScore { .. } | SplitError::NoTrainingControls(_) => {
                    Some("holdout_conditions")
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// A JS `Error` with the message, and `field` when a setting is to blame.
impl From<WebError> for JsValue {
    fn from(e: WebError) -> JsValue {
        let err = js_sys::Error::new(&e.to_string());
        if let Some(field) = e.field() {
            // Setting a property on a fresh Error object cannot fail.
            let _ =
                js_sys::Reflect::set(&err, &JsValue::from_str("field"), &JsValue::from_str(field));
        }
        err.into()
    }
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, WebError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| WebError::Convert(e.to_string()))
}

fn read_results(v: JsValue) -> Result<RunResults, WebError> {
    serde_wasm_bindgen::from_value(v).map_err(|e| WebError::Results(e.to_string()))
}

fn read_settings(v: JsValue) -> Result<Settings, WebError> {
    serde_wasm_bindgen::from_value(v).map_err(|e| WebError::SettingsShape(e.to_string()))
}

/// One setting as the page sees it: the table entry, its default and the models that read it.
#[derive(Serialize)]
struct SettingView {
    key: &'static str,
    flag: &'static str,
    label: &'static str,
    help: &'static str,
    room: crate::config::Room,
    kind: crate::config::Kind,
    bounds: crate::config::Bounds,
    choices: &'static [crate::config::Choice],
    /// Model names, or null: every model.
    models: Option<Vec<&'static str>>,
    advanced: bool,
    default: serde_json::Value,
}

fn view(spec: &Spec, defaults: &serde_json::Value) -> SettingView {
    let models = match spec.uses {
        crate::config::Uses::All => None,
        crate::config::Uses::Only(list) => Some(list.iter().map(|m| m.name()).collect()),
    };
    SettingView {
        key: spec.key,
        flag: spec.flag,
        label: spec.label,
        help: spec.help,
        room: spec.room,
        kind: spec.kind,
        bounds: spec.bounds,
        choices: spec.choices,
        models,
        advanced: spec.advanced,
        default: defaults
            .get(spec.key)
            .cloned()
            .unwrap_or(serde_json::Value::Null),
    }
}

/// Every setting, in order: the page builds its form, defaults, per-model visibility, link keys
/// and error placement from this.
#[wasm_bindgen]
pub fn settings_schema() -> Result<JsValue, JsValue> {
    let defaults =
        serde_json::to_value(Settings::default()).map_err(|e| WebError::Convert(e.to_string()))?;
    let views: Vec<SettingView> = SCHEMA.iter().map(|s| view(s, &defaults)).collect();
    Ok(to_js(&views)?)
}

/// Checks settings against every rule that needs no data (the same check that admits a run).
/// Throws an `Error` with `field` set; returns what the run will do differently from what the
/// settings say (e.g. when the masks start earlier in a short run), as sentences.
#[wasm_bindgen]
pub fn check_settings(settings: JsValue) -> Result<JsValue, JsValue> {
    let cfg = read_settings(settings)?.check().map_err(WebError::from)?;
    Ok(to_js(&cfg.notes())?)
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

/// The WebGPU device and its adapter's description, or why there is none.
type GpuInit = Result<(Device, BTreeMap<String, String>), String>;

#[derive(Default)]
struct State {
    /// The current data, its name, and how it was read.
    data: Option<(Dataset, String, LoadOptions)>,
    /// The true sparse effects of the current data, when it is the simulated sample.
    truth: Option<MaskTruth>,
    session: Option<Session>,
    device: Option<Device>,
    /// The WebGPU device, initialised at most once per page (burn requires it).
    gpu: Option<GpuInit>,
    backend: BackendInfo,
    /// Milliseconds spent in training steps of the current run: the one clock of a run.
    elapsed_ms: f64,
}

impl State {
    fn progress(&self) -> Result<Progress, WebError> {
        let p = self.session.as_ref().ok_or(WebError::NoRun)?.progress();
        Ok(Progress {
            epoch: p.epoch,
            budget: p.budget,
            done: p.done,
            seconds: self.elapsed_ms / 1000.0,
        })
    }
}

/// Where a run stands, after every step.
#[derive(Serialize)]
struct Progress {
    epoch: usize,
    budget: usize,
    done: bool,
    /// Training time so far (steps only).
    seconds: f64,
}

#[wasm_bindgen]
pub struct Engine {
    state: Rc<RefCell<State>>,
}

#[wasm_bindgen]
impl Engine {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Engine {
        Engine {
            state: Rc::new(RefCell::new(State::default())),
        }
    }

    /// Generates the seeded sample dataset and makes it the current data.
    /// Its true sparse effects are kept, to be drawn beside the learned masks.
    pub fn load_sample(&self, seed: u64) -> Result<JsValue, JsValue> {
        let (ds, truth) = sample::generate(&SampleConfig {
            seed,
            ..Default::default()
        })
        .map_err(WebError::from)?;
        let out = to_js(&summary(&ds, "sample"))?;
        let mut st = self.state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        st.data = Some((ds, "sample".into(), LoadOptions::default()));
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
        let opts: LoadOptions = if options.is_undefined() || options.is_null() {
            LoadOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options)
                .map_err(|e| WebError::LoadOptions(e.to_string()))?
        };
        let ds = data::parse_csv(bytes, &opts).map_err(WebError::from)?;
        let out = to_js(&summary(&ds, &name))?;
        let mut st = self.state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        st.data = Some((ds, name, opts));
        // An uploaded table's true effects are unknown.
        st.truth = None;
        st.session = None;
        Ok(out)
    }

    /// Chooses the device: `cpu`, `webgpu` or `auto`. WebGPU falls back to the CPU with a notice.
    pub async fn init_backend(&self, preference: String) -> Result<JsValue, JsValue> {
        let want_gpu = matches!(preference.as_str(), "auto" | "webgpu");
        let needs_init = want_gpu
            && self
                .state
                .try_borrow()
                .map_err(|_| WebError::Busy)?
                .gpu
                .is_none();
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
                BackendInfo {
                    backend: "webgpu".into(),
                    adapter: Some(adapter),
                    notice: None,
                }
            }
            (true, Some(Err(why))) => {
                st.device = Some(Device::flex().autodiff());
                BackendInfo {
                    backend: "cpu".into(),
                    adapter: None,
                    notice: Some(format!(
                        "WebGPU is not available here ({why}); training on the CPU instead."
                    )),
                }
            }
            _ => {
                st.device = Some(Device::flex().autodiff());
                BackendInfo {
                    backend: "cpu".into(),
                    adapter: None,
                    notice: None,
                }
            }
        };
        st.session = None;
        st.backend = info.clone();
        Ok(to_js(&info)?)
    }

    /// Checks the settings and prepares a run on the current data and device. The data
    /// settings are the ones the data was read with, so the results say how it was read. On
    /// the sample, the true sparse effects are attached for the mask figure.
    pub fn start(&self, settings: JsValue) -> Result<JsValue, JsValue> {
        let mut settings = read_settings(settings)?;
        let mut st = self.state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        let Some((ds, name, opts)) = st.data.clone() else {
            return Err(WebError::NoData.into());
        };
        settings.condition_column = opts.condition_column;
        settings.control_label = opts.control_label;
        settings.covariates = opts.covariates;
        let cfg = settings.check().map_err(WebError::from)?;
        let notes = cfg.notes();
        let device = st
            .device
            .clone()
            .unwrap_or_else(|| Device::flex().autodiff());
        let mut session = Session::new(ds, &name, cfg, &device).map_err(WebError::from)?;
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
            notes: Vec<String>,
        }
        let out = Started {
            train_cells: session.split.train.len(),
            val_cells: session.split.val.len(),
            test_cells: session.split.test.len(),
            genes: session.prep.panel.len(),
            epochs: session.progress().budget,
            notes,
        };
        st.session = Some(session);
        st.elapsed_ms = 0.0;
        Ok(to_js(&out)?)
    }

    /// Runs one epoch: `{record, epoch, budget, done, seconds}`.
    // The state stays borrowed across the epoch on purpose: that borrow is the engine's busy
    // flag, so a call made while a step is in flight is refused (`Busy`) instead of racing it.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn step(&self) -> Result<JsValue, JsValue> {
        let state = self.state.clone();
        let mut st = state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        let t0 = js_sys::Date::now();
        let session = st.session.as_mut().ok_or(WebError::NoRun)?;
        let record: EpochRecord = session.step().await.map_err(WebError::from)?;
        st.elapsed_ms += js_sys::Date::now() - t0;
        #[derive(Serialize)]
        struct Step {
            record: EpochRecord,
            #[serde(flatten)]
            progress: Progress,
        }
        Ok(to_js(&Step {
            record,
            progress: st.progress()?,
        })?)
    }

    pub fn is_done(&self) -> bool {
        self.state
            .try_borrow()
            .ok()
            .and_then(|s| s.session.as_ref().map(|s| s.is_done()))
            .unwrap_or(true)
    }

    /// Where the current run stands: `{epoch, budget, done, seconds}`.
    pub fn progress(&self) -> Result<JsValue, JsValue> {
        Ok(to_js(
            &self
                .state
                .try_borrow()
                .map_err(|_| WebError::Busy)?
                .progress()?,
        )?)
    }

    /// Allows `epochs` more epochs when the run is done (Resume after a finished or
    /// early-stopped run); returns the progress with the new budget.
    pub fn extend(&self, epochs: usize) -> Result<JsValue, JsValue> {
        let mut st = self.state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        let session = st.session.as_mut().ok_or(WebError::NoRun)?;
        if session.is_done() {
            session.trainer.extend(epochs);
        }
        Ok(to_js(&st.progress()?)?)
    }

    /// Scores the model as it is now (after Stop too) beside the baselines.
    // Borrowed across scoring for the same reason as `step`.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn evaluate(&self) -> Result<JsValue, JsValue> {
        let state = self.state.clone();
        let st = state.try_borrow().map_err(|_| WebError::Busy)?;
        let session = st.session.as_ref().ok_or(WebError::NoRun)?;
        let backend = match &st.backend.adapter {
            Some(a) => format!("webgpu ({})", a.get("name").cloned().unwrap_or_default()),
            None => "flex (CPU, wasm)".to_string(),
        };
        let r: RunResults = session
            .evaluate(st.elapsed_ms / 1000.0, &backend)
            .await
            .map_err(WebError::from)?;
        Ok(to_js(&r)?)
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

fn draw_panel(
    canvas: web_sys::HtmlCanvasElement,
    r: &RunResults,
    panel: &str,
    scale: f64,
) -> Result<(), WebError> {
    // Refused before the canvas is touched, so the page keeps what it shows.
    let masks = match panel {
        "masks" => Some(
            r.figures
                .masks
                .as_ref()
                .ok_or_else(|| WebError::NoMasks(r.model().name().to_string()))?,
        ),
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
    area.fill(&theme.background)
        .map_err(|e| ChartError::Draw(e.to_string()))?;
    draw(&area, &theme)?;
    area.present()
        .map_err(|e| ChartError::Draw(e.to_string()))?;
    Ok(())
}

/// Draws one scoreboard panel (`shift`, `jaccard`, `pca`, `curves`, `masks` or `scoreboard`)
/// on a canvas whose pixel size the caller has already set; `scale` is the device-pixel ratio.
/// `masks` needs results of a model with masks (SAMS-VAE, SVAE+); the truth is drawn beside
/// the learned masks when the results carry it.
#[wasm_bindgen]
pub fn draw(
    canvas: web_sys::HtmlCanvasElement,
    results: JsValue,
    panel: &str,
    scale: f64,
) -> Result<(), JsValue> {
    let r = read_results(results)?;
    draw_panel(canvas, &r, panel, scale)?;
    Ok(())
}

/// The scores as CSV: one row per predictor and condition (plus `pooled`).
#[wasm_bindgen]
pub fn scores_csv(results: JsValue) -> Result<String, JsValue> {
    Ok(crate::results::scores_csv(&read_results(results)?))
}

/// The loss curves of the run in progress: records are pushed as epochs finish, and the same
/// renderer as the scoreboard's curves panel draws them.
#[wasm_bindgen]
#[derive(Default)]
pub struct LiveCurves {
    history: Vec<EpochRecord>,
}

#[wasm_bindgen]
impl LiveCurves {
    #[wasm_bindgen(constructor)]
    pub fn new() -> LiveCurves {
        LiveCurves::default()
    }

    pub fn push(&mut self, record: JsValue) -> Result<(), JsValue> {
        let r: EpochRecord =
            serde_wasm_bindgen::from_value(record).map_err(|e| WebError::Record(e.to_string()))?;
        // A resumed run repeats no epoch; a restarted one starts over.
        self.history.retain(|h| h.epoch < r.epoch);
        self.history.push(r);
        Ok(())
    }

    pub fn clear(&mut self) {
        self.history.clear();
    }

    pub fn len(&self) -> usize {
        self.history.len()
    }

    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }

    pub fn draw(&self, canvas: web_sys::HtmlCanvasElement, scale: f64) -> Result<(), JsValue> {
        paint(canvas, scale, |area, theme| {
            charts::draw_training_curves(area, &self.history, theme)
        })?;
        Ok(())
    }
}

/// The models compared on one data set and split (see [`comparison::Comparison`]): the page
/// adds each scored run and asks it what to show.
#[wasm_bindgen]
#[derive(Default)]
pub struct Comparison {
    inner: comparison::Comparison,
}

#[wasm_bindgen]
impl Comparison {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Comparison {
        Comparison::default()
    }

    /// Adds scored results: `{replaced, removed, changes}` — `removed` lists the models dropped
    /// because the data or split changed, `changes` says what changed.
    pub fn add(&mut self, results: JsValue) -> Result<JsValue, JsValue> {
        let added = self.inner.add(read_results(results)?);
        Ok(to_js(&added)?)
    }

    pub fn clear(&mut self) {
        self.inner.clear();
    }

    pub fn len(&self) -> usize {
        self.inner.runs().len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The compared models' names, in the order they were added.
    pub fn models(&self) -> Vec<String> {
        self.inner
            .runs()
            .iter()
            .map(|r| r.model().name().to_string())
            .collect()
    }

    /// The latest results of `model`, or undefined.
    pub fn run(&self, model: &str) -> Result<JsValue, JsValue> {
        match self.inner.runs().iter().find(|r| r.model().name() == model) {
            Some(r) => Ok(to_js(r)?),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// Every model's scores beside the baselines, as one result.
    pub fn merged(&self) -> Result<JsValue, JsValue> {
        Ok(to_js(&self.inner.merged().ok_or(WebError::NoRuns)?)?)
    }

    /// The merged scores as CSV (for one run, exactly [`scores_csv`] of it).
    pub fn scores_csv(&self) -> Result<String, JsValue> {
        Ok(crate::results::scores_csv(
            &self.inner.merged().ok_or(WebError::NoRuns)?,
        ))
    }

    /// The whole scoreboard of the comparison: the Top-K panel shows every model; the other
    /// panels show the latest run.
    pub fn draw(&self, canvas: web_sys::HtmlCanvasElement, scale: f64) -> Result<(), JsValue> {
        draw_panel(
            canvas,
            &self.inner.merged().ok_or(WebError::NoRuns)?,
            "scoreboard",
            scale,
        )?;
        Ok(())
    }
}
