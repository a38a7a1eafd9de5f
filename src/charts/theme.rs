//! Colours, font and sizes of the charts.

use std::collections::BTreeMap;

use plotters::prelude::*;

use super::BASELINES;
use crate::results::Scores;

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
    pub linear: RGBColor,
    pub matching_mean: RGBColor,
    /// The split-half noise ceiling: what a perfect model could reach.
    pub ceiling: RGBColor,
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
            linear: RGBColor(166, 118, 29),
            matching_mean: RGBColor(231, 41, 138),
            ceiling: RGBColor(150, 150, 150),
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

    pub(super) fn px(&self, size: f64) -> f64 {
        size * self.factor()
    }

    pub(super) fn pxi(&self, size: f64) -> i32 {
        self.px(size).round() as i32
    }

    pub(super) fn stroke(&self, size: f64) -> u32 {
        self.px(size).round().max(1.0) as u32
    }

    pub(super) fn font(&self, size: f64) -> TextStyle<'_> {
        (self.font_family.as_str(), self.px(size))
            .into_font()
            .color(&self.text)
    }

    pub(super) fn muted_font(&self, size: f64) -> TextStyle<'_> {
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
            "linear" => self.linear,
            "matching_mean" => self.matching_mean,
            "ceiling" => self.ceiling,
            _ if model_rank == 0 || self.extra_models.is_empty() => self.model,
            _ => self.extra_models[(model_rank - 1) % self.extra_models.len()],
        }
    }

    pub(super) fn loss_color(&self, term: &str, rank: usize) -> RGBColor {
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

#[cfg(test)]
mod tests {
    use super::*;

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
