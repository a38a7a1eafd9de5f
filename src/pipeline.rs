//! A whole run — split, preprocess, train, predict, score — as one `Session` that both the CLI
//! and the page drive: the caller owns the loop and calls `step` once per epoch. Predicting and
//! scoring the held-out cells (`Session::evaluate`) lives in [`crate::evaluate`].

use std::collections::BTreeSet;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::data::{DataError, Dataset};
use crate::design::{Conditioning, Design};
use crate::generate::Mode;
use crate::masks::MaskTruth;
use crate::matrix::Matrix;
use crate::model::{CvaeConfig, Likelihood, Model, ModelConfigError, SamsConfig, SamsConfigError, SamsKind, SamsOptions};
use crate::preprocess::{self, Prepared};
use crate::results::EpochRecord;
use crate::split::{self, Holdout, Split, SplitError};
use crate::tensor::ReadbackError;
use crate::train::{CellSet, TrainConfig, TrainError, Trainer};

/// Model names accepted by `--model`: the conditional VAE, SAMS-VAE (correlated guide),
/// SAMS-VAE (mean-field guide), CPA-VAE and SVAE+.
pub const MODELS: [&str; 5] = ["cvae", "sams", "sams-mf", "cpa", "svae-plus"];

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

/// Readback outside the trainer (prediction, scoring) fails the run as readback in training does.
impl From<ReadbackError> for RunError {
    fn from(e: ReadbackError) -> Self {
        RunError::Train(e.into())
    }
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
    pub(crate) device: Device,
}

/// Host-side model inputs of `cells` under their own conditions.
pub(crate) fn cell_set(prep: &Prepared, cond: &Conditioning, design: &Design, ds: &Dataset, cells: &[usize], lik: Likelihood) -> CellSet {
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

    /// Covariate index and held-out level of a group hold-out (the group-shift baseline's).
    pub(crate) fn group(&self) -> Option<(usize, String)> {
        match &self.cfg.holdout {
            Holdout::Group { covariate, level } => {
                self.ds.covariate_names.iter().position(|c| c == covariate).map(|ci| (ci, level.clone()))
            }
            _ => None,
        }
    }
}
