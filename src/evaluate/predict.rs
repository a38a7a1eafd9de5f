//! Predictions per held-out condition: the model decodes the seen controls under the
//! condition, each baseline moves them by the shift it declares, half of the held-out cells
//! stand in for the other half (the noise ceiling), and every prediction is scored against the
//! held-out cells it stands for.

use std::collections::BTreeMap;

use super::plans::ConditionPlan;
use super::truth::{ConditionTruth, Prediction, Shared};
use super::weighted_mean;
use crate::baselines::{self, BaselineContext};
use crate::generate::{self, Scale, Sources};
use crate::matrix::Matrix;
use crate::metrics::{self, RankReference};
use crate::model::Model;
use crate::pause::Pause;
use crate::pipeline::{RunError, Session};
use crate::rng::Rng;
use crate::shards::run_shards;

/// One predictor's row for one held-out condition: the true profile it is told apart from
/// the others by, and its scored prediction or why there is none.
pub(super) struct Row {
    pub(super) label: String,
    /// The mean profile of the true cells (for the ceiling: of the half it predicts).
    pub(super) truth_profile: Vec<f64>,
    pub(super) pred: Result<Prediction, String>,
}

/// Every predictor's prediction per held-out condition.
pub(super) struct Predictions {
    /// Per predictor name, in plan order.
    pub(super) per: BTreeMap<String, Vec<Row>>,
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
                baselines::LINEAR,
            ]
            .map(String::from),
        );
        if plans
            .iter()
            .any(|p| self.design.members(&p.label).len() > 1)
        {
            names.push(baselines::ADDITIVE.into());
            names.push(baselines::MATCHING_MEAN.into());
        }
        if self.group().is_some() {
            names.push(baselines::GROUP_SHIFT.into());
        }
        names
    }

    /// Predicts every condition with the model, each baseline and the ceiling, and scores each
    /// prediction; `pca` (fitted on true cells) places predicted and true cells for the energy
    /// distances.
    pub(super) async fn predict_conditions(
        &self,
        plans: &[ConditionPlan],
        pca: &metrics::Pca,
        with_model: bool,
        pause: &dyn Pause,
    ) -> Result<Predictions, RunError> {
        let lognorm = &self.prep.lognorm;
        let model = self.trainer.model();
        let mut rng = Rng::derive(self.cfg.model_seed(), "generation");
        let mut halves = Rng::derive(self.cfg.seed(), "ceiling");
        let seen = self.seen();
        let ctx = BaselineContext::new(&self.ds, &self.design, lognorm, &seen, self.group());
        let centroid = ctx.perturbed_centroid();
        let shared = Shared {
            pca,
            centroid: centroid.as_deref(),
        };
        let names = self.predictor_names(plans, with_model);
        let mut out = Predictions {
            per: BTreeMap::new(),
            unpredictable: BTreeMap::new(),
            model_cells: Vec::new(),
        };
        // The reference controls of each pool, ranked once for the Wilcoxon tests.
        let mut ranked: BTreeMap<&[usize], RankReference> = BTreeMap::new();
        for plan in plans {
            pause.pause().await?;
            let controls: &RankReference = ranked
                .entry(plan.pool.as_slice())
                .or_insert_with(|| RankReference::new(&lognorm.select_rows(&plan.pool)));
            let src = lognorm.select_rows(&plan.sources);
            let control_pcs = pca.transform(&src);
            let truth = ConditionTruth::new(
                &lognorm.select_rows(&plan.test),
                &plan.reference,
                &control_pcs,
                controls,
                &shared,
            );
            let model_name = self.cfg.model().name();
            // None when the model is not among the predictors (the baselines alone).
            let model_pred = if names.iter().any(|n| n == model_name) {
                Some(match self.unpredictable(&plan.label) {
                    Some(why) => {
                        out.unpredictable.insert(plan.label.clone(), why.clone());
                        Err(why)
                    }
                    None => {
                        let (cells, shift) = self.predict_model(&model, plan, &mut rng).await?;
                        out.model_cells.push(cells.clone());
                        Ok((cells, shift))
                    }
                })
            } else {
                None
            };
            // Each predictor is scored on its own (a DE test, PCA, energy distances): natively
            // they share the run's threads, with the same results on any number.
            // A baseline's shift is what it declares (exactly zero for control_mean); a
            // model's is measured on all the cells it generated from the reference pool.
            let scored = run_shards(names.len(), self.trainer.threads(), |i| {
                let name = &names[i];
                match &model_pred {
                    Some(pred) if name == model_name => pred
                        .as_ref()
                        .map(|(cells, shift)| truth.score(cells, shift.clone(), controls, &shared))
                        .map_err(Clone::clone),
                    _ => baseline_cells(&ctx, name, plan, &src)
                        .map(|(cells, shift)| truth.score(&cells, shift, controls, &shared)),
                }
            });
            for (name, pred) in names.iter().zip(scored) {
                out.per.entry(name.clone()).or_default().push(Row {
                    label: plan.label.clone(),
                    truth_profile: truth.profile.clone(),
                    pred,
                });
            }
            let ceiling = ceiling_row(plan, lognorm, &control_pcs, controls, &shared, &mut halves);
            out.per
                .entry(baselines::CEILING.to_string())
                .or_default()
                .push(ceiling);
        }
        Ok(out)
    }

    /// The model's draws under the condition for every control of its pool, in pool order
    /// (counts for the negative binomial). Scoring and the `.h5ad` export both take them from
    /// here, on the same stream, so the export holds the cells that were scored.
    pub(super) async fn pool_draws(
        &self,
        model: &Model,
        plan: &ConditionPlan,
        rng: &mut Rng,
    ) -> Result<Matrix, RunError> {
        let inputs = self.generation_inputs(&plan.pool, &plan.label);
        Ok(generate::predict_draws(
            model,
            &self.device,
            &inputs.sources(),
            self.cfg.settings().generation.mode(),
            &self.scale(),
            rng,
            self.trainer.threads(),
        )
        .await?)
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
        let draws = self.pool_draws(model, plan, rng).await?;
        let decoded = generate::log_normalized(model.likelihood(), draws, self.trainer.threads());
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
) -> Result<(Matrix, Vec<f64>), String> {
    ctx.shift(name, &plan.label, &plan.reference).map(|shift| {
        let mut cells = src.clone();
        for i in 0..cells.rows {
            for (v, s) in cells.row_mut(i).iter_mut().zip(&shift) {
                *v += *s as f32;
            }
        }
        (cells, shift)
    })
}

