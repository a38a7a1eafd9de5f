//! Pieces shared by the scatter charts (mean shift, PCA): dot size and opacity, the dot series,
//! and plotters' series legend, placed in the emptiest corner.

use std::ops::Range;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::legend::{LEGEND_FONT, LEGEND_MARK};
use super::theme::Theme;
use super::{ChartError, draw_err};

/// Marker radius and opacity for a scatter of `n` points: smaller and fainter as it gets denser.
pub(super) fn point_look(n: usize, theme: &Theme) -> (f64, f64) {
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

/// Draws `points` as dots of `color` with the radius and opacity of `look` (see `point_look`);
/// the series legend shows `label` beside an opaque dot.
pub(super) fn draw_points<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    points: &[(f64, f64)],
    (radius, alpha): (f64, f64),
    color: RGBColor,
    label: String,
    theme: &Theme,
) -> Result<(), ChartError> {
    let (mark, legend_radius) = (theme.pxi(LEGEND_MARK), theme.px(4.0));
    chart
        .draw_series(
            points
                .iter()
                .map(|&p| Circle::new(p, radius, color.mix(alpha).filled())),
        )
        .map_err(draw_err)?
        .label(label)
        .legend(move |(x, y)| Circle::new((x + mark / 2, y), legend_radius, color.filled()));
    Ok(())
}

/// The legend corner holding the fewest points.
pub(super) fn quiet_corner(
    points: &[(f64, f64)],
    x: &Range<f64>,
    y: &Range<f64>,
) -> SeriesLabelPosition {
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

/// Draws the legend of the labelled series of `chart` at `position`.
pub(super) fn draw_series_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    position: SeriesLabelPosition,
    theme: &Theme,
) -> Result<(), ChartError> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(theme.background.mix(0.88))
        .border_style(theme.grid)
        .label_font(theme.font(LEGEND_FONT))
        .margin(theme.pxi(8.0))
        .legend_area_size(theme.pxi(LEGEND_MARK + 8.0))
        .draw()
        .map_err(draw_err)
}
