//! A whole run — split, preprocess, train, predict, score — as one `Session` that both the CLI
//! and the page drive: the caller owns the loop and calls `step` once per epoch. Predicting and
//! scoring the held-out cells (`Session::evaluate`) lives in [`crate::evaluate`].

use std::collections::BTreeSet;

use burn::tensor::Device;
use thiserror::Error;

use crate::config::{Estimate, LikelihoodChoice, MEMORY_LIMIT, RunConfig, SettingError, Shape};
use crate::data::{DataError, Dataset};
use crate::design::{Conditioning, Design};
use crate::masks::MaskTruth;
use crate::matrix::Matrix;
use crate::model::{CvaeConfig, Likelihood, Model, SamsConfig};
use crate::preprocess::{self, Prepared};
use crate::results::EpochRecord;
use crate::split::{self, Holdout, Split, SplitError};
use crate::tensor::ReadbackError;
use crate::train::{CellSet, TrainError, Trainer};

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Settings(#[from] SettingError),
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Stopped(#[from] crate::pause::Stopped),
    #[error(
        "this run would need about {need_gib:.1} GiB of memory at its peak, more than the {limit_gib:.1} GiB it may use: lower genes, hidden units, batch size, particles, IWELBO particles or ATE samples"
    )]
    TooBig { need_gib: f64, limit_gib: f64 },
    #[error(
        "the negative-binomial likelihood needs integer counts, but this file holds continuous values: use --likelihood gaussian"
    )]
    NbNeedsCounts,
}

impl RunError {
    /// True when the input (data, settings, split) is at fault rather than the engine.
    pub fn is_input_error(&self) -> bool {
        !matches!(
            self,
            RunError::Train(TrainError::NonFinite { .. } | TrainError::Readback(_))
                | RunError::Stopped(_)
        )
    }
}

/// Readback outside the trainer (prediction, scoring) fails the run as readback in training does.
impl From<ReadbackError> for RunError {
    fn from(e: ReadbackError) -> Self {
        RunError::Train(e.into())
    }
}

