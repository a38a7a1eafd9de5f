//! The mean-shift scatter: predicted against true shift per (condition, gene).

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::layout::{
    caption, chart_builder, finite_bounds, fmt_tick, in_range, message, padded_range, style_mesh,
    thousands,
};
use super::legend::LEGEND_MARK;
use super::scatter::{draw_points, draw_series_legend, point_look, quiet_corner};
use super::theme::Theme;
use super::{ChartError, draw_err};
use crate::results::ShiftFigure;

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

    let label = format!("(condition, gene) pairs, n = {}", thousands(points.len()));
    let look = point_look(points.len(), theme);
    draw_points(&mut chart, &points, look, theme.model, label, theme)?;
    draw_series_legend(&mut chart, quiet_corner(&points, &range, &range), theme)
}
