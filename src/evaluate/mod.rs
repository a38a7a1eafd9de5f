//! Predicting and scoring held-out cells once training is done: `Session::evaluate` and the
//! steps it is made of.
//!
//! - `plans`: the held-out conditions, their matched seen controls and reference means, and
//!   which of them the model can predict;
//! - `predict`: the model's, each baseline's and the ceiling's prediction per condition;
//! - `truth`: what one condition's predictions are scored against, computed once, and the
//!   scores of one prediction;
//! - `pooled`: one predictor's scores per condition and pooled, discrimination among
//!   conditions;
//! - `scores`: scores per predictor, the normalised score, the held-out likelihood bounds and
//!   the ATE;
//! - `figures`: the PCA and mask figures;
//! - `export`: held-out, predicted and control cells as one table, for an `.h5ad` export.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use crate::matrix::Matrix;
use crate::metrics;
use crate::pause::{NoPause, Pause};
use crate::pipeline::{RunError, Session};
use crate::results::{AteScores, DataSummary, Figures, RunResults, SplitSummary, TrainSummary};

mod export;
mod figures;
mod plans;
mod pooled;
mod predict;
mod provisional;
mod scores;
mod truth;

pub use export::ExportTable;
pub use plans::ConditionPlan;
pub use provisional::{PROVISIONAL_CELLS, ProvisionalScore};
pub use scores::LikelihoodBounds;

/// Genes per condition in the top-gene ATE correlation.
pub const ATE_TOP_GENES: usize = 20;
/// Top DE genes (smallest adjusted p) per condition for the MSE and sign accuracy (GEARS).
pub const DE_TOP_GENES: usize = 20;
/// Genes of largest |true shift| per condition in Systema's top-gene correlation.
pub const SYSTEMA_TOP_GENES: usize = 20;
/// Principal components used for the energy distance.
pub const PCA_COMPONENTS: usize = 20;
/// Cap on points per set in the energy distance (pairs grow quadratically).
pub const ENERGY_MAX_POINTS: usize = 600;
/// Cap on points per series stored for the PCA figure.
pub const FIGURE_MAX_POINTS: usize = 1500;

/// The model's ATE ([`Session::ate_scores`]) worked out elsewhere, on a session built from the
/// same data and settings and a model restored from this one's checkpoint: the page has a
/// second worker draw it while the first scores the rest, so that both cores score. Awaited
/// when the ATE is due, after everything else; `None` means it could not be had, and the ATE
/// is then computed here.
pub type AteElsewhere<'a> = Pin<Box<dyn Future<Output = Option<Option<AteScores>>> + 'a>>;

