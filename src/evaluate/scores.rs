//! Scores per predictor (per condition and pooled, see `pooled`), the baseline-normalised
//! score of the models and the ceiling, and for the model also its held-out likelihood bounds
//! and average treatment effects.

use std::collections::{BTreeMap, HashMap};

use burn::tensor::{Tensor, TensorData};

use super::plans::ConditionPlan;
use super::pooled::score_rows;
use super::predict::Row;
use super::{ATE_TOP_GENES, AteElsewhere};
use crate::baselines;
use crate::generate::{self, Mode, Scale, Sources};
use crate::matrix::Matrix;
use crate::metrics;
use crate::model::{Batch, Likelihood, Model};
use crate::pause::{NoPause, Pause};
use crate::pipeline::{RunError, Session, cell_set};
use crate::preprocess;
use crate::results::{AteScores, Scores, ShiftFigure};
use crate::rng::Rng;
use crate::shards::run_shards;
use crate::tensor::{read_vec, to_tensor};
use crate::verdict;

/// Held-out log-likelihood bounds per cell, averaged over the cells scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LikelihoodBounds {
    /// log (1/K) Σ_k w_k: the importance-weighted ELBO.
    pub iwelbo: f64,
    /// (1/K) Σ_k log w_k on the same particles: the ELBO (without the global terms).
    pub elbo: f64,
    pub cells: usize,
}

impl Session {
    /// Scores every predictor; the model's also get the IWELBO and the ATE, and its pooled
    /// shifts make the shift figure. The model and the ceiling then get their
    /// baseline-normalised score.
    pub(super) async fn score_predictors(
        &self,
        plans: &[ConditionPlan],
        per: &BTreeMap<String, Vec<Row>>,
        pause: &dyn Pause,
        ate_elsewhere: Option<AteElsewhere<'_>>,
    ) -> Result<(BTreeMap<String, Scores>, ShiftFigure), RunError> {
        let n_genes = self.prep.panel.len();
        let mut scores = BTreeMap::new();
        let mut shift_fig = ShiftFigure {
            model: self.cfg.model().name().to_string(),
            ..Default::default()
        };
        for (name, rows) in per {
            let (mut s, pool) = score_rows(rows, n_genes);
            if name == self.cfg.model().name() {
                let cells = self.scorable_test_cells();
                let k = self.cfg.settings().iwelbo_particles;
                s.iwelbo = self
                    .likelihood_bounds_pausing(&cells, k, self.cfg.model_seed(), pause)
                    .await?
                    .map(|b| b.iwelbo);
                shift_fig.r = s.pooled.mean_shift_r;
                shift_fig.true_shift = pool.true_shift;
                shift_fig.pred_shift = pool.pred_shift;
            }
            scores.insert(name.clone(), s);
        }
        // The ATE last: drawn elsewhere, it has had the longest to arrive.
        if let Some(s) = scores.get_mut(self.cfg.model().name()) {
            let elsewhere = match ate_elsewhere {
                Some(ate) => ate.await,
                None => None,
            };
            s.ate = match elsewhere {
                Some(ate) => ate,
                None => {
                    pause.pause().await?;
                    self.ate_scoring(plans, self.cfg.model_seed(), pause)
                        .await?
                }
            };
        }
        let normalised: Vec<(String, Result<f64, String>)> = scores
            .keys()
            .map(|name| {
                let v = if baselines::counts_as_baseline(name) {
                    Err("baselines are what this score measures against".into())
                } else {
                    verdict::normalised_score(&scores, name)
                };
                (name.clone(), v)
            })
            .collect();
        for (name, v) in normalised {
            let Some(pooled) = scores.get_mut(&name).map(|s| &mut s.pooled) else {
                continue;
            };
            if pooled.undefined.is_some() {
                continue;
            }
            match v {
                Ok(x) => pooled.normalised_score = Some(x),
                Err(why) => {
                    pooled.notes.insert("normalised_score".into(), why);
                }
            }
        }
        Ok((scores, shift_fig))
    }

    /// Held-out IWELBO and ELBO of the current best model on `cells`, with `k` particles; the
    /// global variables are drawn once from q (one draw per particle) and shared by all cells.
    /// None when no cell is given.
    pub async fn likelihood_bounds(
        &self,
        cells: &[usize],
        k: usize,
    ) -> Result<Option<LikelihoodBounds>, RunError> {
        self.likelihood_bounds_pausing(cells, k, self.cfg.model_seed(), &NoPause)
            .await
    }

    /// [`Session::likelihood_bounds`] with the particles drawn from the stream of `noise_seed`
    /// instead of the run's: how much the estimate moves with its Monte-Carlo noise alone.
    pub async fn likelihood_bounds_noise(
        &self,
        cells: &[usize],
        k: usize,
        noise_seed: u64,
    ) -> Result<Option<LikelihoodBounds>, RunError> {
        self.likelihood_bounds_pausing(cells, k, noise_seed, &NoPause)
            .await
    }

