//! The scoreboard charts, drawn with plotters on any `DrawingBackend`.
//!
//! The same functions draw the native PNG/SVG files (`render`, feature `cli`) and the page's
//! HTML canvas. Nothing here needs a plotters font feature: the canvas draws text with the
//! browser's fonts, and the native writers register an embedded font before drawing.
//!
//! Every function accepts empty or degenerate inputs (no points, equal values, NaN, missing
//! metrics): axis ranges are padded and fall back to `[-1, 1]`, non-finite values are left out,
//! and an empty panel says what is missing instead of failing.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::results::{EpochRecord, JACCARD_KS, MaskFigure, PcaFigure, RunResults, Scores, ShiftFigure};

/// Baseline predictors, in the order they are listed (after the models).
pub const BASELINES: [&str; 5] = [
    "control_mean",
    "perturbation_mean",
    "perturbed_mean",
    "additive",
    "group_shift",
];

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("drawing failed: {0}")]
    Draw(String),
}

fn draw_err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError::Draw(e.to_string())
}

/// Colours, font and size multiplier of the charts.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub background: RGBColor,
    pub text: RGBColor,
    /// Secondary text: subtitles, notes, "n/a" marks.
    pub muted_text: RGBColor,
    pub grid: RGBColor,
    pub axis: RGBColor,
    /// The first model (the headline model on a single-model run).
    pub model: RGBColor,
    /// Further models, in turn.
    pub extra_models: Vec<RGBColor>,
    pub control_mean: RGBColor,
    pub perturbation_mean: RGBColor,
    pub perturbed_mean: RGBColor,
    pub additive: RGBColor,
    pub group_shift: RGBColor,
    /// Cells in the PCA panel.
    pub control_cells: RGBColor,
    pub truth_cells: RGBColor,
    pub predicted_cells: RGBColor,
    /// Training curves: the total loss, then the other loss terms in turn.
    pub total_loss: RGBColor,
    pub loss_terms: Vec<RGBColor>,
    pub font_family: String,
    /// Multiplier for font sizes, line widths and point sizes (e.g. the device-pixel ratio of a
    /// high-DPI canvas). Sizes in this module are given at `scale = 1.0`.
    pub scale: f64,
}

impl Default for Theme {
    fn default() -> Self {
        // Okabe-Ito colour-blind-safe palette, plus greys.
        Self {
            background: RGBColor(255, 255, 255),
            text: RGBColor(33, 33, 33),
            muted_text: RGBColor(110, 110, 110),
            grid: RGBColor(232, 232, 232),
            axis: RGBColor(120, 120, 120),
            model: RGBColor(0, 114, 178),
            extra_models: vec![
                RGBColor(213, 94, 0),
                RGBColor(117, 82, 160),
                RGBColor(20, 20, 20),
                RGBColor(140, 90, 40),
            ],
            control_mean: RGBColor(150, 150, 150),
            perturbation_mean: RGBColor(230, 159, 0),
            perturbed_mean: RGBColor(204, 121, 167),
            additive: RGBColor(0, 158, 115),
            group_shift: RGBColor(86, 180, 233),
            control_cells: RGBColor(165, 165, 165),
            truth_cells: RGBColor(230, 159, 0),
            predicted_cells: RGBColor(0, 114, 178),
            total_loss: RGBColor(33, 33, 33),
            loss_terms: vec![
                RGBColor(0, 114, 178),
                RGBColor(213, 94, 0),
                RGBColor(0, 158, 115),
                RGBColor(204, 121, 167),
                RGBColor(230, 159, 0),
                RGBColor(86, 180, 233),
            ],
            font_family: "sans-serif".to_string(),
            scale: 1.0,
        }
    }
}

impl Theme {
    /// The default theme with sizes multiplied by `scale`.
    pub fn scaled(scale: f64) -> Self {
        Self {
            scale,
            ..Self::default()
        }
    }

    fn factor(&self) -> f64 {
        if self.scale.is_finite() && self.scale > 0.0 {
            self.scale
        } else {
            1.0
        }
    }

    fn px(&self, size: f64) -> f64 {
        size * self.factor()
    }

    fn pxi(&self, size: f64) -> i32 {
        self.px(size).round() as i32
    }

    fn stroke(&self, size: f64) -> u32 {
        self.px(size).round().max(1.0) as u32
    }

    fn font(&self, size: f64) -> TextStyle<'_> {
        (self.font_family.as_str(), self.px(size))
            .into_font()
            .color(&self.text)
    }

    fn muted_font(&self, size: f64) -> TextStyle<'_> {
        (self.font_family.as_str(), self.px(size))
            .into_font()
            .color(&self.muted_text)
    }

    /// Colour of a predictor: baselines by name, models by their rank among the models.
    pub fn predictor_color(&self, name: &str, model_rank: usize) -> RGBColor {
        match name {
            "control_mean" => self.control_mean,
            "perturbation_mean" => self.perturbation_mean,
            "perturbed_mean" => self.perturbed_mean,
            "additive" => self.additive,
            "group_shift" => self.group_shift,
            _ if model_rank == 0 || self.extra_models.is_empty() => self.model,
            _ => self.extra_models[(model_rank - 1) % self.extra_models.len()],
        }
    }

    fn loss_color(&self, term: &str, rank: usize) -> RGBColor {
        if term == "loss" || self.loss_terms.is_empty() {
            self.total_loss
        } else {
            self.loss_terms[rank % self.loss_terms.len()]
        }
    }
}

