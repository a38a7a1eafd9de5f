//! Drawing on the page's canvases with the engine's plotters charts, the live loss curves, and
//! the models compared side by side.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use wasm_bindgen::prelude::*;

use super::{WebError, read_results, to_js};
use crate::charts::{self, ChartError, Theme};
use crate::comparison;
use crate::results::{EpochRecord, RunResults};

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

    /// Each compared model against the best baseline on every headline metric:
    /// `[{model, metrics: [{metric, model, baseline, baseline_value, beats}], sentence}]`.
    pub fn verdicts(&self) -> Result<JsValue, JsValue> {
        let merged = self.inner.merged().ok_or(WebError::NoRuns)?;
        let all: Vec<_> = self
            .inner
            .runs()
            .iter()
            .filter_map(|r| crate::verdict::verdict(&merged, r.model().name()))
            .collect();
        Ok(to_js(&all)?)
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
