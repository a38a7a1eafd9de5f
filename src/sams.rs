//! SAMS-VAE (sparse additive mechanism shift VAE, Bereket & Karaletsos 2023) and the two
//! relatives it is usually compared with, CPA-VAE and SVAE+, as one burn module.
//!
//! Generative model (SAMS-VAE): z_basal ~ N(0, I); per perturbation t an embedding
//! e_t ~ N(0, s²I) and a mask m_t ~ Bernoulli(π) (elementwise); a cell with dosage vector d has
//! z = z_basal + Σ_t d_t (m_t ⊙ e_t), decoded as in the cVAE. Masks and embeddings are global
//! (one per perturbation, shared by every cell that received it), so their prior/posterior
//! terms are charged to each cell as Σ_t 1[d_t ≠ 0] (log p − log q)_t / N_t.
//!
//! - `sams`: correlated guide, q(m) q(e | m) with q(e_t | m_t) = MLP([m_t, onehot(t)]);
//! - `sams-mf`: mean-field guide, q(m) q(e);
//! - `cpa`: no masks, z = z_basal + Σ_t d_t e_t;
//! - `svae-plus`: π_tk ~ Beta(1, β) (point estimate), m ~ Bernoulli(π), z ~ N(m_t ⊙ μ_t, I) with
//!   one-hot conditions — it cannot compose combinations it never saw.
//!
//! All noise (Gumbel, embedding and latent draws) comes from the host [`Rng`], so a seed gives
//! the same run natively and in the browser.

use std::collections::BTreeMap;

use burn::module::{Module, Param, ParamGroup};
use burn::tensor::activation::{leaky_relu, log_sigmoid, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::module::{Batch, DecoderOutput, Dense, Likelihood, LossOutput, ModelConfigError, decode_location, lgamma, neg_log_lik};
use crate::rng::Rng;

const LEAK: f64 = 0.01;
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;
/// Mask logits at alignment: on (P ≈ 0.95) where the rotated effect is clearly non-zero, off
/// (P ≈ 0.05) elsewhere; training moves them from there.
const MASK_ON_LOGIT: f32 = 3.0;
const MASK_OFF_LOGIT: f32 = -3.0;

/// Which member of the family a [`SamsVae`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SamsKind {
    /// SAMS-VAE with the correlated guide q(m) q(e | m).
    Correlated,
    /// SAMS-VAE with the mean-field guide q(m) q(e).
    MeanField,
    /// CPA-VAE: additive embeddings without masks.
    Cpa,
    /// SVAE+: sparse masks on a learned prior mean, one-hot conditions.
    SvaePlus,
}

impl SamsKind {
    /// The `--model` name.
    pub fn name(self) -> &'static str {
        match self {
            SamsKind::Correlated => "sams",
            SamsKind::MeanField => "sams-mf",
            SamsKind::Cpa => "cpa",
            SamsKind::SvaePlus => "svae-plus",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [SamsKind::Correlated, SamsKind::MeanField, SamsKind::Cpa, SamsKind::SvaePlus].into_iter().find(|k| k.name() == name)
    }

    pub fn has_masks(self) -> bool {
        !matches!(self, SamsKind::Cpa)
    }

    /// True when conditions enter as dosages (A+B = A + B), so an unseen combination of seen
    /// singles can be predicted. SVAE+ sees one-hot condition labels instead.
    pub fn composes(self) -> bool {
        !matches!(self, SamsKind::SvaePlus)
    }
}

/// User-facing settings of the SAMS-VAE family (ignored by the cVAE).
///
/// The defaults make masks sparse and right within a browser-scale budget (≤ 200 epochs on
/// ~3,000 cells): the model first learns its effects without masks, then the latent space is
/// rotated to make them sparse and the masks start from them (`align_epochs`); and the global
/// variational parameters (mask logits, embeddings) get their own learning rate, 50× the
/// network's. At one shared learning rate of 1e-3 the logits barely move in that budget, which
/// is what leaves the reference implementation's masks near 0.5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamsOptions {
    /// Prior probability π that a perturbation acts on a latent dimension.
    pub mask_prior: f64,
    /// Monte-Carlo particles per cell in the training ELBO.
    pub particles: usize,
    /// Particles K of the held-out importance-weighted ELBO.
    pub iwelbo_particles: usize,
    /// Learning rate of the global variational parameters (mask logits, embeddings).
    pub global_lr: f64,
    /// Initial logit of every mask probability when the masks are on from the first epoch
    /// (`align_epochs` 0); −1 (P ≈ 0.27), so a dimension has to earn its place.
    pub mask_init_logit: f64,
    /// Scale s of the embedding prior N(0, s²).
    pub embedding_prior_scale: f64,
    /// Gumbel-softmax temperature of the straight-through mask samples.
    pub temperature: f64,
    /// β of SVAE+'s Beta(1, β) prior on mask probabilities; `None`: (1 − π)/π, so the prior
    /// mean equals `mask_prior`.
    pub svae_beta: Option<f64>,
    /// Samples per condition for the model's average treatment effect.
    pub ate_samples: usize,
    /// Epochs trained without masks (as CPA-VAE) before the latent basis is rotated so that
    /// the learned effects are sparse and the masks are started from them (0: masks from the
    /// first epoch, as in the reference implementation; a run shorter than twice this starts
    /// them halfway). See [`SamsVae::align`]. Without it the masks become sparse but arbitrary:
    /// their pattern of shared dims does not match the true one.
    pub align_epochs: usize,
}

impl Default for SamsOptions {
    fn default() -> Self {
        Self {
            mask_prior: 0.01,
            particles: 5,
            iwelbo_particles: 100,
            global_lr: 0.05,
            mask_init_logit: -1.0,
            embedding_prior_scale: 1.0,
            temperature: 1.0,
            svae_beta: None,
            ate_samples: 1000,
            align_epochs: 100,
        }
    }
}

