//! The settings table for the page: it builds its form, defaults, per-model visibility, link
//! keys and error placement from it, and checks what the user types with the engine's rules.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::{WebError, read_settings, to_js};
use crate::config::{
    Bounds, Choice, Estimate, Kind, MEMORY_LIMIT, Room, SCHEMA, Settings, Shape, Spec, Uses,
};

/// One setting as the page sees it: the table entry, its default and the models that read it.
#[derive(Serialize)]
struct SettingView {
    key: &'static str,
    flag: &'static str,
    label: &'static str,
    help: &'static str,
    room: Room,
    kind: Kind,
    bounds: Bounds,
    choices: &'static [Choice],
    /// Model names, or null: every model.
    models: Option<Vec<&'static str>>,
    advanced: bool,
    default: serde_json::Value,
}

fn view(spec: &Spec, defaults: &serde_json::Value) -> SettingView {
    let models = match spec.uses {
        Uses::All => None,
        Uses::Only(list) => Some(list.iter().map(|m| m.name()).collect()),
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

/// The datasets that ship with the page: `{name, title, description, citation, file, settings}`
/// each, where `file` is under `assets/` and `settings` are the dataset's task, flat like the
/// page's (data columns and holdout over the defaults).
#[wasm_bindgen]
pub fn bundled_datasets() -> Result<JsValue, JsValue> {
    #[derive(Serialize)]
    struct View {
        name: &'static str,
        title: &'static str,
        description: &'static str,
        citation: &'static str,
        file: &'static str,
        settings: Settings,
    }
    let views: Vec<View> = crate::datasets::ALL
        .iter()
        .map(|d| View {
            name: d.name,
            title: d.title,
            description: d.description,
            citation: d.citation,
            file: d.file,
            settings: d.settings(),
        })
        .collect();
    Ok(to_js(&views)?)
}

/// What a run of these settings on data of this `shape` (the data summary's `shape`) will
/// cost: `{memory_bytes, work, default_work, ratio, limit_bytes, fits}`, `ratio` being its work
/// over the default settings' on the same data. The page asks before it autoruns a link whose
/// ratio is high, and says when a run cannot fit.
#[wasm_bindgen]
pub fn estimate_run(settings: JsValue, shape: JsValue) -> Result<JsValue, JsValue> {
    let settings = read_settings(settings)?;
    let shape: Shape =
        serde_wasm_bindgen::from_value(shape).map_err(|e| WebError::Convert(e.to_string()))?;
    let e = Estimate::of(&settings, &shape);
    let default_work = Estimate::of(&Settings::default(), &shape).work();
    #[derive(Serialize)]
    struct Cost {
        memory_bytes: f64,
        work: f64,
        default_work: f64,
        ratio: f64,
        limit_bytes: f64,
        fits: bool,
    }
    Ok(to_js(&Cost {
        memory_bytes: e.memory_bytes,
        work: e.work(),
        default_work,
        ratio: e.work() / default_work.max(1.0),
        limit_bytes: MEMORY_LIMIT,
        fits: e.fits(),
    })?)
}
