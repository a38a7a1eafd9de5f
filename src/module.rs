//! The models' math: plain burn modules with no knowledge of data loading, training loops or
//! devices beyond the one their parameters live on.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::activation::{leaky_relu, log_softmax};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::rng::Rng;
use crate::sams::{GlobalNoise, SamsKind, SamsVae};

/// Observation model of the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Likelihood {
    /// Gaussian on standardised log-normalised values, with a learned per-gene scale.
    Gaussian,
    /// Negative binomial on counts: mean = library size × softmax(decoder), learned per-gene
    /// inverse dispersion.
    Nb,
}

impl Likelihood {
    pub fn name(self) -> &'static str {
        match self {
            Likelihood::Gaussian => "gaussian",
            Likelihood::Nb => "nb",
        }
    }
}

impl std::str::FromStr for Likelihood {
    type Err = ModelConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "gaussian" | "normal" => Ok(Likelihood::Gaussian),
            "nb" | "negative-binomial" | "negbin" => Ok(Likelihood::Nb),
            other => Err(ModelConfigError::UnknownLikelihood(other.to_string())),
        }
    }
}

/// One rule per variant, so callers (CLI flags, page controls) can point at the exact setting.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ModelConfigError {
    #[error("the latent size must be at least 1 (got {0})")]
    Latent(usize),
    #[error("the hidden size must be at least 1 (got {0})")]
    Hidden(usize),
    #[error("the model needs at least one gene (got {0})")]
    Genes(usize),
    #[error("unknown likelihood `{0}`: expected `nb` (counts) or `gaussian` (log-normalised values)")]
    UnknownLikelihood(String),
    #[error("latent size {0} is larger than the supported maximum of {1}")]
    LatentTooLarge(usize, usize),
    #[error("hidden size {0} is larger than the supported maximum of {1}")]
    HiddenTooLarge(usize, usize),
}

/// Architecture of the conditional VAE.
#[derive(Config, Debug)]
pub struct CvaeConfig {
    pub n_genes: usize,
    /// Width of the dosage vector: one column per single perturbation, so `A+B` = A + B.
    pub n_perturbations: usize,
    /// Width of the concatenated covariate one-hot encodings.
    pub n_covariates: usize,
    #[config(default = 10)]
    pub latent: usize,
    #[config(default = 128)]
    pub hidden: usize,
    #[config(default = "Likelihood::Nb")]
    pub likelihood: Likelihood,
}

pub const MAX_LATENT: usize = 512;
pub const MAX_HIDDEN: usize = 4096;

impl CvaeConfig {
    pub fn validate(&self) -> Result<(), ModelConfigError> {
        if self.n_genes == 0 {
            return Err(ModelConfigError::Genes(self.n_genes));
        }
        if self.latent == 0 {
            return Err(ModelConfigError::Latent(self.latent));
        }
        if self.latent > MAX_LATENT {
            return Err(ModelConfigError::LatentTooLarge(self.latent, MAX_LATENT));
        }
        if self.hidden == 0 {
            return Err(ModelConfigError::Hidden(self.hidden));
        }
        if self.hidden > MAX_HIDDEN {
            return Err(ModelConfigError::HiddenTooLarge(self.hidden, MAX_HIDDEN));
        }
        Ok(())
    }

    /// Weights are drawn from the host RNG (not the backend's), so a seed gives the same
    /// initial model on every backend.
    pub fn init(&self, seed: u64, device: &Device) -> Result<Cvae, ModelConfigError> {
        self.validate()?;
        let mut rng = Rng::derive(seed, "cvae-init");
        let cond = self.n_perturbations + self.n_covariates;
        Ok(Cvae {
            enc_hidden: Dense::new(self.n_genes + cond, self.hidden, &mut rng, device),
            enc_mu: Dense::new(self.hidden, self.latent, &mut rng, device),
            enc_logvar: Dense::new(self.hidden, self.latent, &mut rng, device),
            dec_hidden: Dense::new(self.latent + cond, self.hidden, &mut rng, device),
            dec_out: Dense::new(self.hidden, self.n_genes, &mut rng, device),
            gene_log_scale: Param::from_tensor(Tensor::zeros([self.n_genes], device)),
            likelihood: self.likelihood,
            latent: self.latent,
        })
    }
}