pub const MAX_PARTICLES: usize = 256;
pub const MAX_IWELBO_PARTICLES: usize = 10_000;
pub const MAX_ATE_SAMPLES: usize = 100_000;

/// One rule per variant, so a CLI flag or page control can be pointed at.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SamsConfigError {
    #[error("the mask prior probability must be strictly between 0 and 1 (got {0})")]
    MaskPrior(f64),
    #[error("particles must be between 1 and {MAX_PARTICLES} (got {0})")]
    Particles(usize),
    #[error("IWELBO particles K must be between 1 and {MAX_IWELBO_PARTICLES} (got {0})")]
    IwelboParticles(usize),
    #[error("the global learning rate must be a positive number below 1 (got {0})")]
    GlobalLr(f64),
    #[error("the initial mask logit must be a finite number between -20 and 20 (got {0})")]
    MaskInitLogit(f64),
    #[error("the embedding prior scale must be a positive finite number (got {0})")]
    EmbeddingScale(f64),
    #[error("the Gumbel-softmax temperature must be a positive finite number (got {0})")]
    Temperature(f64),
    #[error("SVAE+'s Beta(1, β) prior needs a positive finite β (got {0})")]
    SvaeBeta(f64),
    #[error("ATE samples must be between 1 and {MAX_ATE_SAMPLES} (got {0})")]
    AteSamples(usize),
    #[error("the masks must start within {MAX_EPOCHS} epochs (got align epochs {0})", MAX_EPOCHS = crate::train::MAX_EPOCHS)]
    AlignEpochs(usize),
    #[error(transparent)]
    Model(#[from] ModelConfigError),
}

