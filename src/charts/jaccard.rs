//! The top-K Jaccard bars: overlap of the most shifted genes with the truth, per predictor.

use std::collections::{BTreeMap, BTreeSet};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::layout::{
    caption, chart_builder, fmt_tick, integer_tick, message, plot_size, style_mesh,
};
use super::legend::{LegendEntry, Mark, legend_column};
use super::theme::{Theme, ordered_predictors};
use super::{ChartError, draw_err};
use crate::results::{JACCARD_KS, Scores};

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
