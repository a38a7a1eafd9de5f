//! The engine a module Web Worker owns: data, device and one run, driven one epoch per call.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use burn::tensor::Device;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::{WebError, read_settings, to_js};

mod loading;
mod scoring;
use crate::checkpoint::Checkpoint;
use crate::config::{Combination, Shape};
use crate::data::{Dataset, Found, LoadOptions};
use crate::masks::MaskTruth;
use crate::pipeline::{Planned, RunError, Session};
use crate::results::{AteScores, EpochRecord, RunResults};
use crate::train::TrainError;

/// The ATE as one engine hands it to another ([`Engine::ate`], [`Engine::evaluate`]).
#[derive(Serialize, serde::Deserialize)]
struct SharedAte {
    ate: Option<AteScores>,
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
    /// What run estimates need to know of the data (`estimate_run`).
    shape: Shape,
    condition_column: String,
    control_label: String,
    /// What an AnnData or 10x input holds and what was guessed in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    found: Option<Found>,
}

fn summary(ds: &Dataset, source: &str, found: Option<Found>) -> Result<Summary, WebError> {
    let design = crate::design::Design::from_dataset(ds)?;
    Ok(Summary {
        source: source.to_string(),
        cells: ds.n_cells(),
        genes: ds.n_genes(),
        values: if ds.is_counts { "counts" } else { "continuous" },
        conditions: ds.condition_counts(),
        shape: Shape::of(ds, &design),
        covariates: design.covariates.into_iter().collect(),
        sha256: ds.sha256.clone(),
        warnings: ds.warnings.clone(),
        condition_column: ds.condition_column.clone(),
        control_label: ds.control_label.clone(),
        found,
    })
}

#[derive(Serialize, Clone, Default)]
struct BackendInfo {
    /// `webgpu` or `cpu`.
    backend: String,
    adapter: Option<BTreeMap<String, String>>,
    /// Why the backend differs from the one asked for, if it does, in words for people.
    notice: Option<String>,
    /// The technical reason behind the notice (the graphics stack's own message).
    detail: Option<String>,
    /// With backend `auto` and WebGPU available: the timed steps that chose the device.
    race: Option<Race>,
}

/// One training step of the run's model timed on each device (ms, after warm-up steps).
#[derive(Serialize, Clone)]
struct Race {
    webgpu_ms: f64,
    cpu_ms: f64,
    steps: usize,
}

/// Untimed steps before a device is timed (the first ones compile the GPU's kernels), and the
/// timed steps.
const RACE_WARM_STEPS: usize = 2;
const RACE_STEPS: usize = 3;

/// The WebGPU device and its adapter's description, or why there is none.
type GpuInit = Result<(Device, BTreeMap<String, String>), String>;

#[derive(Default)]
struct State {
    /// The current data, its name, and how it was read.
    data: Option<(Dataset, String, LoadOptions)>,
    /// For AnnData and 10x data: the matrix read and how combinations were joined.
    format: Option<(String, Combination)>,
    /// The true sparse effects of the current data, when it is the simulated sample.
    truth: Option<MaskTruth>,
    session: Option<Session>,
    device: Option<Device>,
    /// The WebGPU device, initialised at most once per page (burn requires it).
    gpu: Option<GpuInit>,
    backend: BackendInfo,
    /// Milliseconds spent in training steps of the current run: the one clock of a run.
    elapsed_ms: f64,
    /// Races already run, by the data and settings they timed: seeds and repeated runs of the
    /// same settings do not time the devices again.
    races: BTreeMap<String, Race>,
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