impl SamsOptions {
    /// The settings every model's scoring uses (IWELBO particles, ATE samples).
    pub fn validate_scoring(&self) -> Result<(), SamsConfigError> {
        if self.iwelbo_particles == 0 || self.iwelbo_particles > MAX_IWELBO_PARTICLES {
            return Err(SamsConfigError::IwelboParticles(self.iwelbo_particles));
        }
        if self.ate_samples == 0 || self.ate_samples > MAX_ATE_SAMPLES {
            return Err(SamsConfigError::AteSamples(self.ate_samples));
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), SamsConfigError> {
        self.validate_scoring()?;
        if !(self.mask_prior > 0.0 && self.mask_prior < 1.0) {
            return Err(SamsConfigError::MaskPrior(self.mask_prior));
        }
        if self.particles == 0 || self.particles > MAX_PARTICLES {
            return Err(SamsConfigError::Particles(self.particles));
        }
        if !(self.global_lr > 0.0 && self.global_lr < 1.0) {
            return Err(SamsConfigError::GlobalLr(self.global_lr));
        }
        if !(self.mask_init_logit.is_finite() && self.mask_init_logit.abs() <= 20.0) {
            return Err(SamsConfigError::MaskInitLogit(self.mask_init_logit));
        }
        if !(self.embedding_prior_scale > 0.0 && self.embedding_prior_scale.is_finite()) {
            return Err(SamsConfigError::EmbeddingScale(self.embedding_prior_scale));
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(SamsConfigError::Temperature(self.temperature));
        }
        if let Some(b) = self.svae_beta
            && !(b > 0.0 && b.is_finite())
        {
            return Err(SamsConfigError::SvaeBeta(b));
        }
        if self.align_epochs > crate::train::MAX_EPOCHS {
            return Err(SamsConfigError::AlignEpochs(self.align_epochs));
        }
        Ok(())
    }

    pub fn svae_beta(&self) -> f64 {
        self.svae_beta.unwrap_or((1.0 - self.mask_prior) / self.mask_prior)
    }
}

/// Architecture and data-derived constants of a [`SamsVae`].
#[derive(Debug, Clone)]
pub struct SamsConfig {
    pub kind: SamsKind,
    pub n_genes: usize,
    /// Treatments: single perturbations (dosage columns), or condition labels for SVAE+.
    pub n_treatments: usize,
    pub n_covariates: usize,
    pub latent: usize,
    pub hidden: usize,
    pub likelihood: Likelihood,
    pub options: SamsOptions,
    /// Training cells that received each treatment (N_t); 0 for a treatment never trained on.
    pub n_obs: Vec<f32>,
}

/// Constants the module carries but never learns.
#[derive(Debug, Clone)]
pub struct SamsSpec {
    pub kind: SamsKind,
    pub likelihood: Likelihood,
    pub latent: usize,
    pub n_treatments: usize,
    pub n_covariates: usize,
    pub particles: usize,
    pub mask_prior: f64,
    pub prior_scale: f64,
    pub temperature: f64,
    pub svae_beta: f64,
    pub global_lr: f64,
    /// 1 / N_t, 0 where N_t = 0. [treatments]
    pub inv_n_obs: Vec<f32>,
    /// Epoch at which the masks start (0: from the start).
    pub align_epochs: usize,
    /// False while a masked model still trains without masks (every mask fixed at 1).
    pub masks_on: bool,
}

/// q(e_t | m_t) of the correlated guide: one hidden layer on [m_t, onehot(t)].
#[derive(Module, Debug)]
pub struct EmbeddingNet {
    pub hidden: Dense,
    pub mu: Dense,
    pub log_sd: Dense,
}

/// The global (per-perturbation) parameters; kept in one sub-module so the trainer can give
/// them their own learning rate.
#[derive(Module, Debug)]
pub struct Globals {
    /// Logits of q(m) (SAMS) or of the point estimate π (SVAE+). [treatments, latent]
    pub mask_logits: Option<Param<Tensor<2>>>,
    /// Mean of q(e) (mean-field SAMS, CPA) or the learned prior mean μ (SVAE+). [treatments, latent]
    pub emb_mu: Option<Param<Tensor<2>>>,
    /// Log standard deviation of q(e) (mean-field SAMS, CPA). [treatments, latent]
    pub emb_log_sd: Option<Param<Tensor<2>>>,
    /// q(e | m) (correlated SAMS).
    pub emb_net: Option<EmbeddingNet>,
}

#[derive(Module, Debug)]
pub struct SamsVae {
    /// Basal encoder, input part: [x̃ | covariates] → hidden.
    pub enc_x: Dense,
    /// Basal encoder, offset part: Σ_t d_t m_t ⊙ e_t → hidden (computed per particle, while
    /// the much wider x part is computed once per cell).
    pub enc_offset: Dense,
    pub enc_mu: Dense,
    pub enc_logvar: Dense,
    pub dec_hidden: Dense,
    pub dec_out: Dense,
    /// Per gene: log inverse dispersion (NB) or log standard deviation (Gaussian).
    pub gene_log_scale: Param<Tensor<1>>,
    pub globals: Globals,
    #[module(skip)]
    pub spec: SamsSpec,
}

impl SamsConfig {
    pub fn init(&self, seed: u64, device: &Device) -> Result<SamsVae, SamsConfigError> {
        self.options.validate()?;
        let check = crate::module::CvaeConfig::new(self.n_genes, self.n_treatments, self.n_covariates)
            .with_latent(self.latent)
            .with_hidden(self.hidden);
        check.validate()?;
        let mut rng = Rng::derive(seed, "sams-init");
        let (l, t, h) = (self.latent, self.n_treatments, self.hidden);
        let c = self.n_covariates;
        let full = |v: f32, rows: usize| Param::from_tensor(Tensor::<2>::full([rows, l], v, device));
        let kind = self.kind;
        let mask_logits = kind.has_masks().then(|| full(self.options.mask_init_logit as f32, t));
        let emb_mu = match kind {
            SamsKind::MeanField | SamsKind::Cpa | SamsKind::SvaePlus => {
                // Small random means break the symmetry between perturbations.
                let v: Vec<f32> = (0..t * l).map(|_| 0.1 * rng.normal() as f32).collect();
                Some(Param::from_tensor(Tensor::from_data(TensorData::new(v, [t, l]), device)))
            }
            SamsKind::Correlated => None,
        };
        let emb_log_sd = matches!(kind, SamsKind::MeanField | SamsKind::Cpa).then(|| full(-1.0, t));
        let emb_net = (kind == SamsKind::Correlated).then(|| EmbeddingNet {
            hidden: Dense::new(l + t, h, &mut rng, device),
            mu: Dense::new(h, l, &mut rng, device),
            log_sd: Dense::new(h, l, &mut rng, device),
        });
        let opts = &self.options;
        Ok(SamsVae {
            enc_x: Dense::new(self.n_genes + c, h, &mut rng, device),
            enc_offset: Dense::new(l, h, &mut rng, device),
            enc_mu: Dense::new(h, l, &mut rng, device),
            enc_logvar: Dense::new(h, l, &mut rng, device),
            dec_hidden: Dense::new(l + c, h, &mut rng, device),
            dec_out: Dense::new(h, self.n_genes, &mut rng, device),
            gene_log_scale: Param::from_tensor(Tensor::zeros([self.n_genes], device)),
            globals: Globals { mask_logits, emb_mu, emb_log_sd, emb_net },
            spec: SamsSpec {
                kind,
                likelihood: self.likelihood,
                latent: l,
                n_treatments: t,
                n_covariates: c,
                particles: opts.particles,
                mask_prior: opts.mask_prior,
                prior_scale: opts.embedding_prior_scale,
                temperature: opts.temperature,
                svae_beta: opts.svae_beta(),
                global_lr: opts.global_lr,
                inv_n_obs: self.n_obs.iter().map(|&n| if n > 0.0 { 1.0 / n } else { 0.0 }).collect(),
                align_epochs: opts.align_epochs,
                masks_on: !(kind.has_masks() && opts.align_epochs > 0),
            },
        })
    }
}

/// Host-drawn noise for `count` independent draws of the global variables.
#[derive(Debug, Clone)]
pub struct GlobalNoise {
    pub count: usize,
    /// Logistic noise of the Gumbel-softmax mask samples. [count · treatments · latent]
    pub logistic: Vec<f32>,
    /// Standard normal noise of the embeddings. [count · treatments · latent]
    pub normal: Vec<f32>,
}

/// One draw of the global variables per particle.
struct GlobalDraw {
    /// m ⊙ e (SAMS), e (CPA) or m ⊙ μ (SVAE+): what a dosage of 1 adds to z. [P, T, L]
    shift: Tensor<3>,
    /// log p − log q of the masks (SVAE+: log Beta(π)), summed over latent dims. [P, T]
    mask_term: Tensor<2>,
    /// log p − log q of the embeddings, summed over latent dims. [P, T]
    emb_term: Tensor<2>,
}

fn tensor3(v: Vec<f32>, shape: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn tensor2(v: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

impl SamsVae {
    pub fn kind(&self) -> SamsKind {
        self.spec.kind
    }

    pub fn likelihood(&self) -> Likelihood {
        self.spec.likelihood
    }

    /// The global parameters and their learning rate, for a separate optimiser group.
    pub fn global_group(&self) -> (ParamGroup, f64) {
        (ParamGroup::ids_from_module(self.globals.clone()), self.spec.global_lr)
    }

    /// Posterior mask probabilities σ(logits) (SVAE+: the point estimate of π); all 1 before
    /// the masks start. [treatments, latent]
    pub fn mask_probs(&self) -> Option<Tensor<2>> {
        let logits = self.globals.mask_logits.as_ref()?.val();
        Some(if self.spec.masks_on { sigmoid(logits) } else { logits.ones_like() })
    }

    /// The epoch the masks start at, while they have not started yet.
    pub fn masks_start_at(&self) -> Option<usize> {
        (!self.spec.masks_on).then_some(self.spec.align_epochs)
    }

    /// True when the masks are due to start (see [`SamsVae::align`]) at this 0-based epoch.
    pub fn needs_alignment(&self, epoch: usize) -> bool {
        !self.spec.masks_on && epoch >= self.spec.align_epochs
    }

    pub fn draw_noise(&self, count: usize, rng: &mut Rng) -> GlobalNoise {
        let n = count * self.spec.n_treatments * self.spec.latent;
        let logistic = (0..n)
            .map(|_| {
                let u = rng.uniform().clamp(1e-7, 1.0 - 1e-7);
                (u.ln() - (1.0 - u).ln()) as f32
            })
            .collect();
        let normal = rng.normal_vec(n);
        GlobalNoise { count, logistic, normal }
    }

    /// Straight-through Gumbel-softmax masks: hard 0/1 forward, the relaxed sample's gradient
    /// backward; log q from the exact Bernoulli. Returns (mask [P,T,L], log q(mask) [P,T,L]).
    fn sample_masks(&self, logits: Tensor<2>, logistic: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
        let l3 = logits.unsqueeze::<3>(); // [1, T, L]
        let noisy = l3.clone() + logistic; // [P, T, L]
        let soft = sigmoid(noisy.clone().div_scalar(self.spec.temperature));
        let hard = noisy.greater_elem(0.0).float();
        let mask = hard - soft.clone().detach() + soft;
        // log Bernoulli(m; σ(l)) = m·l + log σ(−l)
        let log_q = mask.clone() * l3.clone() + log_sigmoid(l3.neg());
        (mask, log_q)
    }

    fn globals(&self, noise: &GlobalNoise, device: &Device) -> GlobalDraw {
        let s = &self.spec;
        let (p, t, l) = (noise.count, s.n_treatments, s.latent);
        let logistic = tensor3(noise.logistic.clone(), [p, t, l], device);
        let eps = tensor3(noise.normal.clone(), [p, t, l], device);
        let g = &self.globals;
        let zeros = || Tensor::<2>::zeros([p, t], device);
        let emb_log_p = |e: Tensor<3>| -> Tensor<3> {
            e.div_scalar(s.prior_scale).square().mul_scalar(-0.5) - (s.prior_scale.ln() + HALF_LN_2PI)
        };
        let mask_log_p = |m: Tensor<3>| -> Tensor<3> {
            let lp = s.mask_prior.ln();
            let lq = (1.0 - s.mask_prior).ln();
            m.mul_scalar(lp - lq).add_scalar(lq)
        };
        match s.kind {
            SamsKind::Correlated | SamsKind::MeanField => {
                let Some(logits) = g.mask_logits.as_ref().map(|p| p.val()) else { unreachable!("masked kinds have logits") };
                let (mask, mask_term) = if s.masks_on {
                    let (mask, log_q_m) = self.sample_masks(logits, logistic);
                    let term = (mask_log_p(mask.clone()) - log_q_m).sum_dim(2).squeeze_dim::<2>(2);
                    (mask, term)
                } else {
                    // Before alignment every mask is 1 and not part of the objective (CPA-VAE).
                    (Tensor::<3>::ones([p, t, l], device), zeros())
                };
                let (mu, log_sd) = match (&g.emb_net, &g.emb_mu, &g.emb_log_sd) {
                    (Some(net), _, _) => {
                        // q(e_t | m_t): [m_t, onehot(t)] → hidden → (μ, log σ), per particle.
                        let onehot = Tensor::<2>::eye(t, device).unsqueeze::<3>().repeat_dim(0, p); // [P, T, T]
                        let input = Tensor::cat(vec![mask.clone(), onehot], 2).reshape([p * t, l + t]);
                        let h = leaky_relu(net.hidden.forward(input), LEAK);
                        let mu = net.mu.forward(h.clone()).reshape([p, t, l]);
                        let log_sd = net.log_sd.forward(h).clamp(-7.0, 2.0).reshape([p, t, l]);
                        (mu, log_sd)
                    }
                    (None, Some(mu), Some(ls)) => (mu.val().unsqueeze::<3>(), ls.val().clamp(-7.0, 2.0).unsqueeze::<3>()),
                    _ => unreachable!("every SAMS guide has embeddings"),
                };
                let e = mu + log_sd.clone().exp() * eps.clone(); // [P, T, L]
                let log_q_e = eps.square().mul_scalar(-0.5) - log_sd - HALF_LN_2PI;
                let emb_term = (emb_log_p(e.clone()) - log_q_e).sum_dim(2).squeeze_dim::<2>(2);
                GlobalDraw { shift: mask * e, mask_term, emb_term }
            }
            SamsKind::Cpa => {
                let (Some(mu), Some(ls)) = (&g.emb_mu, &g.emb_log_sd) else { unreachable!("CPA has embeddings") };
                let log_sd = ls.val().clamp(-7.0, 2.0).unsqueeze::<3>();
                let e = mu.val().unsqueeze::<3>() + log_sd.clone().exp() * eps.clone();
                let log_q_e = eps.square().mul_scalar(-0.5) - log_sd - HALF_LN_2PI;
                let emb_term = (emb_log_p(e.clone()) - log_q_e).sum_dim(2).squeeze_dim::<2>(2);
                GlobalDraw { shift: e, mask_term: zeros(), emb_term }
            }
            SamsKind::SvaePlus => {
                let (Some(logits), Some(mu)) = (&g.mask_logits, &g.emb_mu) else { unreachable!("SVAE+ has masks and means") };
                let logits = logits.val();
                let (mask, mask_term) = if s.masks_on {
                    let (mask, _) = self.sample_masks(logits.clone(), logistic);
                    // q(m | π) = p(m | π), so only log Beta(π; 1, β) = ln β + (β − 1) ln(1 − π) remains.
                    let log_beta = log_sigmoid(logits.neg()).mul_scalar(s.svae_beta - 1.0).add_scalar(s.svae_beta.ln()); // [T, L]
                    (mask, log_beta.sum_dim(1).reshape([1, t]).repeat_dim(0, p)) // [P, T, L], [P, T]
                } else {
                    (Tensor::<3>::ones([p, t, l], device), zeros())
                };
                GlobalDraw { shift: mask * mu.val().unsqueeze::<3>(), mask_term, emb_term: zeros() }
            }
        }
    }

    /// Splits a condition matrix into treatments [cells, T] and covariates [cells, C].
    fn split_condition(&self, condition: Tensor<2>) -> (Tensor<2>, Option<Tensor<2>>) {
        let [n, w] = condition.dims();
        let t = self.spec.n_treatments;
        let d = condition.clone().slice([0..n, 0..t]);
        let cov = (w > t).then(|| condition.slice([0..n, t..w]));
        (d, cov)
    }

    /// Encoder input part that does not depend on the particle. [cells, hidden]
    fn encode_x(&self, x_std: Tensor<2>, cov: Option<Tensor<2>>) -> Tensor<2> {
        let input = match cov {
            Some(c) => Tensor::cat(vec![x_std, c], 1),
            None => x_std,
        };
        self.enc_x.forward(input)
    }

    /// q(z_basal | x̃, offset): mean and log-variance. `hx` is [rows, hidden], `offset` [rows, L].
    fn encode_rest(&self, hx: Tensor<2>, offset: Option<Tensor<2>>) -> (Tensor<2>, Tensor<2>) {
        let pre = match offset {
            Some(o) => hx + self.enc_offset.forward(o),
            None => hx,
        };
        let h = leaky_relu(pre, LEAK);
        (self.enc_mu.forward(h.clone()), self.enc_logvar.forward(h).clamp(-12.0, 8.0))
    }

    fn decode(&self, z: Tensor<2>, cov: Option<Tensor<2>>, library: Tensor<2>) -> DecoderOutput {
        let input = match cov {
            Some(c) => Tensor::cat(vec![z, c], 1),
            None => z,
        };
        let out = self.dec_out.forward(leaky_relu(self.dec_hidden.forward(input), LEAK));
        DecoderOutput {
            location: decode_location(self.spec.likelihood, out, library),
            log_scale: self.gene_log_scale.val().clamp(-8.0, 8.0),
        }
    }

    /// Σ_t d_t shift_t per particle and cell: [P, n, T] · [P, T, L] → [P·n, L].
    fn offsets(&self, d: Tensor<2>, shift: Tensor<3>) -> Tensor<2> {
        let [p, _, l] = shift.dims();
        let n = d.dims()[0];
        d.unsqueeze::<3>().repeat_dim(0, p).matmul(shift).reshape([p * n, l])
    }

    /// Epochs during which the objective is still being reshaped (the unmasked start).
    pub fn schedule_epochs(&self) -> usize {
        if self.spec.kind.has_masks() { self.spec.align_epochs } else { 0 }
    }

    /// Each cell's share of the global terms: Σ_t 1[d_t ≠ 0] term_t / N_t. `term` is [P, T]
    /// and is averaged over particles first. [cells]
    fn charge(&self, d: Tensor<2>, term: Tensor<2>) -> Tensor<1> {
        let device = d.device();
        let t = self.spec.n_treatments;
        let inv = tensor2(self.spec.inv_n_obs.clone(), [1, t], &device);
        let w = d.abs().greater_elem(0.0).float() * inv; // [n, T]
        let mean = term.mean_dim(0).reshape([t, 1]); // [T, 1]
        w.matmul(mean).squeeze_dim::<1>(1)
    }

    /// Negative log-likelihood of `p` particles per cell, [P·n] rows in particle-major order.
    /// The NB terms that do not involve the mean (the lgammas, the costliest part) are the
    /// same for every particle, so they are computed once per cell.
    fn nll_particles(&self, out: &DecoderOutput, target: Tensor<2>, p: usize) -> Tensor<1> {
        match self.spec.likelihood {
            Likelihood::Gaussian => neg_log_lik(Likelihood::Gaussian, out, Self::repeat_rows(target, p)),
            Likelihood::Nb => {
                let log_theta = out.log_scale.clone().unsqueeze::<2>(); // [1, genes]
                let theta = log_theta.clone().exp();
                let constant = (lgamma(target.clone() + theta.clone()) - lgamma(theta.clone()) - lgamma(target.clone() + 1.0))
                    .sum_dim(1); // [n, 1]
                let log_mu = out.location.clone(); // [P·n, genes]
                let log_theta_mu = (log_mu.clone().exp() + theta.clone()).log();
                let x = Self::repeat_rows(target, p);
                let per = (theta * (log_theta - log_theta_mu.clone()) + x * (log_mu - log_theta_mu)).sum_dim(1); // [P·n, 1]
                (per + Self::repeat_rows(constant, p)).squeeze_dim::<1>(1).neg()
            }
        }
    }

    fn repeat_rows(x: Tensor<2>, p: usize) -> Tensor<2> {
        let [n, c] = x.dims();
        if p == 1 {
            return x;
        }
        x.unsqueeze::<3>().repeat_dim(0, p).reshape([p * n, c])
    }

    /// Negative Monte-Carlo ELBO per cell, averaged over `particles` and the batch; the local
    /// KL and the global terms are weighted by `beta` (the KL warm-up).
    pub fn loss(&self, batch: Batch, beta: f64, rng: &mut Rng) -> LossOutput {
        let device = batch.x_std.device();
        let s = &self.spec;
        let p = s.particles;
        let n = batch.x_std.dims()[0];
        let noise = self.draw_noise(p, rng);
        let eps = tensor2(rng.normal_vec(p * n * s.latent), [p * n, s.latent], &device);
        let draw = self.globals(&noise, &device);
        let (d, cov) = self.split_condition(batch.condition);
        let offset = self.offsets(d.clone(), draw.shift); // [P·n, L]
        let hx = Self::repeat_rows(self.encode_x(batch.x_std, cov.clone()), p); // [P·n, H]
        let cov_rep = cov.map(|c| Self::repeat_rows(c, p));
        let (z, kl_local) = if s.kind == SamsKind::SvaePlus {
            // z ~ q(z | x̃); prior N(m ⊙ μ, I) for the cell's condition.
            let (mu, logvar) = self.encode_rest(hx, None);
            let z = mu.clone() + logvar.clone().mul_scalar(0.5).exp() * eps;
            let kl = (logvar.clone().exp() + (mu - offset).square() - logvar - 1.0).mul_scalar(0.5).sum_dim(1);
            (z, kl)
        } else {
            let (mu, logvar) = self.encode_rest(hx, Some(offset.clone()));
            let z_basal = mu.clone() + logvar.clone().mul_scalar(0.5).exp() * eps;
            let kl = (logvar.clone().exp() + mu.square() - logvar - 1.0).mul_scalar(0.5).sum_dim(1);
            (z_basal + offset, kl)
        };
        let library = Self::repeat_rows(batch.library, p);
        let out = self.decode(z, cov_rep, library);
        let recon = self.nll_particles(&out, batch.target, p).mean(); // [1]
        let kl = kl_local.mean(); // [1]
        // Global terms are log p − log q; the loss charges their negation (a KL-like cost).
        let kl_mask = self.charge(d.clone(), draw.mask_term).mean().neg();
        let kl_emb = self.charge(d, draw.emb_term).mean().neg();
        let loss = recon.clone() + (kl.clone() + kl_mask.clone() + kl_emb.clone()).mul_scalar(beta);
        let mut terms = vec![("recon", recon), ("kl", kl)];
        if s.kind.has_masks() {
            terms.push(("kl_mask", kl_mask));
        }
        if s.kind != SamsKind::SvaePlus {
            terms.push(("kl_embedding", kl_emb));
        }
        LossOutput { loss, terms }
    }

    /// Importance log-weights log p(x | z) + log p(z_basal) − log q(z_basal | x̃, offset) for
    /// `noise.count` particles, each with its own draw of the globals (shared across cells, so
    /// call with the same `noise` for every batch). Globals are not scored: this is the
    /// predictive IWELBO of the reference implementation. [K, cells]
    pub fn log_weights(&self, batch: Batch, noise: &GlobalNoise, rng: &mut Rng) -> Tensor<2> {
        let device = batch.x_std.device();
        let s = &self.spec;
        let k = noise.count;
        let n = batch.x_std.dims()[0];
        let eps = tensor2(rng.normal_vec(k * n * s.latent), [k * n, s.latent], &device);
        let draw = self.globals(noise, &device);
        let (d, cov) = self.split_condition(batch.condition);
        let offset = self.offsets(d, draw.shift);
        let hx = Self::repeat_rows(self.encode_x(batch.x_std, cov.clone()), k);
        let cov_rep = cov.map(|c| Self::repeat_rows(c, k));
        let svae = s.kind == SamsKind::SvaePlus;
        let (mu, logvar) = self.encode_rest(hx, (!svae).then(|| offset.clone()));
        let sample = mu + logvar.clone().mul_scalar(0.5).exp() * eps.clone();
        // log q − constants: −½ε² − ½ log σ²; log p: −½ (z − prior mean)².
        let log_q = (eps.square() + logvar).mul_scalar(-0.5).sum_dim(1);
        let (z, log_p) = if svae {
            let lp = (sample.clone() - offset).square().mul_scalar(-0.5).sum_dim(1);
            (sample, lp)
        } else {
            let lp = sample.clone().square().mul_scalar(-0.5).sum_dim(1);
            (sample + offset, lp)
        };
        let out = self.decode(z, cov_rep, Self::repeat_rows(batch.library, k));
        let log_lik = self.nll_particles(&out, batch.target, k).neg();
        (log_lik + (log_p - log_q).squeeze_dim::<1>(1)).reshape([k, n])
    }

    /// The embedding means with every mask on, [treatments, latent]: the effects an unmasked
    /// model has learned.
    fn unmasked_effects(&self, device: &Device) -> Option<Tensor<2>> {
        let (t, l) = (self.spec.n_treatments, self.spec.latent);
        match (&self.globals.emb_net, &self.globals.emb_mu) {
            (Some(net), _) => {
                let input = Tensor::cat(vec![Tensor::<2>::ones([t, l], device), Tensor::<2>::eye(t, device)], 1); // [T, L + T]
                Some(net.mu.forward(leaky_relu(net.hidden.forward(input), LEAK)))
            }
            (None, Some(mu)) => Some(mu.val()),
            _ => None,
        }
    }

    /// Starts the masks of a model trained so far without them.
    ///
    /// The effects learned without masks live in an arbitrary rotation of the latent space
    /// (nothing in an isotropic prior prefers one), while masks need a basis in which each
    /// perturbation moves few dims. So the latent space is rotated by the sparsest rotation of
    /// the effects ([`crate::rotation`]) — encoder output, offset input, decoder input and the
    /// embeddings alike, so the model computes the same function — and each mask starts on
    /// where its rotated effect is clearly non-zero. Variances rotate only approximately (a
    /// diagonal Gaussian does not stay diagonal), and the correlated guide's dependence on the
    /// mask is folded into its bias, to be learned afresh.
    pub async fn align(&mut self, rng: &mut Rng) -> Result<(), crate::train::TrainError> {
        let device = self.enc_mu.bias.val().device();
        let (t, l) = (self.spec.n_treatments, self.spec.latent);
        let Some(effects) = self.unmasked_effects(&device) else {
            self.spec.masks_on = true;
            return Ok(());
        };
        let effects = crate::train::read_matrix(effects.detach()).await?;
        // Only perturbations seen in training carry information about the basis.
        let seen: Vec<usize> = (0..t).filter(|&k| self.spec.inv_n_obs[k] > 0.0).collect();
        let rows: Vec<Vec<f64>> = seen.iter().map(|&k| effects.row(k).iter().map(|&v| v as f64).collect()).collect();
        let found = crate::rotation::sparse_rotation(&rows, 16, rng);
        let r = tensor2(found.rotation.iter().map(|&v| v as f32).collect(), [l, l], &device); // [L, L]
        let r2 = r.clone().square();
        let rt = r.clone().transpose();

        fn set<const D: usize>(p: &mut Param<Tensor<D>>, f: impl FnOnce(Tensor<D>) -> Tensor<D>) {
            *p = p.clone().map(|v| {
                let out = f(v).detach();
                if out.is_autodiff() { out.require_grad() } else { out }
            });
        }
        let right = |m: &Tensor<2>| { let m = m.clone(); move |w: Tensor<2>| w.matmul(m) };
        // A layer whose outputs are latent: means rotate by R, log-variances (approximately) by R².
        let rotate_outputs = |d: &mut Dense, m: &Tensor<2>| {
            set(&mut d.weight, right(m));
            let m = m.clone();
            set(&mut d.bias, move |b| b.unsqueeze::<2>().matmul(m).reshape([l]));
        };
        // Outputs in latent space: z_new = z_old · R.
        rotate_outputs(&mut self.enc_mu, &r);
        rotate_outputs(&mut self.enc_logvar, &r2);
        // Inputs in latent space: z_old = z_new · Rᵀ, so W_new = Rᵀ W on the latent rows.
        set(&mut self.enc_offset.weight, |w| rt.clone().matmul(w));
        set(&mut self.dec_hidden.weight, |w| {
            let [rows, cols] = w.dims();
            let z = rt.clone().matmul(w.clone().slice([0..l, 0..cols]));
            if rows > l { Tensor::cat(vec![z, w.slice([l..rows, 0..cols])], 0) } else { z }
        });
        if let Some(net) = self.globals.emb_net.as_mut() {
            rotate_outputs(&mut net.mu, &r);
            rotate_outputs(&mut net.log_sd, &r2);
            // The mask input was all ones: fold it into the bias and start its weights at 0.
            let w = net.hidden.weight.val();
            let cols = w.dims()[1];
            let ones_part = w.clone().slice([0..l, 0..cols]).sum_dim(0).reshape([cols]); // [H]
            set(&mut net.hidden.bias, |b| b + ones_part);
            set(&mut net.hidden.weight, |w| {
                let rows = w.dims()[0];
                Tensor::cat(vec![w.clone().slice([0..l, 0..cols]).zeros_like(), w.slice([l..rows, 0..cols])], 0)
            });
        }
        if let Some(mu) = self.globals.emb_mu.as_mut() {
            set(mu, right(&r));
        }
        if let Some(ls) = self.globals.emb_log_sd.as_mut() {
            set(ls, right(&r2));
        }
        // Masks start on where the rotated effect is clearly non-zero: above a quarter of its
        // row's largest entry and above the rotation's noise scale ε.
        let mut rotated = vec![vec![0.0; l]; t];
        for (row, &k) in found.rotated.iter().zip(&seen) {
            rotated[k] = row.clone();
        }
        let logits: Vec<f32> = rotated
            .iter()
            .flat_map(|row| {
                let max = row.iter().fold(0.0f64, |a, &x| a.max(x.abs()));
                row.iter()
                    .map(move |&x| if x.abs() >= (0.25 * max).max(found.scale) { MASK_ON_LOGIT } else { MASK_OFF_LOGIT })
                    .collect::<Vec<_>>()
            })
            .collect();
        if let Some(ml) = self.globals.mask_logits.as_mut() {
            let dev = device.clone();
            set(ml, move |_| tensor2(logits, [t, l], &dev));
        }
        self.spec.masks_on = true;
        Ok(())
    }

    /// Decoder output for cells decoded under `target` conditions, each cell with its own
    /// draw of the globals from q. Mode A (`prior`): z_basal ~ N(0, I); Mode B: z_basal from the
    /// basal encoder given the cell and its own condition's offset.
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
        let s = &self.spec;
        let n = x_std.dims()[0];
        let noise = self.draw_noise(n, rng);
        let eps = tensor2(rng.normal_vec(n * s.latent), [n, s.latent], &device);
        let draw = self.globals(&noise, &device); // one particle per cell
        let per_cell = |d: Tensor<2>| -> Tensor<2> {
            // [n, 1, T] · [n, T, L] → [n, L]
            d.reshape([n, 1, s.n_treatments]).matmul(draw.shift.clone()).reshape([n, s.latent])
        };
        let (d_own, cov_own) = self.split_condition(own);
        let (d_target, cov_target) = self.split_condition(target);
        let off_own = per_cell(d_own);
        let off_target = per_cell(d_target);
        let z = if prior {
            eps + off_target
        } else if s.kind == SamsKind::SvaePlus {
            let (mu, logvar) = self.encode_rest(self.encode_x(x_std, cov_own), None);
            mu + logvar.mul_scalar(0.5).exp() * eps - off_own + off_target
        } else {
            let (mu, logvar) = self.encode_rest(self.encode_x(x_std, cov_own), Some(off_own));
            mu + logvar.mul_scalar(0.5).exp() * eps + off_target
        };
        self.decode(z, cov_target, library)
    }
}

/// The true sparse structure of a simulated dataset: per perturbation, the effect on each true
/// latent dimension (0 where it has none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaskTruth {
    pub latent: usize,
    pub effects: BTreeMap<String, Vec<f64>>,
}

impl MaskTruth {
    pub fn from_sample(truth: &crate::sample::SampleTruth) -> Self {
        let latent = truth.config.latent.max(2);
        let effects = truth
            .perturbations
            .iter()
            .map(|(name, e)| {
                let mut row = vec![0.0; latent];
                for (&d, &v) in e.dims.iter().zip(&e.effect) {
                    if d < latent {
                        row[d] = v;
                    }
                }
                (name.clone(), row)
            })
            .collect();
        Self { latent, effects }
    }