/// The models a run can train. The trainer and generation code see only this enum, so a new
/// model family is one more variant here, not another trainer.
#[derive(Module, Debug)]
pub enum Model {
    Cvae(Cvae),
    /// SAMS-VAE, its mean-field variant, CPA-VAE or SVAE+ (see [`crate::sams`]).
    Sams(SamsVae),
}

impl Model {
    pub fn loss(&self, batch: Batch, beta: f64, rng: &mut Rng) -> LossOutput {
        match self {
            Model::Cvae(m) => m.loss(batch, beta, rng),
            Model::Sams(m) => m.loss(batch, beta, rng),
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

    /// True when the model's masks are due to start at this 0-based epoch.
    pub fn needs_alignment(&self, epoch: usize) -> bool {
        matches!(self, Model::Sams(m) if m.needs_alignment(epoch))
    }

    /// Starts the masks (see [`SamsVae::align`]); nothing for the cVAE.
    pub async fn align(&mut self, rng: &mut Rng) -> Result<(), crate::train::TrainError> {
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
    pub fn log_weights(&self, batch: Batch, k: usize, noise: Option<&GlobalNoise>, rng: &mut Rng) -> Tensor<2> {
        match (self, noise) {
            (Model::Sams(m), Some(noise)) => m.log_weights(batch, noise, rng),
            (Model::Sams(m), None) => m.log_weights(batch, &m.draw_noise(k, rng), rng),
            (Model::Cvae(m), _) => m.log_weights(batch, k, rng),
        }
    }
}

/// Fully connected layer initialised from the host RNG (uniform ±1/√fan_in, zero bias).
#[derive(Module, Debug)]
pub struct Dense {
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
}

impl Dense {
    pub fn new(d_in: usize, d_out: usize, rng: &mut Rng, device: &Device) -> Self {
        let bound = 1.0 / (d_in.max(1) as f64).sqrt();
        let w: Vec<f32> = (0..d_in * d_out).map(|_| ((rng.uniform() * 2.0 - 1.0) * bound) as f32).collect();
        Self {
            weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), device)),
            bias: Param::from_tensor(Tensor::zeros([d_out], device)),
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        // [batch, d_in] · [d_in, d_out] + [1, d_out]
        x.matmul(self.weight.val()) + self.bias.val().unsqueeze::<2>()
    }
}

/// Conditional VAE: q(z | x, c) and p(x | z, c), c = [dosage, covariate one-hot].
#[derive(Module, Debug)]
pub struct Cvae {
    pub enc_hidden: Dense,
    pub enc_mu: Dense,
    pub enc_logvar: Dense,
    pub dec_hidden: Dense,
    pub dec_out: Dense,
    /// Per gene: log inverse dispersion (NB) or log standard deviation (Gaussian).
    pub gene_log_scale: Param<Tensor<1>>,
    #[module(skip)]
    pub likelihood: Likelihood,
    pub latent: usize,
}

/// What the decoder says about each cell and gene, before sampling.
pub struct DecoderOutput {
    /// NB: log of the mean count; Gaussian: the mean of standardised values. [cells, genes]
    pub location: Tensor<2>,
    /// NB: log inverse dispersion; Gaussian: log standard deviation. [genes]
    pub log_scale: Tensor<1>,
}

/// Every loss term by name, per cell averaged over the batch (scvi-tools' LossOutput idea):
/// the trainer logs each one, so a user can see what the optimiser traded.
pub struct LossOutput {
    /// The objective being minimised. [1]
    pub loss: Tensor<1>,
    /// Its named parts (e.g. `recon`, `kl`). [1] each
    pub terms: Vec<(&'static str, Tensor<1>)>,
}

impl LossOutput {
    /// `loss` first, then the terms in order.
    pub fn names(&self) -> Vec<&'static str> {
        std::iter::once("loss").chain(self.terms.iter().map(|t| t.0)).collect()
    }

