//! The mask heatmaps: posterior mask probabilities per latent dim and perturbation, beside the
//! true effects when they are known.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::layout::{caption, fit_text, message, page_title};
use super::theme::Theme;
use super::{ChartError, draw_err};
use crate::results::MaskFigure;

/// Blend from white (0) to `to` (1).
fn shade(to: RGBColor, t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
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
            body.draw(&Rectangle::new([(x0, y0), (x1, y1)], cell(r, c).filled()))
                .map_err(draw_err)?;
            if let Some(v) = value(r, c).filter(|_| cw >= theme.px(26.0) && ch >= theme.px(14.0)) {
                let style = theme.font(10.0).pos(Pos::new(HPos::Center, VPos::Center));
                body.draw_text(&v, &style, ((x0 + x1) / 2, (y0 + y1) / 2))
                    .map_err(draw_err)?;
            }
        }
        let style = label.clone().pos(Pos::new(HPos::Right, VPos::Center));
        let shown = fit_text(&body, rl, &style, (left - theme.pxi(6.0)).max(0) as u32);
        body.draw_text(&shown, &style, (left - theme.pxi(5.0), (y0 + y1) / 2))
            .map_err(draw_err)?;
    }
    // Grid outline.
    body.draw(&Rectangle::new(
        [
            (left, top),
            (left + grid_w.round() as i32, top + grid_h.round() as i32),
        ],
        theme.axis.stroke_width(theme.stroke(1.0)),
    ))
    .map_err(draw_err)?;
    // Column labels, rotated so long perturbation names fit.
    let col_style = label
        .transform(FontTransform::Rotate90)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (c, cl) in col_labels.iter().enumerate() {
        let x = left + ((c as f64 + 0.5) * cw).round() as i32;
        let shown = fit_text(&body, cl, &label, (bottom - theme.pxi(6.0)).max(0) as u32);
        body.draw_text(
            &shown,
            &col_style,
            (x, top + grid_h.round() as i32 + theme.pxi(4.0)),
        )
        .map_err(draw_err)?;
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
    let title = format!("{} — posterior mask probabilities P(m = 1)", fig.model);
    let mut sub = format!(
        "{:.2} active latent dims per perturbation (P > 0.5)",
        fig.mean_active
    );
    if let Some(t) = fig.true_mean_active {
        sub += &format!(", truth {t:.2}");
    }
    if let Some(s) = fig.overlap_spearman {
        sub += &format!("; pairwise mask overlap vs truth: Spearman {s:.2}");
    }
    if let Some(e) = fig.masks_start_at {
        sub = format!("the masks start after epoch {e}: until then every mask is on");
    }
    let sub_y = page_title(area, (&title, 18.0), (&sub, 13.0), theme)?;
    let (_, body) = area.split_vertically(sub_y + theme.pxi(22.0));
    let body = body.margin(
        theme.pxi(4.0),
        theme.pxi(8.0),
        theme.pxi(8.0),
        theme.pxi(8.0),
    );
    let cols = fig.perturbations.clone();
    let order: Vec<usize> = if fig.order.is_empty() {
        (0..fig.probs.first().map_or(0, Vec::len)).collect()
    } else {
        fig.order.clone()
    };
    let rows: Vec<String> = order.iter().map(|k| format!("z{k}")).collect();
    let prob = |r: usize, c: usize| -> f64 {
        fig.probs
            .get(c)
            .and_then(|row| row.get(order[r]))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let learned_cell = |r: usize, c: usize| shade(theme.model, prob(r, c));
    let learned_value = |r: usize, c: usize| {
        let p = prob(r, c);
        (p.is_finite() && p >= 0.05).then(|| format!("{:.0}", p * 100.0))
    };
    match &fig.truth {
        Some(truth) => {
            let panels = body.split_evenly((1, 2));
            draw_heatmap(
                &panels[0],
                "learned (% probability)",
                &rows,
                &cols,
                &learned_cell,
                &learned_value,
                theme,
            )?;
            let lt = truth.first().map_or(0, Vec::len);
            let trows: Vec<String> = (0..lt).map(|k| format!("true {k}")).collect();
            let max_abs =
                truth.iter().flatten().fold(
                    0.0f64,
                    |m, v| if v.is_finite() { m.max(v.abs()) } else { m },
                );
            let effect = |r: usize, c: usize| {
                truth
                    .get(c)
                    .and_then(|row| row.get(r))
                    .copied()
                    .unwrap_or(0.0)
            };
            let truth_cell = |r: usize, c: usize| {
                let v = effect(r, c);
                let t = if max_abs > 0.0 {
                    v.abs() / max_abs
                } else {
                    0.0
                };
                shade(
                    if v < 0.0 {
                        theme.perturbation_mean
                    } else {
                        theme.additive
                    },
                    t,
                )
            };
            let truth_value = |r: usize, c: usize| {
                let v = effect(r, c);
                (v != 0.0 && v.is_finite()).then(|| format!("{v:+.1}"))
            };
            draw_heatmap(
                &panels[1],
                "truth (effect size)",
                &trows,
                &cols,
                &truth_cell,
                &truth_value,
                theme,
            )
        }
        None => draw_heatmap(
            &body,
            "learned (% probability)",
            &rows,
            &cols,
            &learned_cell,
            &learned_value,
            theme,
        ),
    }
}