    /// The true effect of a condition label: a single's own, or a combination's (`A+B`) sum of
    /// its singles' (SVAE+ has one row per condition label).
    pub fn effect_of(&self, label: &str) -> Option<Vec<f64>> {
        if let Some(e) = self.effects.get(label) {
            return Some(e.clone());
        }
        let mut sum = vec![0.0; self.latent];
        for part in label.split('+') {
            let e = self.effects.get(part.trim())?;
            sum.iter_mut().zip(e).for_each(|(s, v)| *s += v);
        }
        Some(sum)
    }

    /// Reads a truth file: the sample's (`perturbations.*.dims`, `config.latent`) or the
    /// benchmark's (`perturbations.*.active_latent_dims`, `n_latent`) layout.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let perts = v.get("perturbations").and_then(|p| p.as_object()).ok_or("no `perturbations` object")?;
        let mut dims_of = BTreeMap::new();
        for (name, e) in perts {
            let dims = e.get("dims").or_else(|| e.get("active_latent_dims")).and_then(|d| d.as_array());
            let effect = e.get("effect").and_then(|d| d.as_array());
            let (Some(dims), Some(effect)) = (dims, effect) else {
                return Err(format!("perturbation `{name}` lacks `dims`/`active_latent_dims` or `effect`"));
            };
            let dims: Option<Vec<usize>> = dims.iter().map(|d| d.as_u64().map(|x| x as usize)).collect();
            let effect: Option<Vec<f64>> = effect.iter().map(|x| x.as_f64()).collect();
            match (dims, effect) {
                (Some(d), Some(e)) if d.len() == e.len() => dims_of.insert(name.clone(), (d, e)),
                _ => return Err(format!("perturbation `{name}`: dims and effects must be equally long lists of numbers")),
            };
        }
        let max_dim = dims_of.values().flat_map(|(d, _)| d.iter().copied()).max().map_or(0, |m| m + 1);
        let latent = v
            .get("n_latent")
            .or_else(|| v.get("config").and_then(|c| c.get("latent")))
            .and_then(|x| x.as_u64())
            .map_or(max_dim, |x| (x as usize).max(max_dim));
        if latent == 0 || latent > 4096 {
            return Err(format!("implausible latent size {latent}"));
        }
        let effects = dims_of
            .into_iter()
            .map(|(name, (d, e))| {
                let mut row = vec![0.0; latent];
                for (i, v) in d.into_iter().zip(e) {
                    row[i] = v;
                }
                (name, row)
            })
            .collect();
        Ok(Self { latent, effects })
    }
}

