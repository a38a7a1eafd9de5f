//! The scoreboard: a title naming the data over the shift, Jaccard, PCA and training panels.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::layout::{page_title, thousands};
use super::theme::Theme;
use super::{
    ChartError, draw_err, draw_jaccard, draw_pca, draw_shift_scatter, draw_training_curves,
};
use crate::results::RunResults;

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

    let sub_size = 13.5;
    let sub_y = page_title(area, (&title, 20.0), (&data_line(results), sub_size), theme)?;
    let pad = theme.pxi(10.0);
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
