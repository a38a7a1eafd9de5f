//! The models' math: plain burn modules with no knowledge of data loading, training loops or
//! devices beyond the one their parameters live on.
//!
//! - [`layers`]: the dense layer, the batch, decoder and loss outputs every model shares;
//! - [`likelihood`]: NB / Gaussian observation models and their log-likelihoods;
//! - [`cvae`]: the conditional VAE;
//! - [`sams`]: the SAMS-VAE family (SAMS-VAE, its mean-field variant, CPA-VAE, SVAE+);
//! - here: the [`Model`] enum the trainer sees, and the configuration errors they share.

use burn::module::Module;
use burn::tensor::Tensor;

use crate::rng::Rng;
use crate::tensor::ReadbackError;

pub mod cvae;
pub mod layers;
pub mod likelihood;
pub mod sams;

pub use cvae::{Cvae, CvaeConfig};
pub use layers::{Batch, DecoderOutput, Dense, LossOutput};
pub use likelihood::{
    Likelihood, decode_location, lgamma, lgamma_digamma, lgamma_ratio_sum, nb_log_prob, neg_log_lik,
};
pub use sams::{GlobalNoise, SamsConfig, SamsKind, SamsOptions, SamsVae};

/// The models a run can train. The trainer and generation code see only this enum, so a new
/// model family is one more variant here, not another trainer.
// Only a handful of models exist at a time (the trained one and the best so far): the size of
// the larger variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    Cvae(Cvae),
    /// SAMS-VAE, its mean-field variant, CPA-VAE or SVAE+ (see [`sams`]).
    Sams(SamsVae),
}

impl Model {
    /// The training loss of a batch: the step's draw of the global variables (see
    /// [`Model::draw_step_noise`]), then each cell's noise, all from `rng`.
    pub fn loss(&self, batch: Batch, beta: f64, rng: &mut Rng) -> LossOutput {
        let global = self.draw_step_noise(rng);
        self.loss_with(batch, beta, global.as_ref(), rng)
    }

    /// One optimizer step's draw of the global variables (the SAMS family's masks and
    /// embeddings, one per training particle), to be shared by every part of the step's batch;
    /// `None` for a model without global variables.
    pub fn draw_step_noise(&self, rng: &mut Rng) -> Option<GlobalNoise> {
        match self {
            Model::Cvae(_) => None,
            Model::Sams(m) => Some(m.draw_noise(m.spec.particles, rng)),
        }
    }

    /// [`Model::loss`] of part of a step's batch under the step's `global` draw, with only
    /// the per-cell noise taken from `rng`. The terms are per-cell averages over the part, so
    /// the parts' values weighted by their cells add up to the whole batch's.
    pub fn loss_with(
        &self,
        batch: Batch,
        beta: f64,
        global: Option<&GlobalNoise>,
        rng: &mut Rng,
    ) -> LossOutput {
        match (self, global) {
            (Model::Cvae(m), _) => m.loss(batch, beta, rng),
            (Model::Sams(m), Some(g)) => m.loss_with(batch, beta, g, rng),
            (Model::Sams(m), None) => m.loss(batch, beta, rng),
        }
    }

    /// See [`Cvae::predict`] and [`SamsVae::predict`].
    pub fn predict(
        &self,
        x_std: Tensor<2>,
        own: Tensor<2>,
        target: Tensor<2>,
        library: Tensor<2>,
        prior: bool,
        rng: &mut Rng,
    ) -> DecoderOutput {
        match self {
            Model::Cvae(m) => m.predict(x_std, own, target, library, prior, rng),
            Model::Sams(m) => m.predict(x_std, own, target, library, prior, rng),
        }
    }

    pub fn likelihood(&self) -> Likelihood {
        match self {
            Model::Cvae(m) => m.likelihood,
            Model::Sams(m) => m.likelihood(),
        }
    }

    /// Epochs at the start of training whose objective differs from the final one.
    pub fn schedule_epochs(&self) -> usize {
        match self {
            Model::Cvae(_) => 0,
            Model::Sams(m) => m.schedule_epochs(),
        }
    }

    /// The epoch a masked model's masks start at, while they have not started yet.
    pub fn masks_start_at(&self) -> Option<usize> {
        match self {
            Model::Sams(m) => m.masks_start_at(),
            Model::Cvae(_) => None,
        }
    }

    /// Whether the masks are on (always for models without masks' unmasked start).
    pub fn masks_on(&self) -> bool {
        match self {
            Model::Sams(m) => m.spec.masks_on,
            Model::Cvae(_) => true,
        }
    }

    /// Restores the masks' state with a checkpoint's parameters (see [`crate::checkpoint`]).
    pub fn set_masks_on(&mut self, on: bool) {
        if let Model::Sams(m) = self {
            m.spec.masks_on = on;
        }
    }

    /// True when the model's masks are due to start at this 0-based epoch.
    pub fn needs_alignment(&self, epoch: usize) -> bool {
        matches!(self, Model::Sams(m) if m.needs_alignment(epoch))
    }

    /// Starts the masks (see [`SamsVae::align`]); nothing for the cVAE.
    pub async fn align(&mut self, rng: &mut Rng) -> Result<(), ReadbackError> {
        if let Model::Sams(m) = self {
            m.align(rng).await?;
        }
        Ok(())
    }

    /// The SAMS family member, if this is one.
    pub fn sams_kind(&self) -> Option<SamsKind> {
        match self {
            Model::Cvae(_) => None,
            Model::Sams(m) => Some(m.kind()),
        }
    }

    /// Parameters trained with their own learning rate (the global variational parameters).
    pub fn param_group_lr(&self) -> Option<(burn::module::ParamGroup, f64)> {
        match self {
            Model::Cvae(_) => None,
            Model::Sams(m) => Some(m.global_group()),
        }
    }

    /// Posterior mask probabilities. [treatments, latent]
    pub fn mask_probs(&self) -> Option<Tensor<2>> {
        match self {
            Model::Cvae(_) => None,
            Model::Sams(m) => m.mask_probs(),
        }
    }

    /// Draws of the global variables for `k` importance particles (none for the cVAE), to be
    /// shared by every batch of one IWELBO evaluation.
    pub fn draw_noise(&self, k: usize, rng: &mut Rng) -> Option<GlobalNoise> {
        match self {
            Model::Cvae(_) => None,
            Model::Sams(m) => Some(m.draw_noise(k, rng)),
        }
    }

    /// Importance log-weights of `k` particles per cell. [k, cells]
    pub fn log_weights(
        &self,
        batch: Batch,
        k: usize,
        noise: Option<&GlobalNoise>,
        rng: &mut Rng,
    ) -> Tensor<2> {
        match (self, noise) {
            (Model::Sams(m), Some(noise)) => m.log_weights(batch, noise, rng),
            (Model::Sams(m), None) => m.log_weights(batch, &m.draw_noise(k, rng), rng),
            (Model::Cvae(m), _) => m.log_weights(batch, k, rng),
        }
    }
}