/// The likelihood a run uses on `ds`: the one asked for, or NB for counts and Gaussian otherwise.
pub fn likelihood_for(choice: LikelihoodChoice, ds: &Dataset) -> Result<Likelihood, RunError> {
    match choice.fixed() {
        Some(Likelihood::Nb) if !ds.is_counts => Err(RunError::NbNeedsCounts),
        Some(l) => Ok(l),
        None if ds.is_counts => Ok(Likelihood::Nb),
        None => Ok(Likelihood::Gaussian),
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    /// Epochs trained.
    pub epoch: usize,
    /// The epoch budget (raised by Resume).
    pub budget: usize,
    /// The budget is spent or early stopping fired.
    pub done: bool,
}

/// A run that passed every check on its data ([`Session::plan`]), not built yet.
pub struct Planned {
    source: String,
    cfg: RunConfig,
    likelihood: Likelihood,
    split: Split,
    design: Design,
}

pub struct Session {
    pub cfg: RunConfig,
    /// Where the data came from (a path, an upload's file name, or `sample`).
    pub source: String,
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
    /// Single perturbations the model was trained on, gathered once: what it can compose.
    pub(crate) trained: BTreeSet<String>,
    pub(crate) device: Device,
}

/// Host-side model inputs of `cells` under their own conditions.
pub(crate) fn cell_set(
    prep: &Prepared,
    cond: &Conditioning,
    design: &Design,
    ds: &Dataset,
    cells: &[usize],
    lik: Likelihood,
) -> CellSet {
    let x_std = prep.x_std.select_rows(cells);
    let (target, ln_factorial) = match (&prep.counts, lik) {
        (Some(c), Likelihood::Nb) => {
            let counts = c.select_rows(cells);
            let ln = CellSet::ln_factorials(&counts);
            (counts, ln)
        }
        _ => (x_std.clone(), vec![0.0; cells.len()]),
    };
    CellSet {
        target,
        ln_factorial,
        x_std,
        library: cells.iter().map(|&i| prep.library[i]).collect(),
        condition: cond.encode(design, ds, cells, None),
    }
}

impl Session {
    /// Prepares a run of checked settings on `ds` (named `source` in the results). `device`
    /// must be an autodiff device; training and prediction both run on it.
    pub fn new(
        ds: Dataset,
        source: &str,
        cfg: RunConfig,
        device: &Device,
    ) -> Result<Self, RunError> {
        let plan = Self::plan(&ds, source, cfg)?;
        Self::build(ds, plan, device)
    }

    /// Every check a run needs from the data, before anything large is allocated: the
    /// likelihood, the split, the design and the estimated cost. Once a plan is made, building
    /// the session cannot fail, so the page may drop its previous run first (and never holds
    /// two runs at once).
    pub fn plan(ds: &Dataset, source: &str, cfg: RunConfig) -> Result<Planned, RunError> {
        let s = cfg.settings();
        let likelihood = likelihood_for(s.likelihood, ds)?;
        let split = split::make_split(ds, cfg.holdout(), s.val_fraction, s.seed)?;
        if split.train.is_empty() {
            return Err(TrainError::NoTrainingCells.into());
        }
        let design = Design::from_dataset(ds)?;
        let estimate = Estimate::of(s, &Shape::of(ds, &design));
        if !estimate.fits() {
            const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
            return Err(RunError::TooBig {
                need_gib: estimate.memory_bytes / GIB,
                limit_gib: MEMORY_LIMIT / GIB,
            });
        }
        Ok(Planned {
            source: source.to_string(),
            cfg,
            likelihood,
            split,
            design,
        })
    }

    /// The session of a plan made on `ds`, on `device`.
    pub fn build(ds: Dataset, plan: Planned, device: &Device) -> Result<Self, RunError> {
        let Planned {
            source,
            cfg,
            likelihood,
            split,
            design,
        } = plan;
        let s = cfg.settings();
        let prep = preprocess::prepare(&ds, &split.train, s.genes);
        let kind = s.model.sams_kind();
        let conditioning = if kind.is_some_and(|k| !k.composes()) {
            let labels: BTreeSet<&String> = split
                .train
                .iter()
                .chain(&split.val)
                .map(|&i| &ds.conditions[i])
                .filter(|c| **c != ds.control_label)
                .collect();
            Conditioning::OneHot(labels.into_iter().cloned().collect())
        } else {
            Conditioning::Dosage
        };
        let train = cell_set(&prep, &conditioning, &design, &ds, &split.train, likelihood);
        let val = cell_set(&prep, &conditioning, &design, &ds, &split.val, likelihood);
        let n_treat = conditioning.n_treatments(&design);
        let n_obs: Vec<usize> = (0..n_treat)
            .map(|t| {
                (0..train.condition.rows)
                    .filter(|&r| train.condition.get(r, t) != 0.0)
                    .count()
            })
            .collect();
        let model = match kind {
            None => Model::Cvae(
                CvaeConfig::new(
                    prep.panel.len(),
                    design.n_perturbations(),
                    design.n_covariates(),
                )
                .with_latent(s.latent)
                .with_hidden(s.hidden)
                .with_likelihood(likelihood)
                .init(cfg.model_seed(), device),
            ),
            Some(kind) => Model::Sams(
                SamsConfig {
                    kind,
                    n_genes: prep.panel.len(),
                    n_treatments: n_treat,
                    n_covariates: design.n_covariates(),
                    latent: s.latent,
                    hidden: s.hidden,
                    likelihood,
                    options: cfg.sams(),
                    n_obs: n_obs.iter().map(|&n| n as f32).collect(),
                }
                .init(cfg.model_seed(), device),
            ),
        };
        let trainer = Trainer::new(model, cfg.train(), &train, &val, device)?;
        let trained = split
            .train
            .iter()
            .flat_map(|&i| design.members(&ds.conditions[i]))
            .collect();
        Ok(Self {
            cfg,
            source,
            ds,
            split,
            prep,
            design,
            likelihood,
            trainer,
            conditioning,
            n_obs,
            truth: None,
            trained,
            device: device.clone(),
        })
    }

    /// Sets the true sparse effects to draw beside the learned masks (simulated data).
    pub fn with_truth(mut self, truth: MaskTruth) -> Self {
        self.truth = Some(truth);
        self
    }

    /// `cells` encoded for the model under `label` (their own conditions if None).
    pub fn encode(&self, cells: &[usize], label: Option<&str>) -> Matrix {
        self.conditioning
            .encode(&self.design, &self.ds, cells, label)
    }

    pub async fn step(&mut self) -> Result<EpochRecord, RunError> {
        Ok(self.trainer.run_epoch().await?)
    }

    pub fn is_done(&self) -> bool {
        self.trainer.is_done()
    }

    pub fn progress(&self) -> Progress {
        Progress {
            epoch: self.trainer.epoch(),
            budget: self.trainer.budget(),
            done: self.trainer.is_done(),
        }
    }

    /// Cells baselines and Mode B may use: everything not held out for testing.
    pub fn seen(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .split
            .train
            .iter()
            .chain(&self.split.val)
            .copied()
            .collect();
        v.sort_unstable();
        v
    }

    /// Covariate index and held-out level of a group hold-out (the group-shift baseline's).
    pub(crate) fn group(&self) -> Option<(usize, String)> {
        match self.cfg.holdout() {
            Holdout::Group { covariate, level } => self
                .ds
                .covariate_names
                .iter()
                .position(|c| c == covariate)
                .map(|ci| (ci, level.clone())),
            _ => None,
        }
    }
}
