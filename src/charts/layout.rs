//! Shared pieces of the charts: axis ranges, tick and number formatting, captions, notes and
//! the axes around a plotting area.

use std::ops::Range;

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::theme::Theme;
use super::{ChartError, draw_err};

// ---------------------------------------------------------------------------------------------
// Ranges and formatting

/// Smallest and largest finite value, if any.
pub(super) fn finite_bounds(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
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
pub(super) fn padded_range(bounds: Option<(f64, f64)>, pad: f64) -> Range<f64> {
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

pub(super) fn in_range(r: &Range<f64>, v: f64) -> bool {
    v >= r.start && v <= r.end
}

/// Tick labels without float noise ("0.30000000000000004").
pub(super) fn fmt_tick(v: f64) -> String {
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
pub(super) fn integer_tick(v: f64) -> Option<i64> {
    let r = v.round();
    ((v - r).abs() < 1e-6 && r.abs() < 1e15).then_some(r as i64)
}

pub(super) fn thousands(n: usize) -> String {
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

pub(super) fn percent(ratio: Option<f64>) -> Option<String> {
    ratio
        .filter(|r| r.is_finite() && *r >= 0.0)
        .map(|r| format!("{:.1}%", r * 100.0))
}

// ---------------------------------------------------------------------------------------------
// Shared drawing pieces

/// Shortens `text` with an ellipsis until it fits `max_width` pixels.
pub(super) fn fit_text<DB: DrawingBackend>(
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
pub(super) fn caption<DB: DrawingBackend>(
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
pub(super) fn message<DB: DrawingBackend>(
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

/// Draws a page title with a muted subtitle under it, both at the top left of `area` and
/// shortened to fit its width. Returns the y of the top of the subtitle.
pub(super) fn page_title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (title, title_size): (&str, f64),
    (sub, sub_size): (&str, f64),
    theme: &Theme,
) -> Result<i32, ChartError> {
    let (w, _) = area.dim_in_pixel();
    let pad = theme.pxi(10.0);
    let max_w = w.saturating_sub(2 * pad.max(0) as u32);
    let title_style = theme.font(title_size).pos(Pos::new(HPos::Left, VPos::Top));
    let sub_style = theme
        .muted_font(sub_size)
        .pos(Pos::new(HPos::Left, VPos::Top));
    let sub_y = pad + theme.pxi(title_size + 8.0);
    let title = fit_text(area, title, &title_style, max_w);
    let sub = fit_text(area, sub, &sub_style, max_w);
    area.draw_text(&title, &title_style, (pad, pad))
        .map_err(draw_err)?;
    area.draw_text(&sub, &sub_style, (pad, sub_y))
        .map_err(draw_err)?;
    Ok(sub_y)
}

pub(super) fn style_mesh<'a, 'b, DB: DrawingBackend>(
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

pub(super) fn chart_builder<'a, 'b, DB: DrawingBackend>(
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
pub(super) fn plot_size<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
) -> (f64, f64) {
    let (w, h) = area.dim_in_pixel();
    let (top, right, bottom, left) = CHART_MARGIN;
    let w = f64::from(w) - theme.px(left + right + Y_LABEL_AREA);
    let h = f64::from(h) - theme.px(top + bottom + X_LABEL_AREA);
    (w.max(0.0), h.max(0.0))
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
}
