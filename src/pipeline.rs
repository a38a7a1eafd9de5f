//! A whole run — split, preprocess, train, predict, score — as one `Session` that both the CLI
//! and the page drive: the caller owns the loop and calls `step` once per epoch.

use std::collections::{BTreeMap, BTreeSet};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::baselines::{self, BaselineContext};
use crate::data::{DataError, Dataset};
use crate::design::Design;
use crate::generate::{self, Mode, Scale, Sources};
use crate::matrix::Matrix;
use crate::metrics;
use crate::module::{Batch, CvaeConfig, Likelihood, Model, ModelConfigError};
use crate::preprocess::{self, Prepared};
use crate::results::*;
use crate::rng::Rng;
use crate::sams::{self, MaskTruth, SamsConfig, SamsConfigError, SamsKind, SamsOptions};
use crate::split::{self, Holdout, Split, SplitError};
use crate::train::{self, CellSet, TrainConfig, TrainError, Trainer, to_tensor};

/// Model names accepted by `--model`: the conditional VAE, SAMS-VAE (correlated guide),
/// SAMS-VAE (mean-field guide), CPA-VAE and SVAE+.
pub const MODELS: [&str; 5] = ["cvae", "sams", "sams-mf", "cpa", "svae-plus"];
/// Genes per condition in the top-gene ATE correlation.
pub const ATE_TOP_GENES: usize = 20;
/// Principal components used for the energy distance.
pub const PCA_COMPONENTS: usize = 20;
/// Cap on points per set in the energy distance (pairs grow quadratically).
pub const ENERGY_MAX_POINTS: usize = 600;
/// Cap on points per series stored for the PCA figure.
pub const FIGURE_MAX_POINTS: usize = 1500;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    /// Where the data came from (a path, an upload's file name, or `sample`).
    pub source: String,
    pub condition_column: String,
    pub control_label: String,
    pub covariates: Vec<String>,
    /// Panel size: the most variable genes on training cells.
    pub genes: usize,
    pub holdout: Holdout,
    pub val_fraction: f64,
    pub model: String,
    pub latent: usize,
    pub hidden: usize,
    /// `None`: NB for counts, Gaussian for continuous values.
    pub likelihood: Option<Likelihood>,
    pub generation: Mode,
    pub train: TrainConfig,
    pub seed: u64,
    /// Settings of the SAMS-VAE family (absent in older configs: the defaults).
    #[serde(default)]
    pub sams: SamsOptions,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            source: "sample".into(),
            condition_column: "condition".into(),
            control_label: "control".into(),
            covariates: Vec::new(),
            genes: 200,
            holdout: Holdout::Fraction { fraction: 0.2 },
            val_fraction: 0.1,
            model: "cvae".into(),
            latent: 10,
            hidden: 128,
            likelihood: None,
            generation: Mode::Encode,
            train: TrainConfig::new(),
            seed: 0,
            sams: SamsOptions::default(),
        }
    }
}

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Model(#[from] ModelConfigError),
    #[error(transparent)]
    Sams(#[from] SamsConfigError),
    #[error("unknown model `{0}`: expected one of {models}", models = MODELS.join(", "))]
    UnknownModel(String),
    #[error("the negative-binomial likelihood needs integer counts, but this file holds continuous values: use --likelihood gaussian")]
    NbNeedsCounts,
    #[error("the panel size must be at least 2 genes (got {0})")]
    Genes(usize),
}

impl RunConfig {
    pub fn likelihood_for(&self, ds: &Dataset) -> Result<Likelihood, RunError> {
        match self.likelihood {
            Some(Likelihood::Nb) if !ds.is_counts => Err(RunError::NbNeedsCounts),
            Some(l) => Ok(l),
            None if ds.is_counts => Ok(Likelihood::Nb),
            None => Ok(Likelihood::Gaussian),
        }
    }

    /// The rules that need no data: model name, panel size, architecture, training, and the
    /// SAMS-family options (the scoring ones for every model). The page checks these as the
    /// user types.
    pub fn validate_settings(&self) -> Result<(), RunError> {
        if !MODELS.contains(&self.model.as_str()) {
            return Err(RunError::UnknownModel(self.model.clone()));
        }
        if self.genes < 2 {
            return Err(RunError::Genes(self.genes));
        }
        CvaeConfig::new(self.genes, 1, 0).with_latent(self.latent).with_hidden(self.hidden).validate()?;
        if SamsKind::from_name(&self.model).is_some() {
            self.sams.validate()?;
        } else {
            self.sams.validate_scoring()?;
        }
        self.train.validate()?;
        Ok(())
    }

    /// Every rule that can be checked before data is touched by training.
    pub fn validate(&self, ds: &Dataset) -> Result<(), RunError> {
        self.validate_settings()?;
        self.likelihood_for(ds)?;
        split::validate(ds, &self.holdout, self.val_fraction)?;
        Ok(())
    }
}

/// A held-out condition and the control cells its shift is measured against.
#[derive(Debug, Clone)]
pub struct ConditionPlan {
    pub label: String,
    pub test: Vec<usize>,
    /// One matched seen control cell per test cell (same covariate group where there is one).
    pub sources: Vec<usize>,
    /// Every seen control cell of the groups involved, and its weight in the reference
    /// (weights sum to 1), so `reference = Σ weight · lognorm[pool]`.
    pub pool: Vec<usize>,
    pub weights: Vec<f64>,
    /// Position in `pool` of each source.
    pub matched: Vec<usize>,
    /// Mean of the matched groups' seen controls, weighted by the test cells' group make-up. [panel]
    pub reference: Vec<f64>,
}

/// How a cell's condition becomes model input.
#[derive(Debug, Clone, PartialEq)]
pub enum Conditioning {
    /// [dosage over single perturbations | covariate one-hot]: `A+B` = A + B.
    Dosage,
    /// [one-hot over the condition labels seen in training | covariate one-hot] (SVAE+).
    OneHot(Vec<String>),
}

impl Conditioning {
    /// Encodes `cells` with their own covariates under `label` (their own condition if None).
    pub fn encode(&self, design: &Design, ds: &Dataset, cells: &[usize], label: Option<&str>) -> Matrix {
        let base = design.encode(ds, cells, label);
        let Conditioning::OneHot(labels) = self else { return base };
        let np = design.n_perturbations();
        let t = labels.len();
        let mut m = Matrix::zeros(cells.len(), t + base.cols - np);
        for (r, &cell) in cells.iter().enumerate() {
            let cond = label.unwrap_or(&ds.conditions[cell]);
            let row = m.row_mut(r);
            if let Some(j) = labels.iter().position(|l| l == cond) {
                row[j] = 1.0;
            }
            row[t..].copy_from_slice(&base.row(r)[np..]);
        }
        m
    }

    /// Number of treatment columns (before the covariates).
    pub fn n_treatments(&self, design: &Design) -> usize {
        match self {
            Conditioning::Dosage => design.n_perturbations(),
            Conditioning::OneHot(labels) => labels.len(),
        }
    }

    /// Treatment names, one per treatment column.
    pub fn names(&self, design: &Design) -> Vec<String> {
        match self {
            Conditioning::Dosage => design.perturbations.clone(),
            Conditioning::OneHot(labels) => labels.clone(),
        }
    }
}

pub struct Session {
    pub cfg: RunConfig,
    pub ds: Dataset,
    pub split: Split,
    pub prep: Prepared,
    pub design: Design,
    pub likelihood: Likelihood,
    pub trainer: Trainer,
    pub conditioning: Conditioning,
    /// Training cells per treatment column (N_t).
    pub n_obs: Vec<usize>,
    /// The true sparse effects, when the data is simulated: drawn beside the learned masks.
    pub truth: Option<MaskTruth>,
    device: Device,
}

fn cell_set(prep: &Prepared, cond: &Conditioning, design: &Design, ds: &Dataset, cells: &[usize], lik: Likelihood) -> CellSet {
    let x_std = prep.x_std.select_rows(cells);
    let target = match (&prep.counts, lik) {
        (Some(c), Likelihood::Nb) => c.select_rows(cells),
        _ => x_std.clone(),
    };
    CellSet {
        target,
        x_std,
        library: cells.iter().map(|&i| prep.library[i]).collect(),
        condition: cond.encode(design, ds, cells, None),
    }
}

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
    /// `device` must be an autodiff device; training and prediction both run on it.
    pub fn new(ds: Dataset, cfg: RunConfig, device: &Device) -> Result<Self, RunError> {
        cfg.validate(&ds)?;
        let likelihood = cfg.likelihood_for(&ds)?;
        let split = split::make_split(&ds, &cfg.holdout, cfg.val_fraction, cfg.seed)?;
        let prep = preprocess::prepare(&ds, &split.train, cfg.genes);
        let design = Design::from_dataset(&ds);
        let kind = SamsKind::from_name(&cfg.model);
        let conditioning = if kind.is_some_and(|k| !k.composes()) {
            let labels: BTreeSet<&String> =
                split.train.iter().chain(&split.val).map(|&i| &ds.conditions[i]).filter(|c| **c != ds.control_label).collect();
            Conditioning::OneHot(labels.into_iter().cloned().collect())
        } else {
            Conditioning::Dosage
        };
        let mut train_cfg = cfg.train.clone();
        train_cfg.seed = cfg.seed;
        let train = cell_set(&prep, &conditioning, &design, &ds, &split.train, likelihood);
        let val = cell_set(&prep, &conditioning, &design, &ds, &split.val, likelihood);
        let n_treat = conditioning.n_treatments(&design);
        let n_obs: Vec<usize> =
            (0..n_treat).map(|t| (0..train.condition.rows).filter(|&r| train.condition.get(r, t) != 0.0).count()).collect();
        let model = match kind {
            None => Model::Cvae(
                CvaeConfig::new(prep.panel.len(), design.n_perturbations(), design.n_covariates())
                    .with_latent(cfg.latent)
                    .with_hidden(cfg.hidden)
                    .with_likelihood(likelihood)
                    .init(cfg.seed, device)?,
            ),
            Some(kind) => Model::Sams(
                SamsConfig {
                    kind,
                    n_genes: prep.panel.len(),
                    n_treatments: n_treat,
                    n_covariates: design.n_covariates(),
                    latent: cfg.latent,
                    hidden: cfg.hidden,
                    likelihood,
                    // A run shorter than the unmasked start still gets masks, halfway through.
                    options: SamsOptions {
                        align_epochs: cfg.sams.align_epochs.min(cfg.train.epochs / 2),
                        ..cfg.sams.clone()
                    },
                    n_obs: n_obs.iter().map(|&n| n as f32).collect(),
                }
                .init(cfg.seed, device)?,
            ),
        };
        let trainer = Trainer::new(model, train_cfg, &train, &val, device)?;
        Ok(Self { cfg, ds, split, prep, design, likelihood, trainer, conditioning, n_obs, truth: None, device: device.clone() })
    }

    /// Sets the true sparse effects to draw beside the learned masks (simulated data).
    pub fn with_truth(mut self, truth: MaskTruth) -> Self {
        self.truth = Some(truth);
        self
    }

    /// `cells` encoded for the model under `label` (their own conditions if None).
    pub fn encode(&self, cells: &[usize], label: Option<&str>) -> Matrix {
        self.conditioning.encode(&self.design, &self.ds, cells, label)
    }

    /// Held-out IWELBO and ELBO of the current best model on `cells`, with `k` particles; the
    /// global variables are drawn once from q (one draw per particle) and shared by all cells.
    /// None when no cell is given.
    pub async fn likelihood_bounds(&self, cells: &[usize], k: usize) -> Result<Option<LikelihoodBounds>, RunError> {
        if cells.is_empty() || k == 0 {
            return Ok(None);
        }
        let model = self.trainer.model();
        let device = self.device.clone().inner();
        let mut rng = Rng::derive(self.cfg.seed, "iwelbo");
        let noise = model.draw_noise(k, &mut rng);
        let set = cell_set(&self.prep, &self.conditioning, &self.design, &self.ds, cells, self.likelihood);
        // About 8k decoded rows per pass keeps memory small whatever K is.
        let chunk = (8192 / k).max(1);
        let mut sum: Option<burn::tensor::Tensor<1>> = None;
        let ln_k = (k as f64).ln();
        for start in (0..cells.len()).step_by(chunk) {
            let idx: Vec<usize> = (start..(start + chunk).min(cells.len())).collect();
            let batch = Batch {
                x_std: to_tensor(&set.x_std.select_rows(&idx), &device),
                target: to_tensor(&set.target.select_rows(&idx), &device),
                library: burn::tensor::Tensor::from_data(
                    burn::tensor::TensorData::new(idx.iter().map(|&i| set.library[i]).collect::<Vec<f32>>(), [idx.len(), 1]),
                    &device,
                ),
                condition: to_tensor(&set.condition.select_rows(&idx), &device),
            };
            let lw = model.log_weights(batch, k, noise.as_ref(), &mut rng); // [K, cells]
            let max = lw.clone().max_dim(0).detach(); // [1, cells]
            let iw = (lw.clone() - max.clone()).exp().sum_dim(0).log() + max - ln_k; // [1, cells]
            let elbo = lw.mean_dim(0); // [1, cells]
            let both = burn::tensor::Tensor::cat(vec![iw.sum_dim(1).reshape([1]), elbo.sum_dim(1).reshape([1])], 0);
            sum = Some(match sum {
                Some(s) => s + both,
                None => both,
            });
        }
        let Some(sum) = sum else { return Ok(None) };
        let v = train::read_vec(sum).await?;
        let n = cells.len() as f64;
        Ok(Some(LikelihoodBounds { iwelbo: v[0] as f64 / n, elbo: v[1] as f64 / n, cells: cells.len() }))
    }

    /// Held-out perturbed cells the model can score (their condition is predictable).
    pub fn scorable_test_cells(&self) -> Vec<usize> {
        self.split
            .test
            .iter()
            .copied()
            .filter(|&i| !self.ds.is_control(i) && self.unpredictable(&self.ds.conditions[i]).is_none())
            .collect()
    }

    /// Average treatment effects, data vs model, over the predictable held-out conditions.
    /// Data: the held-out cells of each condition against the seen controls. Model: samples
    /// with z_basal from the prior and the globals from q (library 1e4, counts drawn from the
    /// likelihood), against samples under the control condition with the same noise.
    pub async fn ate_scores(&self, plans: &[ConditionPlan]) -> Result<Option<AteScores>, RunError> {
        let model = self.trainer.model();
        let controls: Vec<usize> = self.seen().into_iter().filter(|&i| self.ds.is_control(i)).collect();
        if controls.is_empty() {
            return Ok(None);
        }
        let nb = self.likelihood == Likelihood::Nb && self.prep.counts.is_some();
        let data_means = |cells: &[usize]| -> Vec<f64> { self.prep.lognorm.select_rows(cells).col_means() };
        let ctrl_counts = self.prep.counts.as_ref().map(|c| c.select_rows(&controls));
        let ctrl_mean = data_means(&controls);
        let m = self.cfg.sams.ate_samples;
        let mut rng = Rng::derive(self.cfg.seed, "ate");
        let (mut data_all, mut model_all, mut data_top, mut model_top) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut scored = Vec::new();
        let scale = Scale { mean: &self.prep.mean, sd: &self.prep.sd };
        for plan in plans {
            if self.unpredictable(&plan.label).is_some() {
                continue;
            }
            let data_ate: Vec<f64> = match (&self.prep.counts, &ctrl_counts) {
                (Some(c), Some(cc)) if nb => metrics::ate_log2(&c.select_rows(&plan.test), cc),
                _ => data_means(&plan.test).iter().zip(&ctrl_mean).map(|(a, b)| a - b).collect(),
            };
            // Covariates follow the held-out cells' make-up, cycled to m samples.
            let cells: Vec<usize> = (0..m).map(|i| plan.test[i % plan.test.len()]).collect();
            let x_std = self.prep.x_std.select_rows(&cells);
            let ctrl_cond = self.encode(&cells, Some(&self.ds.control_label));
            let target = self.encode(&cells, Some(&plan.label));
            let library = vec![if nb { preprocess::SCALE as f32 } else { 1.0 }; m];
            let ctrl_src = Sources { x_std: &x_std, own_condition: &ctrl_cond, target_condition: &ctrl_cond, library: &library };
            let treated_src = Sources { x_std: &x_std, own_condition: &ctrl_cond, target_condition: &target, library: &library };
            // Common random numbers: both arms draw the same noise.
            let mut r_ctrl = rng.clone();
            let ctrl = generate::predict(&model, &self.device, &ctrl_src, Mode::Prior, &scale, &mut r_ctrl).await?;
            let treated = generate::predict(&model, &self.device, &treated_src, Mode::Prior, &scale, &mut rng).await?;
            // generate returns ln(1 + 1e4·x/Σx) for counts: divide by ln 2 for log2 units.
            let unit = if nb { std::f64::consts::LN_2 } else { 1.0 };
            let model_ate: Vec<f64> =
                treated.col_means().iter().zip(ctrl.col_means()).map(|(a, b)| (a - b) / unit).collect();
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

    /// The learned mask probabilities (treatments trained on only), beside the truth if known.
    pub async fn mask_figure(&self) -> Result<Option<MaskFigure>, RunError> {
        let model = self.trainer.model();
        let Some(probs) = model.mask_probs() else { return Ok(None) };
        let probs = train::read_matrix(probs).await?;
        let names = self.conditioning.names(&self.design);
        let keep: Vec<usize> = (0..names.len()).filter(|&t| self.n_obs.get(t).copied().unwrap_or(0) > 0).collect();
        let perturbations: Vec<String> = keep.iter().map(|&t| names[t].clone()).collect();
        let rows: Vec<Vec<f64>> = keep.iter().map(|&t| probs.row(t).iter().map(|&p| p as f64).collect()).collect();
        let truth: Option<Vec<Vec<f64>>> = self.truth.as_ref().and_then(|tr| {
            perturbations.iter().map(|p| tr.effect_of(p)).collect::<Option<Vec<_>>>()
        });
        let truth_bin = |t: &Vec<Vec<f64>>| -> Vec<Vec<f64>> {
            t.iter().map(|r| r.iter().map(|&v| if v != 0.0 { 1.0 } else { 0.0 }).collect()).collect()
        };
        let order = match &truth {
            Some(t) => sams::align_dims(&rows, t),
            None => (0..probs.cols).collect(),
        };
        Ok(Some(MaskFigure {
            model: self.cfg.model.clone(),
            mean_active: sams::mean_active(&rows),
            true_mean_active: truth.as_ref().map(|t| sams::mean_active(&truth_bin(t))),
            overlap_spearman: truth.as_ref().and_then(|t| sams::overlap_spearman(&rows, t)),
            perturbations,
            probs: rows,
            order,
            truth,
            masks_start_at: model.masks_start_at(),
        }))
    }

    pub async fn step(&mut self) -> Result<EpochRecord, RunError> {
        Ok(self.trainer.run_epoch().await?)
    }

    pub fn is_done(&self) -> bool {
        self.trainer.is_done()
    }

    /// Cells baselines and Mode B may use: everything not held out for testing.
    pub fn seen(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.split.train.iter().chain(&self.split.val).copied().collect();
        v.sort_unstable();
        v
    }

    fn group(&self) -> Option<(usize, String)> {
        match &self.cfg.holdout {
            Holdout::Group { covariate, level } => {
                self.ds.covariate_names.iter().position(|c| c == covariate).map(|ci| (ci, level.clone()))
            }
            _ => None,
        }
    }

    /// Per held-out condition: its test cells, matched control sources and reference mean.
    pub fn plans(&self) -> Vec<ConditionPlan> {
        let ds = &self.ds;
        let seen = self.seen();
        let key = |i: usize| -> Vec<&str> { ds.covariates.iter().map(|c| c[i].as_str()).collect() };
        let controls: Vec<usize> = seen.iter().copied().filter(|&i| ds.is_control(i)).collect();
        let mut pools: BTreeMap<Vec<&str>, Vec<usize>> = BTreeMap::new();
        for &i in &controls {
            pools.entry(key(i)).or_default().push(i);
        }
        let mut rng = Rng::derive(self.cfg.seed, "matching");
        for pool in pools.values_mut() {
            rng.shuffle(pool);
        }
        let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &i in &self.split.test {
            if !ds.is_control(i) {
                by_label.entry(ds.conditions[i].as_str()).or_default().push(i);
            }
        }
        let mut plans = Vec::new();
        // One cursor per group across all conditions, so conditions draw different controls.
        let mut cursor: BTreeMap<Vec<&str>, usize> = BTreeMap::new();
        for (label, test) in by_label {
            let mut group_sizes: BTreeMap<Vec<&str>, usize> = BTreeMap::new();
            let mut sources = Vec::with_capacity(test.len());
            for &i in &test {
                // A group with no seen controls falls back to all seen controls.
                let k = if pools.contains_key(&key(i)) { key(i) } else { Vec::new() };
                let pool = pools.get(&k).unwrap_or(&controls);
                let c = cursor.entry(k.clone()).or_insert(0);
                sources.push(pool[*c % pool.len()]);
                *c += 1;
                *group_sizes.entry(k).or_insert(0) += 1;
            }
            let mut pool_all = Vec::new();
            let mut weights = Vec::new();
            for (k, n) in &group_sizes {
                let pool = pools.get(k).unwrap_or(&controls);
                let w = *n as f64 / test.len() as f64 / pool.len() as f64;
                pool_all.extend_from_slice(pool);
                weights.extend(std::iter::repeat_n(w, pool.len()));
            }
            let reference = weighted_mean(&self.prep.lognorm.select_rows(&pool_all), &weights);
            let matched = sources.iter().map(|s| pool_all.iter().position(|p| p == s).unwrap_or(0)).collect();
            plans.push(ConditionPlan {
                label: label.to_string(),
                test,
                sources,
                pool: pool_all,
                weights,
                matched,
                reference,
            });
        }
        plans
    }

    /// Why the model cannot predict `label`, if it cannot.
    pub fn unpredictable(&self, label: &str) -> Option<String> {
        if let Conditioning::OneHot(labels) = &self.conditioning
            && !labels.iter().any(|l| l == label)
        {
            return Some(format!(
                "{} conditions on whole condition labels (one-hot) and `{label}` was never seen in training: it cannot compose single perturbations",
                self.cfg.model
            ));
        }
        let trained: BTreeSet<String> =
            self.split.train.iter().flat_map(|&i| self.design.members(&self.ds.conditions[i])).collect();
        let missing: Vec<String> = self.design.members(label).into_iter().filter(|m| !trained.contains(m)).collect();
        (!missing.is_empty()).then(|| {
            format!("perturbation {} never seen in training", missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "))
        })
    }

    /// Predicts every held-out condition with the model and the baselines and scores them.
    pub async fn evaluate(&self, seconds: f64, backend: &str) -> Result<RunResults, RunError> {
        let plans = self.plans();
        let lognorm = &self.prep.lognorm;
        let model = self.trainer.model();
        let mut rng = Rng::derive(self.cfg.seed, "generation");
        let seen = self.seen();
        let ctx = BaselineContext { ds: &self.ds, design: &self.design, lognorm, seen: &seen, group: self.group() };

        // PCA fitted on true cells: all matched controls and all held-out perturbed cells.
        let mut true_cells: Vec<usize> = plans.iter().flat_map(|p| p.sources.iter().chain(&p.test)).copied().collect();
        true_cells.sort_unstable();
        true_cells.dedup();
        let pca = metrics::Pca::fit(&lognorm.select_rows(&true_cells), PCA_COMPONENTS);

        let mut names: Vec<String> = vec![self.cfg.model.clone()];
        names.extend([baselines::CONTROL_MEAN, baselines::PERTURBATION_MEAN, baselines::PERTURBED_MEAN].map(String::from));
        if plans.iter().any(|p| self.design.members(&p.label).len() > 1) {
            names.push(baselines::ADDITIVE.into());
        }
        if self.group().is_some() {
            names.push(baselines::GROUP_SHIFT.into());
        }
        let mut per: BTreeMap<String, Vec<(String, Result<Prediction, String>)>> = BTreeMap::new();
        let mut unpredictable = BTreeMap::new();
        let mut figure_pred: Vec<Matrix> = Vec::new();
        for plan in &plans {
            let truth = lognorm.select_rows(&plan.test);
            let src = lognorm.select_rows(&plan.sources);
            let true_shift = metrics::mean_shift(&truth, &plan.reference);
            let true_pcs = pca.transform(&truth);
            for name in &names {
                let pred = if *name == self.cfg.model {
                    match self.unpredictable(&plan.label) {
                        Some(why) => {
                            unpredictable.insert(plan.label.clone(), why.clone());
                            Err(why)
                        }
                        None => {
                            // Every control of the involved groups is decoded, so the
                            // predicted mean is weighted exactly like the reference.
                            let x_std = self.prep.x_std.select_rows(&plan.pool);
                            let own = self.encode(&plan.pool, None);
                            let target = self.encode(&plan.pool, Some(&plan.label));
                            let library: Vec<f32> = plan.pool.iter().map(|&i| self.prep.library[i]).collect();
                            let sources = Sources { x_std: &x_std, own_condition: &own, target_condition: &target, library: &library };
                            let scale = Scale { mean: &self.prep.mean, sd: &self.prep.sd };
                            let decoded = generate::predict(&model, &self.device, &sources, self.cfg.generation, &scale, &mut rng).await?;
                            let mean = weighted_mean(&decoded, &plan.weights);
                            let shift = mean.iter().zip(&plan.reference).map(|(a, b)| a - b).collect();
                            let cells = decoded.select_rows(&plan.matched);
                            figure_pred.push(cells.clone());
                            Ok(Generated::Model(cells, shift))
                        }
                    }
                } else {
                    // A baseline's cells: the matched controls moved by its predicted shift.
                    ctx.shift(name, &plan.label, &plan.reference).map(|shift| {
                        let mut cells = src.clone();
                        for i in 0..cells.rows {
                            for (v, s) in cells.row_mut(i).iter_mut().zip(&shift) {
                                *v += *s as f32;
                            }
                        }
                        Generated::Baseline(cells, shift)
                    })
                };
                // A baseline's shift is what it declares (exactly zero for control_mean); a
                // model's is measured on all the cells it generated from the reference pool.
                let scored = pred.map(|p| {
                    let (Generated::Model(cells, pred_shift) | Generated::Baseline(cells, pred_shift)) = p;
                    let energy = metrics::energy_distance(&true_pcs, &pca.transform(&cells), ENERGY_MAX_POINTS);
                    Prediction { true_shift: true_shift.clone(), pred_shift, energy }
                });
                per.entry(name.clone()).or_default().push((plan.label.clone(), scored));
            }
        }

        let n_genes = self.prep.panel.len();
        let mut scores = BTreeMap::new();
        let mut shift_fig = ShiftFigure { model: self.cfg.model.clone(), ..Default::default() };
        for (name, rows) in &per {
            let mut s = Scores::default();
            let (mut all_t, mut all_p) = (Vec::new(), Vec::new());
            let mut jacc: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
            let mut jacc_null = false;
            let mut energies = Vec::new();
            for (label, r) in rows {
                let set = match r {
                    Ok(p) => {
                        all_t.extend_from_slice(&p.true_shift);
                        all_p.extend_from_slice(&p.pred_shift);
                        if let Some(e) = p.energy {
                            energies.push(e);
                        }
                        let mut jaccard = BTreeMap::new();
                        for k in JACCARD_KS {
                            let j = metrics::top_k_jaccard(&p.true_shift, &p.pred_shift, k.min(n_genes));
                            match j {
                                Some(v) => jacc.entry(k).or_default().push(v),
                                None => jacc_null = true,
                            }
                            jaccard.insert(k.to_string(), j);
                        }
                        ScoreSet {
                            mean_shift_r: metrics::pearson(&p.true_shift, &p.pred_shift),
                            jaccard,
                            energy_distance: p.energy,
                            undefined: None,
                        }
                    }
                    Err(why) => ScoreSet {
                        jaccard: JACCARD_KS.iter().map(|k| (k.to_string(), None)).collect(),
                        undefined: Some(why.clone()),
                        ..Default::default()
                    },
                };
                s.conditions.insert(label.clone(), set);
            }
            let defined = rows.iter().filter(|r| r.1.is_ok()).count();
            s.pooled = ScoreSet {
                mean_shift_r: metrics::pearson(&all_t, &all_p),
                jaccard: JACCARD_KS
                    .iter()
                    .map(|k| {
                        let v = jacc.get(k).filter(|v| !v.is_empty() && !jacc_null).map(|v| v.iter().sum::<f64>() / v.len() as f64);
                        (k.to_string(), v)
                    })
                    .collect(),
                energy_distance: (!energies.is_empty()).then(|| energies.iter().sum::<f64>() / energies.len() as f64),
                undefined: (defined == 0).then(|| "no held-out condition can be predicted".to_string()),
            };
            if *name == self.cfg.model {
                let cells = self.scorable_test_cells();
                let k = self.cfg.sams.iwelbo_particles;
                s.iwelbo = self.likelihood_bounds(&cells, k).await?.map(|b| b.iwelbo);
                s.ate = self.ate_scores(&plans).await?;
                shift_fig.r = s.pooled.mean_shift_r;
                shift_fig.true_shift = all_t;
                shift_fig.pred_shift = all_p;
            }
            scores.insert(name.clone(), s);
        }

        let mut controls: Vec<usize> = plans.iter().flat_map(|p| p.sources.iter()).copied().collect();
        controls.sort_unstable();
        controls.dedup();
        let tests: Vec<usize> = plans.iter().flat_map(|p| p.test.iter()).copied().collect();
        let refs: Vec<&Matrix> = figure_pred.iter().collect();
        let pca_fig = PcaFigure {
            model: self.cfg.model.clone(),
            explained_variance_ratio: pca.explained_variance_ratio.iter().take(2).copied().collect(),
            control: points(&pca.transform(&lognorm.select_rows(&controls))),
            truth: points(&pca.transform(&lognorm.select_rows(&tests))),
            predicted: if refs.is_empty() { Vec::new() } else { points(&pca.transform(&Matrix::vstack(&refs))) },
        };

        let ds = &self.ds;
        Ok(RunResults {
            cellshift_version: env!("CARGO_PKG_VERSION").to_string(),
            config: serde_json::to_value(&self.cfg).unwrap_or(serde_json::Value::Null),
            data: DataSummary {
                cells: ds.n_cells(),
                genes: n_genes,
                genes_in_file: ds.n_genes(),
                sha256: ds.sha256.clone(),
                source: self.cfg.source.clone(),
                values: if ds.is_counts { "counts" } else { "continuous" }.into(),
                covariates: ds.covariate_names.clone(),
                conditions: ds.condition_counts(),
                warnings: ds.warnings.clone(),
            },
            split: SplitSummary {
                kind: self.cfg.holdout.kind().into(),
                train_cells: self.split.train.len(),
                val_cells: self.split.val.len(),
                test_cells: self.split.test.len(),
                test_conditions: plans.iter().map(|p| p.label.clone()).collect(),
                unpredictable,
            },
            train: TrainSummary {
                epochs: self.trainer.epoch(),
                best_epoch: self.trainer.best_epoch(),
                stopped_early: self.trainer.stopped_early(),
                seconds,
                backend: backend.to_string(),
                history: self.trainer.history().to_vec(),
            },
            scores,
            figures: Figures { shift: shift_fig, pca: pca_fig, masks: self.mask_figure().await? },
        })
    }
}

/// Cells to compare with the truth (one per test cell) and the predicted mean shift.
enum Generated {
    Model(Matrix, Vec<f64>),
    Baseline(Matrix, Vec<f64>),
}

struct Prediction {
    true_shift: Vec<f64>,
    pred_shift: Vec<f64>,
    energy: Option<f64>,
}

/// Σ_i w_i · row_i. [cols]
fn weighted_mean(m: &Matrix, w: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; m.cols];
    for (i, wi) in w.iter().enumerate().take(m.rows) {
        for (o, &v) in out.iter_mut().zip(m.row(i)) {
            *o += wi * v as f64;
        }
    }
    out
}

/// First two coordinates of at most FIGURE_MAX_POINTS evenly spaced rows.
fn points(m: &Matrix) -> Vec<[f32; 2]> {
    let step = m.rows.div_ceil(FIGURE_MAX_POINTS).max(1);
    (0..m.rows)
        .step_by(step)
        .map(|i| [if m.cols > 0 { m.get(i, 0) } else { 0.0 }, if m.cols > 1 { m.get(i, 1) } else { 0.0 }])
        .collect()
}