/// Predictors in display order (models by name, then baselines in `BASELINES` order) with
/// their colours.
pub fn ordered_predictors<'a>(
    scores: &'a BTreeMap<String, Scores>,
    theme: &Theme,
) -> Vec<(&'a str, RGBColor)> {
    let mut out = Vec::with_capacity(scores.len());
    let models = scores
        .keys()
        .filter(|name| !BASELINES.contains(&name.as_str()));
    for (rank, name) in models.enumerate() {
        out.push((name.as_str(), theme.predictor_color(name, rank)));
    }
    for baseline in BASELINES {
        if let Some((name, _)) = scores.get_key_value(baseline) {
            out.push((name.as_str(), theme.predictor_color(name, 0)));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Ranges and formatting

/// Smallest and largest finite value, if any.
fn finite_bounds(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// An axis range around `bounds` padded by `pad` of its width; `[-1, 1]` when there is nothing
/// to show, and a small window around the value when all values are equal.
fn padded_range(bounds: Option<(f64, f64)>, pad: f64) -> Range<f64> {
    let Some((lo, hi)) = bounds else {
        return -1.0..1.0;
    };
    let width = hi - lo;
    let (lo, hi) = if !width.is_finite() {
        return -1.0..1.0;
    } else if width <= f64::EPSILON * lo.abs().max(hi.abs()).max(1e-300) {
        let mid = 0.5 * (lo + hi);
        let half = if mid.abs() > 1e-12 {
            mid.abs() * 0.1
        } else {
            1.0
        };
        (mid - half, mid + half)
    } else {
        (lo - width * pad, hi + width * pad)
    };
    if lo.is_finite() && hi.is_finite() && lo < hi {
        lo..hi
    } else {
        -1.0..1.0
    }
}

fn in_range(r: &Range<f64>, v: f64) -> bool {
    v >= r.start && v <= r.end
}

/// Tick labels without float noise ("0.30000000000000004").
fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if a < 1e-12 {
        "0".to_string()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".to_string()
        } else {
            s.to_string()
        }
    }
}

/// Integer tick labels only (epochs, categories); other ticks stay blank.
fn integer_tick(v: f64) -> Option<i64> {
    let r = v.round();
    ((v - r).abs() < 1e-6 && r.abs() < 1e15).then_some(r as i64)
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn percent(ratio: Option<f64>) -> Option<String> {
    ratio
        .filter(|r| r.is_finite() && *r >= 0.0)
        .map(|r| format!("{:.1}%", r * 100.0))
}

/// Marker radius and opacity for a scatter of `n` points: smaller and fainter as it gets denser.
fn point_look(n: usize, theme: &Theme) -> (f64, f64) {
    let n = n.max(1) as f64;
    let radius = if n > 5000.0 {
        1.6
    } else if n > 1000.0 {
        2.0
    } else if n > 200.0 {
        2.6
    } else {
        3.2
    };
    let alpha = (1.0 - 0.17 * n.log10()).clamp(0.2, 0.8);
    (theme.px(radius).max(1.0), alpha)
}

/// The legend corner holding the fewest points.
fn quiet_corner(points: &[(f64, f64)], x: &Range<f64>, y: &Range<f64>) -> SeriesLabelPosition {
    let (w, h) = (x.end - x.start, y.end - y.start);
    let left = |p: &(f64, f64)| p.0 <= x.start + 0.45 * w;
    let right = |p: &(f64, f64)| p.0 >= x.end - 0.45 * w;
    let top = |p: &(f64, f64)| p.1 >= y.end - 0.3 * h;
    let bottom = |p: &(f64, f64)| p.1 <= y.start + 0.3 * h;
    let count = |f: &dyn Fn(&(f64, f64)) -> bool| points.iter().filter(|p| f(p)).count();
    let candidates = [
        (count(&|p| left(p) && top(p)), 0),
        (count(&|p| right(p) && top(p)), 1),
        (count(&|p| right(p) && bottom(p)), 2),
        (count(&|p| left(p) && bottom(p)), 3),
    ];
    let best = candidates
        .iter()
        .min_by_key(|(n, order)| (*n, *order))
        .map_or(0, |(_, order)| *order);
    match best {
        1 => SeriesLabelPosition::UpperRight,
        2 => SeriesLabelPosition::LowerRight,
        3 => SeriesLabelPosition::LowerLeft,
        _ => SeriesLabelPosition::UpperLeft,
    }
}

// ---------------------------------------------------------------------------------------------
// Shared drawing pieces

/// Shortens `text` with an ellipsis until it fits `max_width` pixels.
fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max_width: u32,
) -> String {
    let fits = |s: &str| {
        area.estimate_text_size(s, style)
            .map(|(w, _)| w <= max_width)
            .unwrap_or(true)
    };
    if fits(text) {
        return text.to_string();
    }
    // Binary search on the number of characters kept: text measuring can be costly (the
    // browser lays out each measured string).
    let chars: Vec<char> = text.chars().collect();
    let shortened = |keep: usize| {
        chars[..keep]
            .iter()
            .collect::<String>()
            .trim_end()
            .to_string()
            + "…"
    };
    let (mut lo, mut hi) = (0, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(&shortened(mid)) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    if lo == 0 && !fits("…") {
        String::new()
    } else {
        shortened(lo)
    }
}

/// Draws a panel caption at the top of `area` and returns the area below it.
fn caption<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    theme: &Theme,
) -> Result<DrawingArea<DB, Shift>, ChartError> {
    let size = 15.0;
    let (w, _) = area.dim_in_pixel();
    let pad = theme.pxi(5.0);
    let style = theme.font(size).pos(Pos::new(HPos::Center, VPos::Top));
    let shown = fit_text(
        area,
        text,
        &style,
        w.saturating_sub(theme.pxi(8.0).max(0) as u32),
    );
    area.draw_text(&shown, &style, (w as i32 / 2, pad))
        .map_err(draw_err)?;
    let (_, rest) = area.split_vertically(pad * 2 + theme.pxi(size));
    Ok(rest)
}

/// A centred note in an otherwise empty panel.
fn message<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    theme: &Theme,
) -> Result<(), ChartError> {
    let (w, h) = area.dim_in_pixel();
    let style = theme
        .muted_font(14.0)
        .pos(Pos::new(HPos::Center, VPos::Center));
    let shown = fit_text(area, text, &style, w);
    area.draw_text(&shown, &style, (w as i32 / 2, h as i32 / 2))
        .map_err(draw_err)
}

fn style_mesh<'a, 'b, DB: DrawingBackend>(
    mesh: &mut MeshStyle<'a, 'b, RangedCoordf64, RangedCoordf64, DB>,
    theme: &'b Theme,
) {
    mesh.bold_line_style(theme.grid.stroke_width(theme.stroke(1.0)))
        .light_line_style(TRANSPARENT)
        .axis_style(theme.axis.stroke_width(theme.stroke(1.0)))
        .label_style(theme.font(12.0))
        .axis_desc_style(theme.font(13.0))
        .set_all_tick_mark_size(theme.pxi(4.0))
        .x_labels(7)
        .y_labels(7);
}

// Chart layout around the plotting area, before scaling: margins (top, right, bottom, left)
// and the sizes of the tick-label areas.
const CHART_MARGIN: (f64, f64, f64, f64) = (6.0, 14.0, 4.0, 4.0);
const X_LABEL_AREA: f64 = 44.0;
const Y_LABEL_AREA: f64 = 62.0;

fn chart_builder<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    theme: &Theme,
) -> ChartBuilder<'a, 'b, DB> {
    let (top, right, bottom, left) = CHART_MARGIN;
    let mut builder = ChartBuilder::on(area);
    builder
        .margin_top(theme.pxi(top))
        .margin_right(theme.pxi(right))
        .margin_bottom(theme.pxi(bottom))
        .margin_left(theme.pxi(left))
        .x_label_area_size(theme.pxi(X_LABEL_AREA))
        .y_label_area_size(theme.pxi(Y_LABEL_AREA));
    builder
}

