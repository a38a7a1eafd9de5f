//! A provisional score while a model trains: the mean-shift r of the model as it is now, on a
//! fixed subsample of each held-out condition's control pool, so the page can show where a run
//! is heading every few epochs at a small fraction of a full scoring's cost. It is marked
//! provisional and replaced by the full score when training ends.

use serde::Serialize;

use super::weighted_mean;
use crate::generate;
use crate::metrics;
use crate::pipeline::{RunError, Session};
use crate::rng::Rng;

/// Control cells decoded per held-out condition at most.
pub const PROVISIONAL_CELLS: usize = 256;

/// The model's mean-shift r on the subsample, pooled over the conditions it can predict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProvisionalScore {
    /// Epochs trained when it was taken.
    pub epoch: usize,
    /// None when no held-out condition can be predicted, or the shifts have no spread.
    pub mean_shift_r: Option<f64>,
    pub conditions: usize,
    /// Control cells decoded in all.
    pub cells: usize,
}

impl Session {
    /// See the module's doc. The same cells and the same noise every time, so two provisional
    /// scores of one run differ only by what the model learnt between them.
    pub async fn provisional_score(&self) -> Result<ProvisionalScore, RunError> {
        let model = self.trainer.model();
        let mut rng = Rng::derive(self.cfg.model_seed(), "provisional");
        let (mut truth, mut pred) = (Vec::new(), Vec::new());
        let (mut conditions, mut cells) = (0, 0);
        for plan in self.plans() {
            if self.unpredictable(&plan.label).is_some() || plan.pool.is_empty() {
                continue;
            }
            // Evenly spaced through the pool, so each covariate group keeps its share.
            let n = plan.pool.len().min(PROVISIONAL_CELLS);
            let at: Vec<usize> = (0..n).map(|i| i * plan.pool.len() / n).collect();
            let pool: Vec<usize> = at.iter().map(|&k| plan.pool[k]).collect();
            let total: f64 = at.iter().map(|&k| plan.weights[k]).sum();
            if total <= 0.0 {
                continue;
            }
            let weights: Vec<f64> = at.iter().map(|&k| plan.weights[k] / total).collect();
            let inputs = self.generation_inputs(&pool, &plan.label);
            let decoded = generate::predict(
                &model,
                &self.device,
                &inputs.sources(),
                self.cfg.settings().generation.mode(),
                &self.scale(),
                &mut rng,
                self.trainer.threads(),
            )
            .await?; // [pool cells, panel]
            let predicted = weighted_mean(&decoded, &weights);
            let observed = self.prep.lognorm.select_rows(&plan.test).col_means();
            for ((p, o), r) in predicted.iter().zip(&observed).zip(&plan.reference) {
                pred.push(p - r);
                truth.push(o - r);
            }
            conditions += 1;
            cells += n;
        }
        Ok(ProvisionalScore {
            epoch: self.trainer.epoch(),
            mean_shift_r: metrics::pearson(&truth, &pred),
            conditions,
            cells,
        })
    }
}