impl Session {
    /// Predicts every held-out condition with the model and the baselines and scores them.
    ///
    /// With more than one thread (natively), the model's ATE is drawn on a thread of its own
    /// while the rest is scored, as the page's helper does it ([`AteElsewhere`]): the same
    /// results, with the cores busier than the data parallelism inside each step keeps them.
    pub async fn evaluate(&self, seconds: f64, backend: &str) -> Result<RunResults, RunError> {
        crate::shards::beside(
            self.trainer.threads(),
            || async move { self.ate_scores(&self.plans()).await },
            |ate| async move {
                let ate = ate.map(|receive| -> AteElsewhere<'_> {
                    Box::pin(async move { receive.recv().ok().and_then(Result::ok) })
                });
                self.evaluate_predictors(seconds, backend, true, &NoPause, ate)
                    .await
            },
        )
        .await
    }

    /// [`Session::evaluate`], offering `pause` a pause between steps (per held-out condition
    /// and per score): the page's worker yields there, and stops scoring when asked to
    /// (`RunError::Stopped`, with the session untouched).
    pub async fn evaluate_pausing(
        &self,
        seconds: f64,
        backend: &str,
        pause: &dyn Pause,
    ) -> Result<RunResults, RunError> {
        self.evaluate_predictors(seconds, backend, true, pause, None)
            .await
    }

    /// [`Session::evaluate_pausing`] with the ATE taken from `ate` (see [`AteElsewhere`]):
    /// the same results as computing it here.
    pub async fn evaluate_sharing(
        &self,
        seconds: f64,
        backend: &str,
        pause: &dyn Pause,
        ate: AteElsewhere<'_>,
    ) -> Result<RunResults, RunError> {
        self.evaluate_predictors(seconds, backend, true, pause, Some(ate))
            .await
    }

    /// The baselines alone, scored on this split before anything is trained: the scoreboard
    /// a model will have to beat. The model has no row; its figures are empty.
    pub async fn evaluate_baselines(&self) -> Result<RunResults, RunError> {
        self.evaluate_predictors(0.0, "", false, &NoPause, None)
            .await
    }

    async fn evaluate_predictors(
        &self,
        seconds: f64,
        backend: &str,
        with_model: bool,
        pause: &dyn Pause,
        ate: Option<AteElsewhere<'_>>,
    ) -> Result<RunResults, RunError> {
        let plans = self.plans();
        let pca = self.fit_pca(&plans);
        pause.pause().await?;
        let predicted = self
            .predict_conditions(&plans, &pca, with_model, pause)
            .await?;
        let (scores, shift) = self
            .score_predictors(&plans, &predicted.per, pause, ate)
            .await?;
        let pca_fig = self.pca_figure(&plans, &pca, &predicted.model_cells);
        let split = self.split_summary(&plans, predicted.unpredictable);
        Ok(RunResults {
            cellshift_version: env!("CARGO_PKG_VERSION").to_string(),
            config: self.cfg.clone(),
            data: self.data_summary(),
            split,
            train: self.train_summary(seconds, backend),
            scores,
            figures: Figures {
                shift,
                pca: pca_fig,
                masks: if with_model {
                    self.mask_figure().await?
                } else {
                    None
                },
            },
        })
    }

    /// PCA fitted on true cells: all matched controls and all held-out perturbed cells.
    fn fit_pca(&self, plans: &[ConditionPlan]) -> metrics::Pca {
        let mut true_cells: Vec<usize> = plans
            .iter()
            .flat_map(|p| p.sources.iter().chain(&p.test))
            .copied()
            .collect();
        true_cells.sort_unstable();
        true_cells.dedup();
        metrics::Pca::fit(&self.prep.lognorm.select_rows(&true_cells), PCA_COMPONENTS)
    }

    fn data_summary(&self) -> DataSummary {
        let ds = &self.ds;
        DataSummary {
            cells: ds.n_cells(),
            genes: self.prep.panel.len(),
            genes_in_file: ds.n_genes(),
            sha256: ds.sha256.clone(),
            source: self.source.clone(),
            values: if ds.is_counts { "counts" } else { "continuous" }.into(),
            covariates: ds.covariate_names.clone(),
            conditions: ds.condition_counts(),
            warnings: ds.warnings.clone(),
        }
    }

    fn split_summary(
        &self,
        plans: &[ConditionPlan],
        unpredictable: BTreeMap<String, String>,
    ) -> SplitSummary {
        SplitSummary {
            kind: self.cfg.holdout().kind().into(),
            train_cells: self.split.train.len(),
            val_cells: self.split.val.len(),
            test_cells: self.split.test.len(),
            test_conditions: plans.iter().map(|p| p.label.clone()).collect(),
            unpredictable,
        }
    }

    fn train_summary(&self, seconds: f64, backend: &str) -> TrainSummary {
        TrainSummary {
            epochs: self.trainer.epoch(),
            best_epoch: self.trainer.best_epoch(),
            stopped_early: self.trainer.stopped_early(),
            seconds,
            backend: backend.to_string(),
            history: self.trainer.history().to_vec(),
            diverged: self.trainer.diverged().map(|d| {
                format!(
                    "the {} loss was not a finite number at epoch {}: the model from epoch {} is scored",
                    d.term,
                    d.epoch,
                    d.epoch - 1
                )
            }),
        }
    }
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
