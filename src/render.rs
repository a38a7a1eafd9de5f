//! Native scoreboard files (PNG, SVG) drawn with the shared `charts` code.
//!
//! Text is drawn with DejaVu Sans, embedded in the binary (see `assets/README.md`), so the
//! output does not depend on the fonts installed on the machine.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::register_font;

use crate::charts::{ChartError, Theme, draw_masks, draw_scoreboard};
use crate::results::{MaskFigure, RunResults};

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The pixel size the chart sizes are designed for at `scale = 1.0`.
const DESIGN_SIZE: (f64, f64) = (1000.0, 750.0);

/// Registers the embedded font as "sans-serif" (all styles fall back to it). Idempotent.
pub fn register_fonts() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The embedded font is a valid TrueType file; if it were not, drawing text reports
        // the missing font as a `ChartError`.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// The default theme with sizes scaled to a `width` × `height` image.
pub fn theme_for_size(width: u32, height: u32) -> Theme {
    let scale = (f64::from(width) / DESIGN_SIZE.0)
        .min(f64::from(height) / DESIGN_SIZE.1)
        .clamp(0.75, 8.0);
    Theme::scaled(scale)
}

fn check_size(width: u32, height: u32) -> Result<(), ChartError> {
    if width == 0 || height == 0 {
        return Err(ChartError::Draw(format!(
            "image size must be positive, got {width}×{height}"
        )));
    }
    Ok(())
}

fn draw_err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError::Draw(e.to_string())
}

/// Writes the scoreboard as an image; the format follows the file extension (`.png`).
pub fn scoreboard_png(
    results: &RunResults,
    path: &Path,
    width: u32,
    height: u32,
) -> Result<(), ChartError> {
    check_size(width, height)?;
    register_fonts();
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    draw_scoreboard(&root, results, &theme_for_size(width, height))?;
    root.present()
        .map_err(|e| ChartError::Draw(format!("writing {}: {e}", path.display())))
}

/// The scoreboard as raw 8-bit RGB pixels, row by row (`width * height * 3` bytes).
pub fn scoreboard_rgb(
    results: &RunResults,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, ChartError> {
    check_size(width, height)?;
    register_fonts();
    let len = (width as usize)
        .checked_mul(height as usize)
        .and_then(|n| n.checked_mul(3))
        .ok_or_else(|| ChartError::Draw(format!("image too large: {width}×{height}")))?;
    let mut buf = vec![0u8; len];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        draw_scoreboard(&root, results, &theme_for_size(width, height))?;
        root.present().map_err(draw_err)?;
    }
    Ok(buf)
}

/// The scoreboard as an SVG document.
pub fn scoreboard_svg_string(
    results: &RunResults,
    width: u32,
    height: u32,
) -> Result<String, ChartError> {
    check_size(width, height)?;
    register_fonts();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        draw_scoreboard(&root, results, &theme_for_size(width, height))?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// Writes the scoreboard as an SVG file (text is left to the viewer's "sans-serif" font).
pub fn scoreboard_svg(
    results: &RunResults,
    path: &Path,
    width: u32,
    height: u32,
) -> Result<(), ChartError> {
    let svg = scoreboard_svg_string(results, width, height)?;
    std::fs::write(path, svg)
        .map_err(|e| ChartError::Draw(format!("writing {}: {e}", path.display())))
}

/// Writes the mask heatmap as a PNG.
pub fn masks_png(fig: &MaskFigure, path: &Path, width: u32, height: u32) -> Result<(), ChartError> {
    check_size(width, height)?;
    register_fonts();
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    draw_masks(&root, fig, &theme_for_size(width, height))?;
    root.present()
        .map_err(|e| ChartError::Draw(format!("writing {}: {e}", path.display())))
}

/// Writes the mask heatmap as an SVG file.
pub fn masks_svg(fig: &MaskFigure, path: &Path, width: u32, height: u32) -> Result<(), ChartError> {
    check_size(width, height)?;
    register_fonts();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        draw_masks(&root, fig, &theme_for_size(width, height))?;
        root.present().map_err(draw_err)?;
    }
    std::fs::write(path, svg)
        .map_err(|e| ChartError::Draw(format!("writing {}: {e}", path.display())))
}