/// Pixel size of the plotting area `chart_builder` leaves in `area`.
fn plot_size<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, theme: &Theme) -> (f64, f64) {
    let (w, h) = area.dim_in_pixel();
    let (top, right, bottom, left) = CHART_MARGIN;
    let w = f64::from(w) - theme.px(left + right + Y_LABEL_AREA);
    let h = f64::from(h) - theme.px(top + bottom + X_LABEL_AREA);
    (w.max(0.0), h.max(0.0))
}

#[derive(Debug, Clone, Copy)]
enum Mark {
    Bar(RGBColor),
    Line {
        color: RGBColor,
        width: f64,
        dashed: bool,
    },
    Ring(RGBColor),
}

struct LegendEntry {
    label: String,
    mark: Mark,
}

const LEGEND_FONT: f64 = 12.0;
/// Width of a legend mark (line sample, bar swatch), before scaling.
const LEGEND_MARK: f64 = 22.0;

/// Splits off a legend column on the right of `area`, sized to its labels (at most 42% of the
/// width), and draws the legend there. Returns the area left for the chart.
fn legend_column<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    theme: &Theme,
) -> Result<DrawingArea<DB, Shift>, ChartError> {
    if entries.is_empty() {
        return Ok(area.clone());
    }
    let (w, _) = area.dim_in_pixel();
    let style = theme.font(LEGEND_FONT);
    let widest = entries
        .iter()
        .map(|e| {
            area.estimate_text_size(&e.label, &style)
                .map(|(tw, _)| tw)
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0);
    let mark_w = theme.px(LEGEND_MARK);
    let gap = theme.px(6.0);
    let wanted = f64::from(widest) + mark_w + gap * 3.0;
    let width = wanted.min(f64::from(w) * 0.42).max(0.0).round() as i32;
    let (chart, legend) = area.split_horizontally(w as i32 - width);
    draw_legend(&legend, entries, theme)?;
    Ok(chart)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    theme: &Theme,
) -> Result<(), ChartError> {
    let (w, h) = area.dim_in_pixel();
    let line_h = theme.px(LEGEND_FONT * 1.75);
    let mark_w = theme.px(LEGEND_MARK);
    let gap = theme.px(6.0);
    let x0 = gap;
    let text_x = (x0 + mark_w + gap).round() as i32;
    let style = theme
        .font(LEGEND_FONT)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let max_text = (w as i32 - text_x).max(0) as u32;
    let mut y = theme.px(14.0) + line_h * 0.5;
    for entry in entries {
        if y + line_h * 0.5 > f64::from(h) {
            break;
        }
        let yi = y.round() as i32;
        let (xa, xb) = (x0.round() as i32, (x0 + mark_w).round() as i32);
        match entry.mark {
            Mark::Bar(color) => {
                let half = theme.pxi(5.5);
                let inset = theme.pxi(4.0);
                area.draw(&Rectangle::new(
                    [(xa + inset, yi - half), (xb - inset, yi + half)],
                    color.filled(),
                ))
                .map_err(draw_err)?;
            }
            Mark::Line {
                color,
                width,
                dashed,
            } => {
                let style = color.stroke_width(theme.stroke(width));
                if dashed {
                    area.draw(&DashedPathElement::new(
                        vec![(xa, yi), (xb, yi)],
                        theme.px(5.0),
                        theme.px(3.0),
                        style,
                    ))
                } else {
                    area.draw(&PathElement::new(vec![(xa, yi), (xb, yi)], style))
                }
                .map_err(draw_err)?;
            }
            Mark::Ring(color) => {
                area.draw(&Circle::new(
                    ((xa + xb) / 2, yi),
                    theme.px(4.5),
                    color.stroke_width(theme.stroke(2.0)),
                ))
                .map_err(draw_err)?;
            }
        }
        let label = fit_text(area, &entry.label, &style, max_text);
        area.draw_text(&label, &style, (text_x, yi))
            .map_err(draw_err)?;
        y += line_h;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Panels

/// Predicted against true mean shift per (condition, gene), with the y = x diagonal.
pub fn draw_shift_scatter<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &ShiftFigure,
    theme: &Theme,
) -> Result<(), ChartError> {
    let r = match fig.r {
        Some(r) if r.is_finite() => format!("r = {r:.2}"),
        _ => "r undefined".to_string(),
    };
    let title = if fig.model.is_empty() {
        format!("Mean shift vs control, {r}")
    } else {
        format!("Mean shift vs control — {}, {r}", fig.model)
    };
    let body = caption(area, &title, theme)?;

    let points: Vec<(f64, f64)> = fig
        .true_shift
        .iter()
        .zip(&fig.pred_shift)
        .map(|(&t, &p)| (t, p))
        .filter(|(t, p)| t.is_finite() && p.is_finite())
        .collect();
    if points.is_empty() {
        return message(&body, "no mean shifts to show", theme);
    }
    // One range for both axes, so the diagonal is the diagonal.
    let range = padded_range(
        finite_bounds(points.iter().flat_map(|&(t, p)| [t, p])),
        0.05,
    );

    let mut chart = chart_builder(&body, theme)
        .build_cartesian_2d(range.clone(), range.clone())
        .map_err(draw_err)?;
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh, theme);
    mesh.x_desc("true shift (Δ mean vs control)")
        .y_desc("predicted shift (Δ mean vs control)")
        .x_label_formatter(&|v| fmt_tick(*v))
        .y_label_formatter(&|v| fmt_tick(*v))
        .draw()
        .map_err(draw_err)?;

    if in_range(&range, 0.0) {
        let zero = theme.axis.mix(0.35).stroke_width(theme.stroke(1.0));
        for line in [
            vec![(range.start, 0.0), (range.end, 0.0)],
            vec![(0.0, range.start), (0.0, range.end)],
        ] {
            chart
                .draw_series(std::iter::once(PathElement::new(line, zero)))
                .map_err(draw_err)?;
        }
    }

    let diagonal = theme.muted_text.stroke_width(theme.stroke(1.5));
    let mark = theme.pxi(LEGEND_MARK);
    let (dash, space) = (theme.px(6.0), theme.px(4.0));
    chart
        .draw_series(DashedLineSeries::new(
            [(range.start, range.start), (range.end, range.end)],
            dash,
            space,
            diagonal,
        ))
        .map_err(draw_err)?
        .label("y = x")
        .legend(move |(x, y)| {
            DashedPathElement::new(vec![(x, y), (x + mark, y)], dash, space, diagonal)
        });

    let (radius, alpha) = point_look(points.len(), theme);
    let legend_radius = theme.px(4.0);
    let color = theme.model;
    chart
        .draw_series(
            points
                .iter()
                .map(|&p| Circle::new(p, radius, color.mix(alpha).filled())),
        )
        .map_err(draw_err)?
        .label(format!(
            "(condition, gene) pairs, n = {}",
            thousands(points.len())
        ))
        .legend(move |(x, y)| Circle::new((x + mark / 2, y), legend_radius, color.filled()));

    chart
        .configure_series_labels()
        .position(quiet_corner(&points, &range, &range))
        .background_style(theme.background.mix(0.88))
        .border_style(theme.grid)
        .label_font(theme.font(LEGEND_FONT))
        .margin(theme.pxi(8.0))
        .legend_area_size(theme.pxi(LEGEND_MARK + 8.0))
        .draw()
        .map_err(draw_err)
}

/// Top-K Jaccard overlap with the truth, grouped by K, one bar per predictor (pooled scores).
pub fn draw_jaccard<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scores: &BTreeMap<String, Scores>,
    theme: &Theme,
) -> Result<(), ChartError> {
    let body = caption(
        area,
        "Top-K shifted genes: overlap with truth (Jaccard)",
        theme,
    )?;
    let predictors = ordered_predictors(scores, theme);
    if predictors.is_empty() {
        return message(&body, "no scores", theme);
    }

    // K values: the standard ones, plus any other numeric keys present.
    let mut ks: BTreeSet<usize> = JACCARD_KS.into_iter().collect();
    for s in scores.values() {
        ks.extend(
            s.pooled
                .jaccard
                .keys()
                .filter_map(|k| k.parse::<usize>().ok()),
        );
    }
    let ks: Vec<usize> = ks.into_iter().collect();

    let values: Vec<Vec<Option<f64>>> = predictors
        .iter()
        .map(|(name, _)| {
            let pooled = scores.get(*name).map(|s| &s.pooled);
            ks.iter()
                .map(|k| {
                    pooled
                        .and_then(|p| p.jaccard.get(&k.to_string()).copied().flatten())
                        .filter(|v| v.is_finite())
                })
                .collect()
        })
        .collect();

    let entries: Vec<LegendEntry> = predictors
        .iter()
        .zip(&values)
        .map(|((name, color), vals)| {
            let missing: Vec<String> = ks
                .iter()
                .zip(vals)
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| k.to_string())
                .collect();
            let label = if missing.is_empty() {
                (*name).to_string()
            } else if missing.len() == ks.len() {
                format!("{name} (n/a)")
            } else {
                format!("{name} (n/a at K = {})", missing.join(", "))
            };
            LegendEntry {
                label,
                mark: Mark::Bar(*color),
            }
        })
        .collect();
    let plot = legend_column(&body, &entries, theme)?;

    let groups = ks.len();
    let n = predictors.len() as f64;
    let slot = 0.84 / n;

    // Bar values are printed above the bars, horizontally when they fit the bar width,
    // otherwise upright; they are left out when bars are thinner than the text height.
    let (plot_w, plot_h) = plot_size(&plot, theme);
    let bar_px = plot_w / groups as f64 * slot * 0.88;
    let value_font = 10.5;
    let (label_w, label_h) = plot
        .estimate_text_size("0.00", &theme.font(value_font))
        .map_or((f64::INFINITY, f64::INFINITY), |(w, h)| {
            (f64::from(w), f64::from(h))
        });
    let (value_style, label_room) = if label_w + theme.px(2.0) <= bar_px {
        let style = theme
            .font(value_font)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        (Some(style), label_h + theme.px(4.0))
    } else if label_h <= bar_px {
        let style = theme
            .font(value_font)
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Left, VPos::Center));
        (Some(style), label_w + theme.px(6.0))
    } else {
        (None, 0.0)
    };
    let room = if plot_h > 0.0 {
        (label_room / plot_h).clamp(0.0, 0.5)
    } else {
        0.0
    };
    let top = values.iter().flatten().flatten().copied().reduce(f64::max);
    // The full [0, 1] scale when nothing is defined.
    let y_max = top.map_or(1.0, |t| {
        ((t.max(0.0) / (1.0 - room) * 1.03 * 10.0).ceil() / 10.0).clamp(0.1, 1.0)
    });
    let x_range = -0.5..(groups as f64 - 0.5);

    let mut chart = chart_builder(&plot, theme)
        .build_cartesian_2d(x_range, 0.0..y_max)
        .map_err(draw_err)?;
    let x_label = |v: &f64| {
        integer_tick(*v)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| ks.get(i))
            .map_or_else(String::new, |k| format!("K = {k}"))
    };
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh, theme);
    mesh.disable_x_mesh()
        .x_labels(groups + 1)
        .x_label_formatter(&x_label)
        .y_label_formatter(&|v| fmt_tick(*v))
        .x_desc("top-K genes by |mean shift|")
        .y_desc("Jaccard index")
        .draw()
        .map_err(draw_err)?;

    let na_style = theme
        .muted_font(10.0)
        .transform(FontTransform::Rotate270)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let na_fits = bar_px >= theme.px(11.0);
    let gap = theme.px(3.0) / plot_h.max(1.0) * y_max;
    for (pi, ((_, color), vals)) in predictors.iter().zip(&values).enumerate() {
        let color = *color;
        let centre = |g: usize| g as f64 - 0.42 + (pi as f64 + 0.5) * slot;
        let bars = vals.iter().enumerate().filter_map(|(g, v)| {
            let x0 = centre(g) - slot * 0.44;
            let x1 = centre(g) + slot * 0.44;
            v.map(|v| Rectangle::new([(x0, 0.0), (x1, v.clamp(0.0, y_max))], color.filled()))
        });
        chart.draw_series(bars).map_err(draw_err)?;
        if let Some(style) = &value_style {
            let labels = vals.iter().enumerate().filter_map(|(g, v)| {
                let v = (*v)?;
                let y = v.clamp(0.0, y_max) + gap;
                // Only where the label stays inside the plot.
                (y + label_room / plot_h.max(1.0) * y_max <= y_max * 1.001)
                    .then(|| Text::new(format!("{v:.2}"), (centre(g), y), style.clone()))
            });
            chart.draw_series(labels).map_err(draw_err)?;
        }
        if na_fits {
            let marks = vals
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_none())
                .map(|(g, _)| Text::new("n/a", (centre(g), gap), na_style.clone()));
            chart.draw_series(marks).map_err(draw_err)?;
        }
    }
    Ok(())
}