/// The noise ceiling of one condition: its held-out cells shuffled (by `rng`) and split in
/// two, the first ⌊n/2⌋ predicting the other ⌈n/2⌉ with every metric (their mean shift
/// against the same reference, their cells as the predicted cells). A condition with a
/// single held-out cell has no ceiling.
fn ceiling_row(
    plan: &ConditionPlan,
    lognorm: &Matrix,
    control_pcs: &Matrix,
    controls: &RankReference,
    shared: &Shared,
    rng: &mut Rng,
) -> Row {
    let mut cells = plan.test.clone();
    rng.shuffle(&mut cells);
    let (pred, truth) = cells.split_at(cells.len() / 2);
    let truth = ConditionTruth::new(
        &lognorm.select_rows(truth),
        &plan.reference,
        control_pcs,
        controls,
        shared,
    );
    let scored = if pred.is_empty() {
        Err("a single held-out cell cannot be split in two".to_string())
    } else {
        let pred = lognorm.select_rows(pred);
        let shift = metrics::mean_shift(&pred, &plan.reference);
        Ok(truth.score(&pred, shift, controls, shared))
    };
    Row {
        label: plan.label.clone(),
        truth_profile: truth.profile,
        pred: scored,
    }
}

/// What generation reads to decode some cells under a condition, owned so that one call
/// builds it for every caller (predictions, provisional scores, the export).
pub(super) struct GenerationInputs {
    x_std: Matrix,
    own: Matrix,
    target: Matrix,
    library: Vec<f32>,
}

impl GenerationInputs {
    pub(super) fn sources(&self) -> Sources<'_> {
        Sources {
            x_std: &self.x_std,
            own_condition: &self.own,
            target_condition: &self.target,
            library: &self.library,
        }
    }
}

impl Session {
    /// `cells`' standardised values, their own condition, `label` as the target condition and
    /// their library sizes. [cells, panel], [cells, design] twice, [cells]
    pub(super) fn generation_inputs(&self, cells: &[usize], label: &str) -> GenerationInputs {
        GenerationInputs {
            x_std: self.prep.x_std.select_rows(cells),
            own: self.encode(cells, None),
            target: self.encode(cells, Some(label)),
            library: cells.iter().map(|&i| self.prep.library[i]).collect(),
        }
    }

    /// The panel's standardisation, to undo it on decoded values.
    pub(super) fn scale(&self) -> Scale<'_> {
        Scale {
            mean: &self.prep.mean,
            sd: &self.prep.sd,
        }
    }
}
