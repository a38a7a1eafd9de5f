//! The legend column beside a chart: a mark (bar swatch, line sample, ring) and a label per
//! entry.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::layout::fit_text;
use super::theme::Theme;
use super::{ChartError, draw_err};

#[derive(Debug, Clone, Copy)]
pub(super) enum Mark {
    Bar(RGBColor),
    Line {
        color: RGBColor,
        width: f64,
        dashed: bool,
    },
    Ring(RGBColor),
}

pub(super) struct LegendEntry {
    pub(super) label: String,
    pub(super) mark: Mark,
}

pub(super) const LEGEND_FONT: f64 = 12.0;
/// Width of a legend mark (line sample, bar swatch), before scaling.
pub(super) const LEGEND_MARK: f64 = 22.0;

/// Splits off a legend column on the right of `area`, sized to its labels (at most 42% of the
/// width), and draws the legend there. Returns the area left for the chart.
pub(super) fn legend_column<DB: DrawingBackend>(
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