/// Cells on the first two principal components: control, true perturbed and predicted perturbed.
pub fn draw_pca<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &PcaFigure,
    theme: &Theme,
) -> Result<(), ChartError> {
    let body = caption(area, "Cells on PC1/PC2 (fitted on true cells)", theme)?;
    let finite = |pts: &[[f32; 2]]| -> Vec<(f64, f64)> {
        pts.iter()
            .map(|p| (f64::from(p[0]), f64::from(p[1])))
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect()
    };
    let control = finite(&fig.control);
    let truth = finite(&fig.truth);
    let predicted = finite(&fig.predicted);
    let all: Vec<(f64, f64)> = control
        .iter()
        .chain(&truth)
        .chain(&predicted)
        .copied()
        .collect();
    if all.is_empty() {
        return message(&body, "no cells to show", theme);
    }
    let x_range = padded_range(finite_bounds(all.iter().map(|p| p.0)), 0.05);
    let y_range = padded_range(finite_bounds(all.iter().map(|p| p.1)), 0.05);
    let axis_label = |i: usize| {
        let pc = format!("PC{}", i + 1);
        match percent(fig.explained_variance_ratio.get(i).copied()) {
            Some(p) => format!("{pc} ({p})"),
            None => pc,
        }
    };

    let mut chart = chart_builder(&body, theme)
        .build_cartesian_2d(x_range.clone(), y_range.clone())
        .map_err(draw_err)?;
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh, theme);
    mesh.x_desc(axis_label(0))
        .y_desc(axis_label(1))
        .x_label_formatter(&|v| fmt_tick(*v))
        .y_label_formatter(&|v| fmt_tick(*v))
        .draw()
        .map_err(draw_err)?;

    let (radius, alpha) = point_look(all.len(), theme);
    let (mark, legend_radius) = (theme.pxi(LEGEND_MARK), theme.px(4.0));
    let predicted_name = if fig.model.is_empty() {
        "predicted perturbed".to_string()
    } else {
        format!("predicted perturbed — {}", fig.model)
    };
    let sets = [
        (
            &control,
            theme.control_cells,
            (alpha * 0.8).max(0.2),
            "control",
        ),
        (&truth, theme.truth_cells, alpha, "true perturbed"),
        (
            &predicted,
            theme.predicted_cells,
            alpha,
            predicted_name.as_str(),
        ),
    ];
    for (points, color, alpha, name) in sets {
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, radius, color.mix(alpha).filled())),
            )
            .map_err(draw_err)?
            .label(format!("{name} (n = {})", thousands(points.len())))
            .legend(move |(x, y)| Circle::new((x + mark / 2, y), legend_radius, color.filled()));
    }

    chart
        .configure_series_labels()
        .position(quiet_corner(&all, &x_range, &y_range))
        .background_style(theme.background.mix(0.88))
        .border_style(theme.grid)
        .label_font(theme.font(LEGEND_FONT))
        .margin(theme.pxi(8.0))
        .legend_area_size(theme.pxi(LEGEND_MARK + 8.0))
        .draw()
        .map_err(draw_err)
}