    /// [`Session::likelihood_bounds`] with a pause before each chunk of cells.
    async fn likelihood_bounds_pausing(
        &self,
        cells: &[usize],
        k: usize,
        noise_seed: u64,
        pause: &dyn Pause,
    ) -> Result<Option<LikelihoodBounds>, RunError> {
        if cells.is_empty() || k == 0 {
            return Ok(None);
        }
        let model = self.trainer.model();
        let device = self.device.clone().inner();
        let mut rng = Rng::derive(noise_seed, "iwelbo");
        let noise = model.draw_noise(k, &mut rng);
        let set = cell_set(
            &self.prep,
            &self.conditioning,
            &self.design,
            &self.ds,
            cells,
            self.likelihood,
        );
        // About 8k decoded rows per pass keeps memory small whatever K is. Each chunk's
        // per-cell noise is a stream of its own, so chunks can run on the run's threads at
        // once (a round of them between pauses) and give the same numbers on any count.
        let chunk = (8192 / k).max(1);
        let key = rng.next_u64();
        // Positions in `set`, a chunk at a time.
        let chunks: Vec<Vec<usize>> = (0..cells.len())
            .step_by(chunk)
            .map(|start| (start..(start + chunk).min(cells.len())).collect())
            .collect();
        let ln_k = (k as f64).ln();
        let bounds = |c: usize| -> Tensor<1> {
            let idx = &chunks[c];
            let batch = Batch {
                x_std: to_tensor(&set.x_std.select_rows(idx), &device),
                target: to_tensor(&set.target.select_rows(idx), &device),
                library: Tensor::from_data(
                    TensorData::new(
                        idx.iter().map(|&i| set.library[i]).collect::<Vec<f32>>(),
                        [idx.len(), 1],
                    ),
                    &device,
                ),
                condition: to_tensor(&set.condition.select_rows(idx), &device),
                ln_factorial: Tensor::from_data(
                    TensorData::new(
                        idx.iter()
                            .map(|&i| set.ln_factorial[i])
                            .collect::<Vec<f32>>(),
                        [idx.len(), 1],
                    ),
                    &device,
                ),
            };
            let mut rng = Rng::split(key, c as u64);
            let lw = model.log_weights(batch, k, noise.as_ref(), &mut rng); // [K, cells]
            let max = lw.clone().max_dim(0).detach(); // [1, cells]
            let iw = (lw.clone() - max.clone()).exp().sum_dim(0).log() + max - ln_k; // [1, cells]
            let elbo = lw.mean_dim(0); // [1, cells]
            Tensor::cat(
                vec![iw.sum_dim(1).reshape([1]), elbo.sum_dim(1).reshape([1])],
                0,
            )
        };
        let threads = self.trainer.threads();
        let mut sum: Option<Tensor<1>> = None;
        for round in (0..chunks.len()).collect::<Vec<_>>().chunks(threads) {
            pause.pause().await?;
            let done = run_shards(round.len(), threads, |i| bounds(round[i]));
            for both in done {
                sum = Some(match sum {
                    Some(s) => s + both,
                    None => both,
                });
            }
        }
        let Some(sum) = sum else { return Ok(None) };
        let v = read_vec(sum).await?;
        let n = cells.len() as f64;
        Ok(Some(LikelihoodBounds {
            iwelbo: v[0] as f64 / n,
            elbo: v[1] as f64 / n,
            cells: cells.len(),
        }))
    }

    /// Average treatment effects, data vs model, over the predictable held-out conditions.
    /// Data: the held-out cells of each condition against the seen controls. Model: samples
    /// with z_basal from the prior and the globals from q (library 1e4, counts drawn from the
    /// likelihood), against samples under the control condition with the same noise.
    pub async fn ate_scores(&self, plans: &[ConditionPlan]) -> Result<Option<AteScores>, RunError> {
        self.ate_scoring(plans, self.cfg.model_seed(), &NoPause)
            .await
    }

    /// [`Session::ate_scores`] with the samples drawn from the stream of `noise_seed` instead
    /// of the run's: how much the estimate moves with its Monte-Carlo noise alone.
    pub async fn ate_scores_noise(
        &self,
        plans: &[ConditionPlan],
        noise_seed: u64,
    ) -> Result<Option<AteScores>, RunError> {
        self.ate_scoring(plans, noise_seed, &NoPause).await
    }

