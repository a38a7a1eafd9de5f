//! The training curves: train and validation loss terms per epoch.

use std::collections::BTreeSet;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::layout::{
    caption, chart_builder, finite_bounds, fmt_tick, integer_tick, message, padded_range,
    style_mesh,
};
use super::legend::{LegendEntry, Mark, legend_column};
use super::theme::Theme;
use super::{ChartError, draw_err};
use crate::results::EpochRecord;

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