    /// All values stacked in `names()` order, detached, for one readback per epoch. [1 + terms]
    pub fn stacked(&self) -> Tensor<1> {
        let mut v = vec![self.loss.clone().detach()];
        v.extend(self.terms.iter().map(|t| t.1.clone().detach()));
        Tensor::cat(v, 0)
    }
}

/// A minibatch as the model sees it.
pub struct Batch {
    /// Standardised log-normalised expression, the encoder input. [cells, genes]
    pub x_std: Tensor<2>,
    /// NB: raw counts; Gaussian: the same standardised values. [cells, genes]
    pub target: Tensor<2>,
    /// Library size over the panel (used by NB). [cells, 1]
    pub library: Tensor<2>,
    /// [dosage | covariate one-hot]. [cells, n_perturbations + n_covariates]
    pub condition: Tensor<2>,
}

const LEAK: f64 = 0.01;
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

impl Cvae {
    /// Posterior mean and log-variance. [cells, latent] each.
    pub fn encode(&self, x_std: Tensor<2>, condition: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = leaky_relu(self.enc_hidden.forward(Tensor::cat(vec![x_std, condition], 1)), LEAK);
        let mu = self.enc_mu.forward(h.clone());
        let logvar = self.enc_logvar.forward(h).clamp(-12.0, 8.0);
        (mu, logvar)
    }

    /// `library` is only used by NB (log mean = log library + log softmax).
    pub fn decode(&self, z: Tensor<2>, condition: Tensor<2>, library: Tensor<2>) -> DecoderOutput {
        let h = leaky_relu(self.dec_hidden.forward(Tensor::cat(vec![z, condition], 1)), LEAK);
        let out = self.dec_out.forward(h); // [cells, genes]
        let location = decode_location(self.likelihood, out, library);
        DecoderOutput { location, log_scale: self.gene_log_scale.val().clamp(-8.0, 8.0) }
    }

    /// Negative log-likelihood per cell. [cells]
    pub fn nll(&self, out: &DecoderOutput, target: Tensor<2>) -> Tensor<1> {
        neg_log_lik(self.likelihood, out, target)
    }

    /// Importance log-weights log p(x | z, c) + log p(z) − log q(z | x, c) of `k` particles
    /// per cell. [k, cells]
    pub fn log_weights(&self, batch: Batch, k: usize, rng: &mut Rng) -> Tensor<2> {
        let device = batch.x_std.device();
        let n = batch.x_std.dims()[0];
        let rep = |x: Tensor<2>| -> Tensor<2> {
            let [r, c] = x.dims();
            x.unsqueeze::<3>().repeat_dim(0, k).reshape([k * r, c])
        };
        let eps = Tensor::from_data(TensorData::new(rng.normal_vec(k * n * self.latent), [k * n, self.latent]), &device);
        let (mu, logvar) = self.encode(batch.x_std, batch.condition.clone());
        let (mu, logvar) = (rep(mu), rep(logvar));
        let z = mu + logvar.clone().mul_scalar(0.5).exp() * eps.clone();
        // The ½ log 2π constants of p(z) and q(z) cancel.
        let log_ratio = z.clone().square().mul_scalar(-0.5).sum_dim(1) + (eps.square() + logvar).mul_scalar(0.5).sum_dim(1);
        let out = self.decode(z, rep(batch.condition), rep(batch.library));
        let log_lik = self.nll(&out, rep(batch.target)).neg();
        (log_lik + log_ratio.squeeze_dim::<1>(1)).reshape([k, n])
    }