    /// Builds the run `plan` describes on `device` over the current data (with the sample's
    /// true effects, if known). The previous run goes first, before this one's copy of the data
    /// is made, so two runs never share the engine's memory.
    fn replace_session(&mut self, plan: Planned, device: &Device) -> Result<&Session, WebError> {
        self.session = None;
        let ds = self.data.as_ref().ok_or(WebError::NoData)?.0.clone();
        let mut session = Session::build(ds, plan, device)?;
        if let Some(truth) = self.truth.clone() {
            session = session.with_truth(truth);
        }
        Ok(self.session.insert(session))
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
                    ..BackendInfo::default()
                }
            }
            (true, Some(Err(why))) => {
                st.device = Some(Device::flex().autodiff());
                BackendInfo {
                    backend: "cpu".into(),
                    adapter: None,
                    notice: Some(
                        "WebGPU is not available here: this browser offers no WebGPU graphics \
                         adapter, so the model trains on the CPU instead (slower on large \
                         panels)."
                            .into(),
                    ),
                    detail: Some(why),
                    race: None,
                }
            }
            _ => {
                st.device = Some(Device::flex().autodiff());
                BackendInfo {
                    backend: "cpu".into(),
                    ..BackendInfo::default()
                }
            }
        };
        st.session = None;
        st.backend = info.clone();
        Ok(to_js(&info)?)
    }

    /// With backend `auto` and WebGPU in use: times a few training steps of the started run's
    /// model on WebGPU and on the CPU, each on a copy of the run built for the purpose, and
    /// trains on the faster; the run itself starts fresh on the chosen device. Small panels are
    /// often faster on the CPU (every GPU kernel launch costs more than its arithmetic), so this
    /// is measured, not assumed. Returns the backend info with both figures.
    // Borrowed across the timed steps for the same reason as `step`.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn race_backends(&self) -> Result<JsValue, JsValue> {
        let state = self.state.clone();
        let mut st = state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        let Some(Ok((gpu, adapter))) = st.gpu.clone() else {
            return Ok(to_js(&st.backend)?);
        };
        if st.backend.backend != "webgpu" {
            return Ok(to_js(&st.backend)?);
        }
        let session = st.session.as_ref().ok_or(WebError::NoRun)?;
        let (name, cfg) = (session.source.clone(), session.cfg.clone());
        // The run was built from the engine's data: its copies time the devices.
        let ds = &st.data.as_ref().ok_or(WebError::NoData)?.0;
        let key = format!(
            "{}{}",
            ds.sha256,
            serde_json::to_string(cfg.settings()).unwrap_or_default()
        );
        let race = match st.races.get(&key) {
            Some(r) => Ok(r.clone()),
            None => {
                let gpu_ms = time_steps(ds, &name, &cfg, &gpu.autodiff()).await;
                match gpu_ms {
                    Ok(webgpu_ms) => {
                        let cpu_ms = time_steps(ds, &name, &cfg, &Device::flex().autodiff())
                            .await
                            .map_err(WebError::from)?;
                        let r = Race {
                            webgpu_ms,
                            cpu_ms,
                            steps: RACE_STEPS,
                        };
                        st.races.insert(key, r.clone());
                        Ok(r)
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        let adapter_name = adapter.get("name").cloned().unwrap_or_default();
        let info = match race {
            Ok(r) if r.webgpu_ms <= r.cpu_ms => BackendInfo {
                backend: "webgpu".into(),
                adapter: Some(adapter),
                race: Some(r),
                ..BackendInfo::default()
            },
            Ok(r) => BackendInfo {
                backend: "cpu".into(),
                adapter: None,
                notice: Some(format!(
                    "Backend auto: a training step of this model took {:.1} ms on WebGPU \
                     ({adapter_name}) and {:.1} ms on the CPU here, so it trains on the CPU.",
                    r.webgpu_ms, r.cpu_ms
                )),
                detail: None,
                race: Some(r),
            },
            Err(why) => BackendInfo {
                backend: "cpu".into(),
                adapter: None,
                notice: Some(
                    "Backend auto: WebGPU failed while a few training steps were timed on it, \
                     so the model trains on the CPU."
                        .into(),
                ),
                detail: Some(why),
                race: None,
            },
        };
        if info.backend == "cpu" {
            let cpu = Device::flex().autodiff();
            let ds = &st.data.as_ref().ok_or(WebError::NoData)?.0;
            let plan = Session::plan(ds, &name, cfg).map_err(WebError::from)?;
            st.replace_session(plan, &cpu)?;
            st.device = Some(cpu);
        }
        st.backend = info.clone();
        Ok(to_js(&info)?)
    }

    /// Checks the settings and prepares a run on the current data and device: seed `replicate`
    /// (0 when absent) of the `seeds` the settings ask for. The data settings are the ones the
    /// data was read with, so the results say how it was read. On the sample, the true sparse
    /// effects are attached for the mask figure.
    pub fn start(&self, settings: JsValue, replicate: Option<usize>) -> Result<JsValue, JsValue> {
        let mut settings = read_settings(settings)?;
        let mut st = self.state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        let Some((_, name, opts)) = st.data.as_ref() else {
            return Err(WebError::NoData.into());
        };
        let name = name.clone();
        settings.condition_column = opts.condition_column.clone();
        settings.control_label = opts.control_label.clone();
        settings.covariates = opts.covariates.clone();
        if let Some((layer, combination)) = st.format.clone() {
            settings.layer = layer;
            settings.combination = combination;
        }
        let cfg = settings.check().map_err(WebError::from)?;
        let (index, seeds) = (replicate.unwrap_or(0), cfg.settings().seeds);
        if index >= seeds {
            return Err(WebError::NoSuchSeed { index, seeds }.into());
        }
        let cfg = cfg.with_replicate(index);
        let notes = cfg.notes();
        let device = st
            .device
            .clone()
            .unwrap_or_else(|| Device::flex().autodiff());
        let plan = {
            let ds = &st.data.as_ref().ok_or(WebError::NoData)?.0;
            Session::plan(ds, &name, cfg).map_err(WebError::from)?
        };
        // The plan passed every check: the previous run can go now.
        let session = st.replace_session(plan, &device)?;
        #[derive(Serialize)]
        struct Started {
            train_cells: usize,
            val_cells: usize,
            test_cells: usize,
            genes: usize,
            epochs: usize,
            notes: Vec<String>,
            /// This run's seed (0-based) and model seed, of `seeds`.
            replicate: usize,
            model_seed: u64,
            seeds: usize,
        }
        let out = Started {
            replicate: index,
            model_seed: session.cfg.model_seed(),
            seeds,
            train_cells: session.split.train.len(),
            val_cells: session.split.val.len(),
            test_cells: session.split.test.len(),
            genes: session.prep.panel.len(),
            epochs: session.progress().budget,
            notes,
        };
        st.elapsed_ms = 0.0;
        Ok(to_js(&out)?)
    }

    /// Scores the baselines on the split these settings make, on the current data, before
    /// anything is trained: the scoreboard a model will have to beat. Runs on the CPU and
    /// leaves the current run alone. The results have no model row.
    pub async fn preview(&self, settings: JsValue) -> Result<JsValue, JsValue> {
        let mut settings = read_settings(settings)?;
        let (ds, name, truth) = {
            let st = self.state.try_borrow().map_err(|_| WebError::Busy)?;
            let Some((ds, name, opts)) = st.data.clone() else {
                return Err(WebError::NoData.into());
            };
            settings.condition_column = opts.condition_column;
            settings.control_label = opts.control_label;
            settings.covariates = opts.covariates;
            if let Some((layer, combination)) = st.format.clone() {
                settings.layer = layer;
                settings.combination = combination;
            }
            (ds, name, st.truth.clone())
        };
        let cfg = settings.check().map_err(WebError::from)?;
        let mut session =
            Session::new(ds, &name, cfg, &Device::flex().autodiff()).map_err(WebError::from)?;
        if let Some(t) = truth {
            session = session.with_truth(t);
        }
        let r = session.evaluate_baselines().await.map_err(WebError::from)?;
        Ok(to_js(&r)?)
    }

    /// Runs one epoch: `{record, diverged, epoch, budget, done, seconds}`. When the loss diverges,
    /// `record` is null, `diverged` says where, and the run is done (scored as it was before).
    // The state stays borrowed across the epoch on purpose: that borrow is the engine's busy
    // flag, so a call made while a step is in flight is refused (`Busy`) instead of racing it.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn step(&self) -> Result<JsValue, JsValue> {
        let state = self.state.clone();
        let mut st = state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        let t0 = js_sys::Date::now();
        let session = st.session.as_mut().ok_or(WebError::NoRun)?;
        let outcome = session.step().await;
        st.elapsed_ms += js_sys::Date::now() - t0;
        // A loss that is not finite ends the run, rolled back to its last good epoch: that
        // is a result to score, not a failure.
        let (record, diverged) = match outcome {
            Ok(record) => (Some(record), None),
            Err(RunError::Train(e @ TrainError::NonFinite { .. })) => (None, Some(e.to_string())),
            Err(e) => return Err(WebError::from(e).into()),
        };
        #[derive(Serialize)]
        struct Step {
            /// The epoch's loss terms; null when it diverged.
            record: Option<EpochRecord>,
            /// Why the run ended on a loss that was not finite.
            diverged: Option<String>,
            #[serde(flatten)]
            progress: Progress,
        }
        Ok(to_js(&Step {
            record,
            diverged,
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

    /// The model's provisional score as it is now (`{epoch, mean_shift_r, conditions, cells}`):
    /// mean-shift r on a fixed subsample of each held-out condition's controls, cheap enough to
    /// take every few epochs.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn provisional(&self) -> Result<JsValue, JsValue> {
        let state = self.state.clone();
        let st = state.try_borrow().map_err(|_| WebError::Busy)?;
        let session = st.session.as_ref().ok_or(WebError::NoRun)?;
        let score = session.provisional_score().await.map_err(WebError::from)?;
        Ok(to_js(&score)?)
    }

    /// The run's training state as bytes (see [`crate::checkpoint`]), read without blocking: the
    /// page keeps the last one of a WebGPU run to go on on the CPU if the GPU is lost.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn checkpoint(&self) -> Result<js_sys::Uint8Array, JsValue> {
        let state = self.state.clone();
        let st = state.try_borrow().map_err(|_| WebError::Busy)?;
        let session = st.session.as_ref().ok_or(WebError::NoRun)?;
        let cp = session
            .trainer
            .checkpoint()
            .await
            .map_err(|e| WebError::from(RunError::from(e)))?;
        Ok(js_sys::Uint8Array::from(cp.to_bytes().as_slice()))
    }

    /// Continues the run just started (`start`, same settings and data) from a checkpoint made
    /// on any backend, `seconds` of training already spent; returns the progress and the loss
    /// history so far (`{epoch, budget, done, seconds, history}`).
    pub fn restore(&self, bytes: &[u8], seconds: f64) -> Result<JsValue, JsValue> {
        let cp = Checkpoint::from_bytes(bytes).map_err(WebError::from)?;
        let mut st = self.state.try_borrow_mut().map_err(|_| WebError::Busy)?;
        let session = st.session.as_mut().ok_or(WebError::NoRun)?;
        session.trainer.restore(&cp).map_err(WebError::from)?;
        if seconds.is_finite() && seconds >= 0.0 {
            st.elapsed_ms = seconds * 1000.0;
        }
        #[derive(Serialize)]
        struct Restored {
            #[serde(flatten)]
            progress: Progress,
            history: Vec<EpochRecord>,
        }
        Ok(to_js(&Restored {
            progress: st.progress()?,
            history: cp.state.history,
        })?)
    }

    /// Scores the model as it is now (after Stop too) beside the baselines.
    ///
    /// `ate`, when given, is a promise of another engine's [`Engine::ate`] for this run (see
    /// [`crate::evaluate::AteElsewhere`]): it is awaited when the ATE is due, and if it fails
    /// or brings nothing the ATE is computed here.
    // Borrowed across scoring for the same reason as `step`.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn evaluate(&self, ate: Option<js_sys::Promise>) -> Result<JsValue, JsValue> {
        let state = self.state.clone();
        let st = state.try_borrow().map_err(|_| WebError::Busy)?;
        let session = st.session.as_ref().ok_or(WebError::NoRun)?;
        let backend = match &st.backend.adapter {
            Some(a) => format!("webgpu ({})", a.get("name").cloned().unwrap_or_default()),
            None => "flex (CPU, wasm)".to_string(),
        };
        scoring::reset();
        let pause = scoring::EventLoopPause::new();
        let seconds = st.elapsed_ms / 1000.0;
        let r: RunResults = match ate {
            Some(promise) => {
                let elsewhere = Box::pin(async move {
                    let value = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
                    let shared: SharedAte = serde_wasm_bindgen::from_value(value).ok()?;
                    Some(shared.ate)
                });
                session
                    .evaluate_sharing(seconds, &backend, &pause, elsewhere)
                    .await
            }
            None => session.evaluate_pausing(seconds, &backend, &pause).await,
        }
        .map_err(WebError::from)?;
        Ok(to_js(&r)?)
    }

    /// The model's ATE for [`Engine::evaluate`] in another engine, `{ate}` (null when no
    /// held-out condition has one). This engine's run must be started with the same data and
    /// settings, and restored from that run's checkpoint.
    #[allow(clippy::await_holding_refcell_ref)]
    pub async fn ate(&self) -> Result<JsValue, JsValue> {
        let state = self.state.clone();
        let st = state.try_borrow().map_err(|_| WebError::Busy)?;
        let session = st.session.as_ref().ok_or(WebError::NoRun)?;
        let ate = session
            .ate_scores(&session.plans())
            .await
            .map_err(WebError::from)?;
        Ok(to_js(&SharedAte { ate })?)
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

/// Milliseconds per training step of the run `cfg` describes on `device`, on a copy of the
/// run built for the purpose, after warm-up steps.
async fn time_steps(
    ds: &Dataset,
    name: &str,
    cfg: &crate::config::RunConfig,
    device: &Device,
) -> Result<f64, RunError> {
    let plan = Session::plan(ds, name, cfg.clone())?;
    let mut probe = Session::build(ds.clone(), plan, device)?;
    probe.trainer.probe(RACE_WARM_STEPS).await?;
    let t0 = js_sys::Date::now();
    probe.trainer.probe(RACE_STEPS).await?;
    Ok((js_sys::Date::now() - t0) / RACE_STEPS as f64)
}
