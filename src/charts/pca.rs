//! The PCA scatter: control, true perturbed and predicted perturbed cells on PC1/PC2.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::layout::{
    caption, chart_builder, finite_bounds, fmt_tick, message, padded_range, percent, style_mesh,
    thousands,
};
use super::scatter::{draw_points, draw_series_legend, point_look, quiet_corner};
use super::theme::Theme;
use super::{ChartError, draw_err};
use crate::results::PcaFigure;

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
        let label = format!("{name} (n = {})", thousands(points.len()));
        draw_points(&mut chart, points, (radius, alpha), color, label, theme)?;
    }
    draw_series_legend(&mut chart, quiet_corner(&all, &x_range, &y_range), theme)
}
