//! Predictions per held-out condition: the model decodes the seen controls under the
//! condition, each baseline moves them by the shift it declares, and every prediction is set
//! beside the held-out cells it stands for.

use std::collections::BTreeMap;

use super::plans::ConditionPlan;
use super::{ENERGY_MAX_POINTS, weighted_mean};
use crate::baselines::{self, BaselineContext};
use crate::generate::{self, Scale, Sources};
use crate::matrix::Matrix;
use crate::metrics;
use crate::model::Model;
use crate::pipeline::{RunError, Session};
use crate::rng::Rng;

/// Cells to compare with the truth (one per test cell) and the predicted mean shift.
enum Generated {
    Model(Matrix, Vec<f64>),
    Baseline(Matrix, Vec<f64>),
}

pub(super) struct Prediction {
    pub(super) true_shift: Vec<f64>,
    pub(super) pred_shift: Vec<f64>,
    pub(super) energy: Option<f64>,
}

/// A condition label and a predictor's prediction of it, or why there is none.
pub(super) type LabelledPrediction = (String, Result<Prediction, String>);

/// Every predictor's prediction per held-out condition.
pub(super) struct Predictions {
    /// Per predictor name, in plan order.
    pub(super) per: BTreeMap<String, Vec<LabelledPrediction>>,
    /// Why the model cannot predict a condition, per label.
    pub(super) unpredictable: BTreeMap<String, String>,
    /// The model's cells (one per test cell) of each condition it predicted, for the PCA figure.
    pub(super) model_cells: Vec<Matrix>,
}

impl Session {
    /// The model first, then the baselines that apply to these conditions and this split.
    fn predictor_names(&self, plans: &[ConditionPlan], with_model: bool) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        if with_model {
            names.push(self.cfg.model().name().to_string());
        }
        names.extend(
            [
                baselines::CONTROL_MEAN,
                baselines::PERTURBATION_MEAN,
                baselines::PERTURBED_MEAN,
            ]
            .map(String::from),
        );
        if plans
            .iter()
            .any(|p| self.design.members(&p.label).len() > 1)
        {
            names.push(baselines::ADDITIVE.into());
        }
        if self.group().is_some() {
            names.push(baselines::GROUP_SHIFT.into());
        }
        names
    }

    /// Predicts every condition with the model and each baseline; `pca` (fitted on true
    /// cells) places predicted and true cells for the energy distance.
    pub(super) async fn predict_conditions(
        &self,
        plans: &[ConditionPlan],
        pca: &metrics::Pca,
        with_model: bool,
    ) -> Result<Predictions, RunError> {
        let lognorm = &self.prep.lognorm;
        let model = self.trainer.model();
        let mut rng = Rng::derive(self.cfg.seed(), "generation");
        let seen = self.seen();
        let ctx = BaselineContext {
            ds: &self.ds,
            design: &self.design,
            lognorm,
            seen: &seen,
            group: self.group(),
        };
        let names = self.predictor_names(plans, with_model);
        let mut out = Predictions {
            per: BTreeMap::new(),
            unpredictable: BTreeMap::new(),
            model_cells: Vec::new(),
        };
        for plan in plans {
            let truth = lognorm.select_rows(&plan.test);
            let src = lognorm.select_rows(&plan.sources);
            let true_shift = metrics::mean_shift(&truth, &plan.reference);
            let true_pcs = pca.transform(&truth);
            for name in &names {
                let pred = if name == self.cfg.model().name() {
                    match self.unpredictable(&plan.label) {
                        Some(why) => {
                            out.unpredictable.insert(plan.label.clone(), why.clone());
                            Err(why)
                        }
                        None => {
                            let (cells, shift) = self.predict_model(&model, plan, &mut rng).await?;
                            out.model_cells.push(cells.clone());
                            Ok(Generated::Model(cells, shift))
                        }
                    }
                } else {
                    baseline_cells(&ctx, name, plan, &src)
                };
                // A baseline's shift is what it declares (exactly zero for control_mean); a
                // model's is measured on all the cells it generated from the reference pool.
                let scored = pred.map(|p| {
                    let (Generated::Model(cells, pred_shift)
                    | Generated::Baseline(cells, pred_shift)) = p;
                    let energy = metrics::energy_distance(
                        &true_pcs,
                        &pca.transform(&cells),
                        ENERGY_MAX_POINTS,
                    );
                    Prediction {
                        true_shift: true_shift.clone(),
                        pred_shift,
                        energy,
                    }
                });
                out.per
                    .entry(name.clone())
                    .or_default()
                    .push((plan.label.clone(), scored));
            }
        }
        Ok(out)
    }

    /// The model's cells for one condition (one per test cell, from its matched control) and
    /// its predicted mean shift from the reference.
    async fn predict_model(
        &self,
        model: &Model,
        plan: &ConditionPlan,
        rng: &mut Rng,
    ) -> Result<(Matrix, Vec<f64>), RunError> {
        // Every control of the involved groups is decoded, so the
        // predicted mean is weighted exactly like the reference.
        let x_std = self.prep.x_std.select_rows(&plan.pool);
        let own = self.encode(&plan.pool, None);
        let target = self.encode(&plan.pool, Some(&plan.label));
        let library: Vec<f32> = plan.pool.iter().map(|&i| self.prep.library[i]).collect();
        let sources = Sources {
            x_std: &x_std,
            own_condition: &own,
            target_condition: &target,
            library: &library,
        };
        let scale = Scale {
            mean: &self.prep.mean,
            sd: &self.prep.sd,
        };
        let decoded = generate::predict(
            model,
            &self.device,
            &sources,
            self.cfg.settings().generation.mode(),
            &scale,
            rng,
        )
        .await?;
        let mean = weighted_mean(&decoded, &plan.weights);
        let shift = mean
            .iter()
            .zip(&plan.reference)
            .map(|(a, b)| a - b)
            .collect();
        Ok((decoded.select_rows(&plan.matched), shift))
    }
}

/// A baseline's cells: the matched controls (`src`) moved by its predicted shift.
fn baseline_cells(
    ctx: &BaselineContext,
    name: &str,
    plan: &ConditionPlan,
    src: &Matrix,
) -> Result<Generated, String> {
    ctx.shift(name, &plan.label, &plan.reference).map(|shift| {
        let mut cells = src.clone();
        for i in 0..cells.rows {
            for (v, s) in cells.row_mut(i).iter_mut().zip(&shift) {
                *v += *s as f32;
            }
        }
        Generated::Baseline(cells, shift)
    })
}
