//! The figures stored with the results: held-out and predicted cells in PCA space, and the
//! learned masks beside the true ones.

use super::FIGURE_MAX_POINTS;
use super::plans::ConditionPlan;
use crate::masks;
use crate::matrix::Matrix;
use crate::metrics::Pca;
use crate::pipeline::{RunError, Session};
use crate::results::{MaskFigure, PcaFigure};
use crate::tensor::read_matrix;

impl Session {
    /// Matched controls, held-out cells and the model's cells (`model_cells`) in the first two
    /// components of `pca`.
    pub(super) fn pca_figure(
        &self,
        plans: &[ConditionPlan],
        pca: &Pca,
        model_cells: &[Matrix],
    ) -> PcaFigure {
        let lognorm = &self.prep.lognorm;
        let mut controls: Vec<usize> = plans
            .iter()
            .flat_map(|p| p.sources.iter())
            .copied()
            .collect();
        controls.sort_unstable();
        controls.dedup();
        let tests: Vec<usize> = plans.iter().flat_map(|p| p.test.iter()).copied().collect();
        let refs: Vec<&Matrix> = model_cells.iter().collect();
        PcaFigure {
            model: self.cfg.model().name().to_string(),
            explained_variance_ratio: pca
                .explained_variance_ratio
                .iter()
                .take(2)
                .copied()
                .collect(),
            control: points(&pca.transform(&lognorm.select_rows(&controls))),
            truth: points(&pca.transform(&lognorm.select_rows(&tests))),
            predicted: if refs.is_empty() {
                Vec::new()
            } else {
                points(&pca.transform(&Matrix::vstack(&refs)))
            },
        }
    }

    /// The learned mask probabilities (treatments trained on only), beside the truth if known.
    pub async fn mask_figure(&self) -> Result<Option<MaskFigure>, RunError> {
        let model = self.trainer.model();
        let Some(probs) = model.mask_probs() else {
            return Ok(None);
        };
        let probs = read_matrix(probs).await?;
        let names = self.conditioning.names(&self.design);
        let keep: Vec<usize> = (0..names.len())
            .filter(|&t| self.n_obs.get(t).copied().unwrap_or(0) > 0)
            .collect();
        let perturbations: Vec<String> = keep.iter().map(|&t| names[t].clone()).collect();
        let rows: Vec<Vec<f64>> = keep
            .iter()
            .map(|&t| probs.row(t).iter().map(|&p| p as f64).collect())
            .collect();
        let truth: Option<Vec<Vec<f64>>> = self.truth.as_ref().and_then(|tr| {
            perturbations
                .iter()
                .map(|p| tr.effect_of(p))
                .collect::<Option<Vec<_>>>()
        });
        let truth_bin = |t: &Vec<Vec<f64>>| -> Vec<Vec<f64>> {
            t.iter()
                .map(|r| {
                    r.iter()
                        .map(|&v| if v != 0.0 { 1.0 } else { 0.0 })
                        .collect()
                })
                .collect()
        };
        let order = match &truth {
            Some(t) => masks::align_dims(&rows, t),
            None => (0..probs.cols).collect(),
        };
        Ok(Some(MaskFigure {
            model: self.cfg.model().name().to_string(),
            mean_active: masks::mean_active(&rows),
            true_mean_active: truth.as_ref().map(|t| masks::mean_active(&truth_bin(t))),
            overlap_spearman: truth
                .as_ref()
                .and_then(|t| masks::overlap_spearman(&rows, t)),
            perturbations,
            probs: rows,
            order,
            truth,
            masks_start_at: model.masks_start_at(),
        }))
    }
}

/// First two coordinates of at most FIGURE_MAX_POINTS evenly spaced rows.
fn points(m: &Matrix) -> Vec<[f32; 2]> {
    let step = m.rows.div_ceil(FIGURE_MAX_POINTS).max(1);
    (0..m.rows)
        .step_by(step)
        .map(|i| {
            [
                if m.cols > 0 { m.get(i, 0) } else { 0.0 },
                if m.cols > 1 { m.get(i, 1) } else { 0.0 },
            ]
        })
        .collect()
}