/// Consecutive runs of finite points.
fn finite_segments(points: &[(f64, Option<f64>)]) -> Vec<Vec<(f64, f64)>> {
    let mut segments = Vec::new();
    let mut current = Vec::new();
    for &(x, y) in points {
        match y.filter(|v| v.is_finite()) {
            Some(y) if x.is_finite() => current.push((x, y)),
            _ => {
                if !current.is_empty() {
                    segments.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}

/// Train (solid) and validation (dashed) loss per epoch: the total loss (`loss`) thick, the
/// other terms thin, and the epoch of the lowest validation loss marked.
pub fn draw_training_curves<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    history: &[EpochRecord],
    theme: &Theme,
) -> Result<(), ChartError> {
    let body = caption(area, "Training curves (loss per cell)", theme)?;
    let mut records: Vec<&EpochRecord> = history.iter().collect();
    records.sort_by_key(|r| r.epoch);

    // "loss" first, then the other terms by name.
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for r in &records {
        names.extend(r.train.keys().map(String::as_str));
        names.extend(r.val.keys().map(String::as_str));
    }
    let mut terms: Vec<&str> = Vec::with_capacity(names.len());
    if names.remove("loss") {
        terms.push("loss");
    }
    terms.extend(names);

    let series = |term: &str, val: bool| -> Vec<(f64, Option<f64>)> {
        records
            .iter()
            .map(|r| {
                let map = if val { &r.val } else { &r.train };
                (r.epoch as f64, map.get(term).copied())
            })
            .collect()
    };
    // (term, colour, width, is val, segments)
    let mut lines = Vec::new();
    let mut rank = 0;
    for term in &terms {
        let color = theme.loss_color(term, rank);
        if *term != "loss" {
            rank += 1;
        }
        let width = if *term == "loss" { 2.6 } else { 1.4 };
        for val in [false, true] {
            let segments = finite_segments(&series(term, val));
            if !segments.is_empty() {
                lines.push((*term, color, width, val, segments));
            }
        }
    }
    if lines.is_empty() {
        return message(&body, "no training history", theme);
    }

    let best = records
        .iter()
        .filter_map(|r| {
            r.val
                .get("loss")
                .copied()
                .filter(|v| v.is_finite())
                .map(|v| (r.epoch, v))
        })
        .fold(None, |acc: Option<(usize, f64)>, (e, v)| match acc {
            Some((_, bv)) if bv <= v => acc,
            _ => Some((e, v)),
        });

    let mut entries: Vec<LegendEntry> = lines
        .iter()
        .map(|(term, color, width, val, _)| LegendEntry {
            label: format!("{term} · {}", if *val { "val" } else { "train" }),
            mark: Mark::Line {
                color: *color,
                width: *width,
                dashed: *val,
            },
        })
        .collect();
    if let Some((epoch, _)) = best {
        entries.push(LegendEntry {
            label: format!("lowest val loss (epoch {epoch})"),
            mark: Mark::Ring(theme.total_loss),
        });
    }
    let plot = legend_column(&body, &entries, theme)?;

    let epochs = finite_bounds(records.iter().map(|r| r.epoch as f64));
    let x_range = match epochs {
        Some((lo, hi)) if hi > lo => lo..hi,
        Some((lo, _)) => (lo - 0.5)..(lo + 0.5),
        None => -1.0..1.0,
    };
    let span = (x_range.end - x_range.start).round().max(1.0) as usize;
    let y_range = padded_range(
        finite_bounds(lines.iter().flat_map(|l| l.4.iter().flatten().map(|p| p.1))),
        0.06,
    );

    let mut chart = chart_builder(&plot, theme)
        .build_cartesian_2d(x_range, y_range)
        .map_err(draw_err)?;
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh, theme);
    mesh.x_labels((span + 1).min(8))
        .x_label_formatter(&|v| integer_tick(*v).map_or_else(String::new, |e| e.to_string()))
        .y_label_formatter(&|v| fmt_tick(*v))
        .x_desc("epoch")
        .y_desc("loss per cell")
        .draw()
        .map_err(draw_err)?;

    // Thin lines first, so the total loss stays on top.
    lines.sort_by(|a, b| a.2.total_cmp(&b.2));
    let (dash, space) = (theme.px(7.0), theme.px(4.0));
    for (_, color, width, val, segments) in &lines {
        let style = color.stroke_width(theme.stroke(*width));
        for segment in segments {
            if segment.len() == 1 {
                chart
                    .draw_series(std::iter::once(Circle::new(
                        segment[0],
                        theme.px(*width + 1.5),
                        color.filled(),
                    )))
                    .map_err(draw_err)?;
            } else if *val {
                chart
                    .draw_series(DashedLineSeries::new(
                        segment.iter().copied(),
                        dash,
                        space,
                        style,
                    ))
                    .map_err(draw_err)?;
            } else {
                chart
                    .draw_series(LineSeries::new(segment.iter().copied(), style))
                    .map_err(draw_err)?;
            }
        }
    }
    if let Some((epoch, v)) = best {
        chart
            .draw_series(std::iter::once(Circle::new(
                (epoch as f64, v),
                theme.px(6.0),
                theme.total_loss.stroke_width(theme.stroke(2.0)),
            )))
            .map_err(draw_err)?;
    }
    Ok(())
}

/// The one-line description of the data under the scoreboard title.
fn data_line(results: &RunResults) -> String {
    let d = &results.data;
    let s = &results.split;
    let mut parts = vec![
        format!(
            "{} cells × {} genes",
            thousands(d.cells),
            thousands(d.genes)
        ),
        format!(
            "split by {}: {} train / {} val / {} test cells",
            s.kind,
            thousands(s.train_cells),
            thousands(s.val_cells),
            thousands(s.test_cells)
        ),
    ];
    if !s.test_conditions.is_empty() {
        let n = s.test_conditions.len();
        parts.push(format!(
            "{n} test condition{}",
            if n == 1 { "" } else { "s" }
        ));
    }
    let t = &results.train;
    if t.epochs > 0 {
        let mut training = format!("{} epoch{}", t.epochs, if t.epochs == 1 { "" } else { "s" });
        if t.stopped_early {
            training.push_str(" (stopped early)");
        }
        if !t.backend.is_empty() {
            training.push_str(&format!(" on {}", t.backend));
        }
        parts.push(training);
    }
    parts.join("  ·  ")
}

/// Blend from white (0) to `to` (1).
fn shade(to: RGBColor, t: f64) -> RGBColor {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let mix = |c: u8| (255.0 + (c as f64 - 255.0) * t).round() as u8;
    RGBColor(mix(to.0), mix(to.1), mix(to.2))
}

/// One heatmap: rows are latent dims, columns perturbations; `cell(dim_row, col)` gives the
/// fill colour. Returns nothing to draw if the grid is empty.
#[allow(clippy::too_many_arguments)]
fn draw_heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    row_labels: &[String],
    col_labels: &[String],
    cell: &dyn Fn(usize, usize) -> RGBColor,
    value: &dyn Fn(usize, usize) -> Option<String>,
    theme: &Theme,
) -> Result<(), ChartError> {
    let body = caption(area, title, theme)?;
    if row_labels.is_empty() || col_labels.is_empty() {
        return message(&body, "no masks to show", theme);
    }
    let (w, h) = body.dim_in_pixel();
    let left = theme.pxi(58.0);
    let bottom = theme.pxi(70.0);
    let top = theme.pxi(4.0);
    let right = theme.pxi(6.0);
    let grid_w = (w as i32 - left - right).max(1) as f64;
    let grid_h = (h as i32 - top - bottom).max(1) as f64;
    let cw = grid_w / col_labels.len() as f64;
    let ch = grid_h / row_labels.len() as f64;
    let label = theme.font(11.0);
    for (r, rl) in row_labels.iter().enumerate() {
        let y0 = top + (r as f64 * ch).round() as i32;
        let y1 = top + ((r + 1) as f64 * ch).round() as i32;
        for c in 0..col_labels.len() {
            let x0 = left + (c as f64 * cw).round() as i32;
            let x1 = left + ((c + 1) as f64 * cw).round() as i32;
            body.draw(&Rectangle::new([(x0, y0), (x1, y1)], cell(r, c).filled())).map_err(draw_err)?;
            if let Some(v) = value(r, c).filter(|_| cw >= theme.px(26.0) && ch >= theme.px(14.0)) {
                let style = theme.font(10.0).pos(Pos::new(HPos::Center, VPos::Center));
                body.draw_text(&v, &style, ((x0 + x1) / 2, (y0 + y1) / 2)).map_err(draw_err)?;
            }
        }
        let style = label.clone().pos(Pos::new(HPos::Right, VPos::Center));
        let shown = fit_text(&body, rl, &style, (left - theme.pxi(6.0)).max(0) as u32);
        body.draw_text(&shown, &style, (left - theme.pxi(5.0), (y0 + y1) / 2)).map_err(draw_err)?;
    }
    // Grid outline.
    body.draw(&Rectangle::new(
        [(left, top), (left + grid_w.round() as i32, top + grid_h.round() as i32)],
        theme.axis.stroke_width(theme.stroke(1.0)),
    ))
    .map_err(draw_err)?;
    // Column labels, rotated so long perturbation names fit.
    let col_style = label.transform(FontTransform::Rotate90).pos(Pos::new(HPos::Left, VPos::Center));
    for (c, cl) in col_labels.iter().enumerate() {
        let x = left + ((c as f64 + 0.5) * cw).round() as i32;
        let shown = fit_text(&body, cl, &label, (bottom - theme.pxi(6.0)).max(0) as u32);
        body.draw_text(&shown, &col_style, (x, top + grid_h.round() as i32 + theme.pxi(4.0))).map_err(draw_err)?;
    }
    Ok(())
}

/// Posterior mask probabilities as a heatmap (rows: latent dims, columns: perturbations), with
/// the true sparse effects beside it when they are known. Learned dims are listed in
/// `fig.order`, which lines them up with the true dims where a truth was given.
pub fn draw_masks<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &MaskFigure,
    theme: &Theme,
) -> Result<(), ChartError> {
    area.fill(&theme.background).map_err(draw_err)?;
    let (w, _) = area.dim_in_pixel();
    let pad = theme.pxi(10.0);
    let title_style = theme.font(18.0).pos(Pos::new(HPos::Left, VPos::Top));
    let sub_style = theme.muted_font(13.0).pos(Pos::new(HPos::Left, VPos::Top));
    let max_w = w.saturating_sub(2 * pad.max(0) as u32);
    let title = format!("{} — posterior mask probabilities P(m = 1)", fig.model);
    let mut sub = format!("{:.2} active latent dims per perturbation (P > 0.5)", fig.mean_active);
    if let Some(t) = fig.true_mean_active {
        sub += &format!(", truth {t:.2}");
    }
    if let Some(s) = fig.overlap_spearman {
        sub += &format!("; pairwise mask overlap vs truth: Spearman {s:.2}");
    }
    if let Some(e) = fig.masks_start_at {
        sub = format!("the masks start after epoch {e}: until then every mask is on");
    }
    area.draw_text(&fit_text(area, &title, &title_style, max_w), &title_style, (pad, pad)).map_err(draw_err)?;
    let sub_y = pad + theme.pxi(26.0);
    area.draw_text(&fit_text(area, &sub, &sub_style, max_w), &sub_style, (pad, sub_y)).map_err(draw_err)?;
    let (_, body) = area.split_vertically(sub_y + theme.pxi(22.0));
    let body = body.margin(theme.pxi(4.0), theme.pxi(8.0), theme.pxi(8.0), theme.pxi(8.0));
    let cols = fig.perturbations.clone();
    let order: Vec<usize> = if fig.order.is_empty() {
        (0..fig.probs.first().map_or(0, Vec::len)).collect()
    } else {
        fig.order.clone()
    };
    let rows: Vec<String> = order.iter().map(|k| format!("z{k}")).collect();
    let prob = |r: usize, c: usize| -> f64 { fig.probs.get(c).and_then(|row| row.get(order[r])).copied().unwrap_or(f64::NAN) };
    let learned_cell = |r: usize, c: usize| shade(theme.model, prob(r, c));
    let learned_value = |r: usize, c: usize| {
        let p = prob(r, c);
        (p.is_finite() && p >= 0.05).then(|| format!("{:.0}", p * 100.0))
    };
    match &fig.truth {
        Some(truth) => {
            let panels = body.split_evenly((1, 2));
            draw_heatmap(&panels[0], "learned (% probability)", &rows, &cols, &learned_cell, &learned_value, theme)?;
            let lt = truth.first().map_or(0, Vec::len);
            let trows: Vec<String> = (0..lt).map(|k| format!("true {k}")).collect();
            let max_abs = truth.iter().flatten().fold(0.0f64, |m, v| if v.is_finite() { m.max(v.abs()) } else { m });
            let effect = |r: usize, c: usize| truth.get(c).and_then(|row| row.get(r)).copied().unwrap_or(0.0);
            let truth_cell = |r: usize, c: usize| {
                let v = effect(r, c);
                let t = if max_abs > 0.0 { v.abs() / max_abs } else { 0.0 };
                shade(if v < 0.0 { theme.perturbation_mean } else { theme.additive }, t)
            };
            let truth_value = |r: usize, c: usize| {
                let v = effect(r, c);
                (v != 0.0 && v.is_finite()).then(|| format!("{v:+.1}"))
            };
            draw_heatmap(&panels[1], "truth (effect size)", &trows, &cols, &truth_cell, &truth_value, theme)
        }
        None => draw_heatmap(&body, "learned (% probability)", &rows, &cols, &learned_cell, &learned_value, theme),
    }
}