    /// Negative ELBO with the KL term weighted by `beta`; noise comes from the host RNG.
    pub fn loss(&self, batch: Batch, beta: f64, rng: &mut Rng) -> LossOutput {
        let device = batch.x_std.device();
        let n = batch.x_std.dims()[0];
        let eps = Tensor::from_data(TensorData::new(rng.normal_vec(n * self.latent), [n, self.latent]), &device);
        let (mu, logvar) = self.encode(batch.x_std, batch.condition.clone());
        let z = mu.clone() + logvar.clone().mul_scalar(0.5).exp() * eps;
        let out = self.decode(z, batch.condition, batch.library);
        let recon = self.nll(&out, batch.target).mean(); // [1]
        // KL(N(mu, var) || N(0, 1)) summed over latent dims, averaged over cells.
        let kl = (logvar.clone().exp() + mu.square() - logvar - 1.0).mul_scalar(0.5).sum_dim(1).mean();
        let loss = recon.clone() + kl.clone().mul_scalar(beta);
        LossOutput { loss, terms: vec![("recon", recon), ("kl", kl)] }
    }

    /// Decoder output for cells decoded under `target` conditions (Mode A: z from the prior;
    /// Mode B: z from the posterior of the cells under their own conditions).
    pub fn predict(
        &self,
        x_std: Tensor<2>,
        own: Tensor<2>,
        target: Tensor<2>,
        library: Tensor<2>,
        prior: bool,
        rng: &mut Rng,
    ) -> DecoderOutput {
        let device = x_std.device();
        let n = x_std.dims()[0];
        let eps = Tensor::from_data(TensorData::new(rng.normal_vec(n * self.latent), [n, self.latent]), &device);
        let z = if prior {
            eps
        } else {
            let (mu, logvar) = self.encode(x_std, own);
            mu + logvar.mul_scalar(0.5).exp() * eps
        };
        self.decode(z, target, library)
    }
}

/// The decoder's location from its last layer: log mean count (NB: log library + log softmax)
/// or the Gaussian mean itself. [cells, genes]
pub fn decode_location(likelihood: Likelihood, out: Tensor<2>, library: Tensor<2>) -> Tensor<2> {
    match likelihood {
        Likelihood::Nb => log_softmax(out, 1) + library.log(),
        Likelihood::Gaussian => out,
    }
}

/// Negative log-likelihood per cell. [cells]
pub fn neg_log_lik(likelihood: Likelihood, out: &DecoderOutput, target: Tensor<2>) -> Tensor<1> {
    let log_scale = out.log_scale.clone().unsqueeze::<2>(); // [1, genes]
    let log_p = match likelihood {
        Likelihood::Nb => nb_log_prob(target, out.location.clone(), log_scale),
        Likelihood::Gaussian => {
            let z = (target - out.location.clone()) * log_scale.clone().neg().exp();
            z.square().mul_scalar(-0.5) - log_scale - HALF_LN_2PI
        }
    };
    log_p.sum_dim(1).squeeze_dim::<1>(1).neg()
}

/// log NB(x; mean = exp(log_mu), inverse dispersion theta = exp(log_theta)). [cells, genes]
pub fn nb_log_prob(x: Tensor<2>, log_mu: Tensor<2>, log_theta: Tensor<2>) -> Tensor<2> {
    let theta = log_theta.clone().exp(); // [1, genes]
    let mu = log_mu.clone().exp();
    let log_theta_mu = (mu + theta.clone()).log(); // log(theta + mu)
    lgamma(x.clone() + theta.clone()) - lgamma(theta.clone()) - lgamma(x.clone() + 1.0)
        + theta * (log_theta - log_theta_mu.clone())
        + x * (log_mu - log_theta_mu)
}

/// ln Γ(z) for z > 0, differentiable: shift by 6, then Stirling's series (error < 1e-9 there).
/// burn has no lgamma op, and the NB likelihood needs one in its dispersion gradient.
pub fn lgamma<const D: usize>(z: Tensor<D>) -> Tensor<D> {
    let shift = (z.clone() * (z.clone() + 1.0) * (z.clone() + 2.0)).log()
        + ((z.clone() + 3.0) * (z.clone() + 4.0) * (z.clone() + 5.0)).log();
    let w = z + 6.0;
    let inv = w.clone().recip();
    let inv2 = inv.clone().square();
    let series = inv.clone() * (inv2.clone() * (inv2.mul_scalar(1.0 / 1260.0) - 1.0 / 360.0) + 1.0 / 12.0);
    (w.clone() - 0.5) * w.clone().log() - w + HALF_LN_2PI + series - shift
}