/// Mean number of latent dims per perturbation with posterior mask probability > 0.5.
pub fn mean_active(probs: &[Vec<f64>]) -> f64 {
    if probs.is_empty() {
        return 0.0;
    }
    probs.iter().map(|r| r.iter().filter(|&&p| p > 0.5).count() as f64).sum::<f64>() / probs.len() as f64
}

/// Overlap of two perturbations' masks: Σ_k p_sk p_tk (the expected number of shared dims).
/// Rounded to 1e-9 so that reordering the dims (which reorders the sum) cannot split ties.
fn overlap(a: &[f64], b: &[f64]) -> f64 {
    let s: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    (s * 1e9).round() / 1e9
}

/// Spearman correlation between learned and true pairwise mask overlaps over every pair of
/// perturbations: it does not depend on how the learned latent dims are ordered. `learned` and
/// `truth` are aligned row by row (the truth as 0/1 or effect sizes; non-zero counts as active).
pub fn overlap_spearman(learned: &[Vec<f64>], truth: &[Vec<f64>]) -> Option<f64> {
    let active: Vec<Vec<f64>> = truth.iter().map(|r| r.iter().map(|&v| if v != 0.0 { 1.0 } else { 0.0 }).collect()).collect();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..learned.len().min(active.len()) {
        for j in i + 1..learned.len().min(active.len()) {
            a.push(overlap(&learned[i], &learned[j]));
            b.push(overlap(&active[i], &active[j]));
        }
    }
    crate::metrics::spearman(&a, &b)
}

