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

mod charts;
mod engine;
mod settings;

pub use charts::{Comparison, LiveCurves, draw, scores_csv};
pub use engine::Engine;
pub use settings::{bundled_datasets, check_settings, settings_schema};

use serde::Serialize;
use thiserror::Error;
use wasm_bindgen::prelude::*;

use crate::charts::ChartError;
use crate::config::{SettingError, Settings};
use crate::data::DataError;
use crate::pipeline::RunError;
use crate::results::RunResults;
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
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    #[error("seed {index} of a run with {seeds} seed(s) does not exist")]
    NoSuchSeed { index: usize, seeds: usize },
    #[error(transparent)]
    Seeds(#[from] crate::seeds::SeedsError),
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
        // Setting a property on a fresh Error object cannot fail.
        if let Some(field) = e.field() {
            let _ =
                js_sys::Reflect::set(&err, &JsValue::from_str("field"), &JsValue::from_str(field));
        }
        if matches!(e, WebError::Run(RunError::Stopped(_))) {
            let _ = js_sys::Reflect::set(&err, &JsValue::from_str("stopped"), &JsValue::TRUE);
        }
        err.into()
    }
}

pub(crate) fn to_js<T: Serialize>(v: &T) -> Result<JsValue, WebError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| WebError::Convert(e.to_string()))
}

pub(crate) fn read_results(v: JsValue) -> Result<RunResults, WebError> {
    serde_wasm_bindgen::from_value(v).map_err(|e| WebError::Results(e.to_string()))
}

/// The results of a run's seeds (each as `Engine::evaluate` gave it) as one: the model's row
/// holds the means and `seeds` the intervals (see [`crate::seeds::combine`]).
#[wasm_bindgen]
pub fn combine_seeds(runs: JsValue) -> Result<JsValue, JsValue> {
    let runs: Vec<RunResults> =
        serde_wasm_bindgen::from_value(runs).map_err(|e| WebError::Results(e.to_string()))?;
    Ok(to_js(
        &crate::seeds::combine(runs).map_err(WebError::from)?,
    )?)
}

/// Settings from the page. They pass through JSON because serde-wasm-bindgen looks up only the
/// fields a struct knows, so a misspelt key would otherwise be ignored instead of refused.
pub(crate) fn read_settings(v: JsValue) -> Result<Settings, WebError> {
    let shape = |e: String| WebError::SettingsShape(e);
    let json: serde_json::Value =
        serde_wasm_bindgen::from_value(v).map_err(|e| shape(e.to_string()))?;
    serde_json::from_value(json).map_err(|e| shape(e.to_string()))
}
