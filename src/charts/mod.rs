//! The scoreboard charts, drawn with plotters on any `DrawingBackend`.
//!
//! The same functions draw the native PNG/SVG files (`render`, feature `cli`) and the page's
//! HTML canvas. Nothing here needs a plotters font feature: the canvas draws text with the
//! browser's fonts, and the native writers register an embedded font before drawing.
//!
//! Every function accepts empty or degenerate inputs (no points, equal values, NaN, missing
//! metrics): axis ranges are padded and fall back to `[-1, 1]`, non-finite values are left out,
//! and an empty panel says what is missing instead of failing.
//!
//! One file per chart (`shift`, `jaccard`, `pca`, `curves`, `masks`, and `scoreboard`, which
//! puts the first four together), over the colours in `theme` and the shared pieces in
//! `layout` (ranges, tick labels, titles, captions, axes), `legend` (the legend column beside a
//! chart) and `scatter` (dots and their legend).

mod curves;
mod jaccard;
mod layout;
mod legend;
mod masks;
mod pca;
mod scatter;
mod scoreboard;
mod shift;
mod theme;

pub use curves::draw_training_curves;
pub use jaccard::draw_jaccard;
pub use masks::draw_masks;
pub use pca::draw_pca;
pub use scoreboard::draw_scoreboard;
pub use shift::draw_shift_scatter;
pub use theme::{Theme, ordered_predictors};

/// Baseline predictors, in the order they are listed (after the models).
pub use crate::baselines::ALL as BASELINES;

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("drawing failed: {0}")]
    Draw(String),
}

fn draw_err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError::Draw(e.to_string())
}