/// An order of the learned latent dims that best lines them up with the true dims (greedy on
/// the agreement Σ_t p_tk · 1[truth_tj ≠ 0]), for drawing them side by side; unmatched learned
/// dims follow in their own order.
pub fn align_dims(learned: &[Vec<f64>], truth: &[Vec<f64>]) -> Vec<usize> {
    let l = learned.first().map_or(0, Vec::len);
    let lt = truth.first().map_or(0, Vec::len);
    let mut score = vec![vec![0.0; lt]; l];
    for (row, trow) in learned.iter().zip(truth) {
        for k in 0..l {
            for j in 0..lt {
                let a = if trow[j] != 0.0 { 1.0 } else { -0.25 };
                score[k][j] += row[k] * a;
            }
        }
    }
    let mut order = vec![usize::MAX; lt];
    let mut used = vec![false; l];
    for _ in 0..lt.min(l) {
        let mut best: Option<(f64, usize, usize)> = None;
        for k in (0..l).filter(|&k| !used[k]) {
            for j in (0..lt).filter(|&j| order[j] == usize::MAX) {
                if best.is_none_or(|b| score[k][j] > b.0) {
                    best = Some((score[k][j], k, j));
                }
            }
        }
        let Some((_, k, j)) = best else { break };
        order[j] = k;
        used[k] = true;
    }
    let mut out: Vec<usize> = order.into_iter().filter(|&k| k != usize::MAX).collect();
    out.extend((0..l).filter(|&k| !used[k]));
    out
}