    /// [`Session::ate_scores`] with a pause before each condition.
    async fn ate_scoring(
        &self,
        plans: &[ConditionPlan],
        noise_seed: u64,
        pause: &dyn Pause,
    ) -> Result<Option<AteScores>, RunError> {
        let model = self.trainer.model();
        let controls: Vec<usize> = self
            .seen()
            .into_iter()
            .filter(|&i| self.ds.is_control(i))
            .collect();
        if controls.is_empty() {
            return Ok(None);
        }
        let nb = self.likelihood == Likelihood::Nb && self.prep.counts.is_some();
        let data_means =
            |cells: &[usize]| -> Vec<f64> { self.prep.lognorm.select_rows(cells).col_means() };
        let ctrl_counts = self.prep.counts.as_ref().map(|c| c.select_rows(&controls));
        let ctrl_mean = data_means(&controls);
        // Every arm starts from this one stream: common random numbers across the control and
        // all treatments, so the prior draws of z are the same in each and a control arm that
        // repeats (the same covariate make-up) is computed once.
        let noise = Rng::derive(noise_seed, "ate");
        let mut control_arms: HashMap<Vec<u32>, Vec<f64>> = HashMap::new();
        let (mut data_all, mut model_all, mut data_top, mut model_top) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut scored = Vec::new();
        for plan in plans {
            if self.unpredictable(&plan.label).is_some() {
                continue;
            }
            pause.pause().await?;
            let data_ate: Vec<f64> = match (&self.prep.counts, &ctrl_counts) {
                (Some(c), Some(cc)) if nb => metrics::ate_log2(&c.select_rows(&plan.test), cc),
                _ => data_means(&plan.test)
                    .iter()
                    .zip(&ctrl_mean)
                    .map(|(a, b)| a - b)
                    .collect(),
            };
            let model_ate = self
                .model_ate(&model, plan, nb, &noise, &mut control_arms)
                .await?;
            for g in metrics::top_k_abs(&data_ate, ATE_TOP_GENES) {
                data_top.push(data_ate[g]);
                model_top.push(model_ate[g]);
            }
            data_all.extend_from_slice(&data_ate);
            model_all.extend_from_slice(&model_ate);
            scored.push(plan.label.clone());
        }
        if scored.is_empty() {
            return Ok(None);
        }
        Ok(Some(AteScores {
            r: metrics::pearson(&data_all, &model_all),
            r_top20: metrics::pearson(&data_top, &model_top),
            conditions: scored,
        }))
    }

    /// The model's ATE of one condition from `ate_samples` prior samples per arm (log2 units
    /// for counts, `nb`); both arms draw from `noise`. `control_arms` keeps the control arm's
    /// means by its condition matrix: in prior mode the cells' expression is not read, so two
    /// conditions with the same covariate make-up share their control arm.
    async fn model_ate(
        &self,
        model: &Model,
        plan: &ConditionPlan,
        nb: bool,
        noise: &Rng,
        control_arms: &mut HashMap<Vec<u32>, Vec<f64>>,
    ) -> Result<Vec<f64>, RunError> {
        let m = self.cfg.settings().ate_samples;
        // Covariates follow the held-out cells' make-up, cycled to m samples.
        let cells: Vec<usize> = (0..m).map(|i| plan.test[i % plan.test.len()]).collect();
        let x_std = self.prep.x_std.select_rows(&cells);
        let ctrl_cond = self.encode(&cells, Some(&self.ds.control_label));
        let target = self.encode(&cells, Some(&plan.label));
        let key: Vec<u32> = ctrl_cond.data.iter().map(|v| v.to_bits()).collect();
        let ctrl = match control_arms.get(&key) {
            Some(means) => means.clone(),
            None => {
                let means = self
                    .ate_arm(model, &x_std, &ctrl_cond, &ctrl_cond, nb, noise)
                    .await?;
                control_arms.insert(key, means.clone());
                means
            }
        };
        let treated = self
            .ate_arm(model, &x_std, &ctrl_cond, &target, nb, noise)
            .await?;
        // generate returns ln(1 + 1e4·x/Σx) for counts: divide by ln 2 for log2 units.
        let unit = if nb { std::f64::consts::LN_2 } else { 1.0 };
        Ok(treated
            .iter()
            .zip(&ctrl)
            .map(|(a, b)| (a - b) / unit)
            .collect())
    }

    /// Mean generated profile of one ATE arm: prior samples decoded under `target`. [genes]
    async fn ate_arm(
        &self,
        model: &Model,
        x_std: &Matrix,
        own: &Matrix,
        target: &Matrix,
        nb: bool,
        noise: &Rng,
    ) -> Result<Vec<f64>, RunError> {
        let scale = Scale {
            mean: &self.prep.mean,
            sd: &self.prep.sd,
        };
        let library = vec![if nb { preprocess::SCALE as f32 } else { 1.0 }; x_std.rows];
        let src = Sources {
            x_std,
            own_condition: own,
            target_condition: target,
            library: &library,
        };
        let mut rng = noise.clone();
        let cells = generate::predict(
            model,
            &self.device,
            &src,
            Mode::Prior,
            &scale,
            &mut rng,
            self.trainer.threads(),
        )
        .await?;
        Ok(cells.col_means())
    }
}