/// The four panels in a 2×2 grid under a title naming the data.
pub fn draw_scoreboard<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    results: &RunResults,
    theme: &Theme,
) -> Result<(), ChartError> {
    area.fill(&theme.background).map_err(draw_err)?;
    let (w, _) = area.dim_in_pixel();

    let source = results
        .data
        .source
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let model = &results.figures.shift.model;
    let mut title = "cellshift scoreboard".to_string();
    if !source.is_empty() {
        title.push_str(" — ");
        title.push_str(source);
    }
    if !model.is_empty() {
        title.push_str(&format!(" — model {model}"));
    }

    let pad = theme.pxi(10.0);
    let title_size = 20.0;
    let sub_size = 13.5;
    let max_w = w.saturating_sub(2 * pad.max(0) as u32);
    let title_style = theme.font(title_size).pos(Pos::new(HPos::Left, VPos::Top));
    let sub_style = theme
        .muted_font(sub_size)
        .pos(Pos::new(HPos::Left, VPos::Top));
    let title = fit_text(area, &title, &title_style, max_w);
    let sub = fit_text(area, &data_line(results), &sub_style, max_w);
    let title_y = theme.pxi(10.0);
    let sub_y = title_y + theme.pxi(title_size + 8.0);
    area.draw_text(&title, &title_style, (pad, title_y))
        .map_err(draw_err)?;
    area.draw_text(&sub, &sub_style, (pad, sub_y))
        .map_err(draw_err)?;
    let header = sub_y + theme.pxi(sub_size + 10.0);
    area.draw(&PathElement::new(
        vec![(pad, header), (w as i32 - pad, header)],
        theme.grid.stroke_width(theme.stroke(1.0)),
    ))
    .map_err(draw_err)?;

    let (_, body) = area.split_vertically(header + theme.pxi(4.0));
    let body = body.margin(0, theme.pxi(4.0), theme.pxi(6.0), theme.pxi(6.0));
    let panels = body.split_evenly((2, 2));
    let inner = |i: usize| {
        panels
            .get(i)
            .map(|p| {
                p.margin(
                    theme.pxi(6.0),
                    theme.pxi(6.0),
                    theme.pxi(6.0),
                    theme.pxi(6.0),
                )
            })
            .ok_or_else(|| ChartError::Draw("panel grid".to_string()))
    };
    draw_shift_scatter(&inner(0)?, &results.figures.shift, theme)?;
    draw_jaccard(&inner(1)?, &results.scores, theme)?;
    draw_pca(&inner(2)?, &results.figures.pca, theme)?;
    draw_training_curves(&inner(3)?, &results.train.history, theme)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_robust() {
        assert_eq!(padded_range(None, 0.05), -1.0..1.0);
        assert_eq!(padded_range(Some((0.0, 0.0)), 0.05), -1.0..1.0);
        let r = padded_range(Some((5.0, 5.0)), 0.05);
        assert!(r.start < 5.0 && r.end > 5.0);
        assert_eq!(padded_range(Some((f64::MIN, f64::MAX)), 0.05), -1.0..1.0);
        assert_eq!(
            finite_bounds([f64::NAN, 2.0, -1.0, f64::INFINITY]),
            Some((-1.0, 2.0))
        );
        assert_eq!(finite_bounds([f64::NAN]), None);
    }

    #[test]
    fn formatting() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(fmt_tick(0.30000000000000004), "0.3");
        assert_eq!(fmt_tick(-0.0), "0");
        assert_eq!(fmt_tick(2.0), "2");
        assert_eq!(integer_tick(3.0000000001), Some(3));
        assert_eq!(integer_tick(2.5), None);
        assert_eq!(percent(Some(0.4567)).as_deref(), Some("45.7%"));
        assert_eq!(percent(Some(f64::NAN)), None);
    }

    #[test]
    fn predictor_order_models_first() {
        let mut scores = BTreeMap::new();
        for name in ["additive", "cvae", "control_mean", "sams_vae"] {
            scores.insert(name.to_string(), Scores::default());
        }
        let theme = Theme::default();
        let names: Vec<&str> = ordered_predictors(&scores, &theme)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["cvae", "sams_vae", "control_mean", "additive"]);
    }
}
