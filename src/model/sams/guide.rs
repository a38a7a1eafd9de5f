//! The global variables of the SAMS family (masks and embeddings): host-drawn noise, one draw
//! per particle, their share of each cell's loss; and the loss, the importance weights and
//! prediction built on them.

use burn::tensor::activation::{leaky_relu, log_sigmoid, sigmoid};
use burn::tensor::{Device, Tensor};

use super::{SamsKind, SamsVae};
use crate::model::layers::{Batch, DecoderOutput, HALF_LN_2PI, LEAK, LossOutput, repeat_rows};
use crate::rng::Rng;
use crate::tensor::{tensor2, tensor3};

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

impl SamsVae {
    pub fn draw_noise(&self, count: usize, rng: &mut Rng) -> GlobalNoise {
        let n = count * self.spec.n_treatments * self.spec.latent;
        let logistic = (0..n)
            .map(|_| {
                let u = rng.uniform().clamp(1e-7, 1.0 - 1e-7);
                (u.ln() - (1.0 - u).ln()) as f32
            })
            .collect();
        let normal = rng.normal_vec(n);
        GlobalNoise {
            count,
            logistic,
            normal,
        }
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
            e.div_scalar(s.prior_scale).square().mul_scalar(-0.5)
                - (s.prior_scale.ln() + HALF_LN_2PI)
        };
        let mask_log_p = |m: Tensor<3>| -> Tensor<3> {
            let lp = s.mask_prior.ln();
            let lq = (1.0 - s.mask_prior).ln();
            m.mul_scalar(lp - lq).add_scalar(lq)
        };
        match s.kind {
            SamsKind::Correlated | SamsKind::MeanField => {
                let Some(logits) = g.mask_logits.as_ref().map(|p| p.val()) else {
                    unreachable!("masked kinds have logits")
                };
                let (mask, mask_term) = if s.masks_on {
                    let (mask, log_q_m) = self.sample_masks(logits, logistic);
                    let term = (mask_log_p(mask.clone()) - log_q_m)
                        .sum_dim(2)
                        .squeeze_dim::<2>(2);
                    (mask, term)
                } else {
                    // Before alignment every mask is 1 and not part of the objective (CPA-VAE).
                    (Tensor::<3>::ones([p, t, l], device), zeros())
                };
                let (mu, log_sd) = match (&g.emb_net, &g.emb_mu, &g.emb_log_sd) {
                    (Some(net), _, _) => {
                        // q(e_t | m_t): [m_t, onehot(t)] → hidden → (μ, log σ), per particle.
                        let onehot = Tensor::<2>::eye(t, device)
                            .unsqueeze::<3>()
                            .repeat_dim(0, p); // [P, T, T]
                        let input =
                            Tensor::cat(vec![mask.clone(), onehot], 2).reshape([p * t, l + t]);
                        let h = leaky_relu(net.hidden.forward(input), LEAK);
                        let mu = net.mu.forward(h.clone()).reshape([p, t, l]);
                        let log_sd = net.log_sd.forward(h).clamp(-7.0, 2.0).reshape([p, t, l]);
                        (mu, log_sd)
                    }
                    (None, Some(mu), Some(ls)) => (
                        mu.val().unsqueeze::<3>(),
                        ls.val().clamp(-7.0, 2.0).unsqueeze::<3>(),
                    ),
                    _ => unreachable!("every SAMS guide has embeddings"),
                };
                let e = mu + log_sd.clone().exp() * eps.clone(); // [P, T, L]
                let log_q_e = eps.square().mul_scalar(-0.5) - log_sd - HALF_LN_2PI;
                let emb_term = (emb_log_p(e.clone()) - log_q_e)
                    .sum_dim(2)
                    .squeeze_dim::<2>(2);
                GlobalDraw {
                    shift: mask * e,
                    mask_term,
                    emb_term,
                }
            }
            SamsKind::Cpa => {
                let (Some(mu), Some(ls)) = (&g.emb_mu, &g.emb_log_sd) else {
                    unreachable!("CPA has embeddings")
                };
                let log_sd = ls.val().clamp(-7.0, 2.0).unsqueeze::<3>();
                let e = mu.val().unsqueeze::<3>() + log_sd.clone().exp() * eps.clone();
                let log_q_e = eps.square().mul_scalar(-0.5) - log_sd - HALF_LN_2PI;
                let emb_term = (emb_log_p(e.clone()) - log_q_e)
                    .sum_dim(2)
                    .squeeze_dim::<2>(2);
                GlobalDraw {
                    shift: e,
                    mask_term: zeros(),
                    emb_term,
                }
            }
            SamsKind::SvaePlus => {
                let (Some(logits), Some(mu)) = (&g.mask_logits, &g.emb_mu) else {
                    unreachable!("SVAE+ has masks and means")
                };
                let logits = logits.val();
                let (mask, mask_term) = if s.masks_on {
                    let (mask, _) = self.sample_masks(logits.clone(), logistic);
                    // q(m | π) = p(m | π), so only log Beta(π; 1, β) = ln β + (β − 1) ln(1 − π) remains.
                    let log_beta = log_sigmoid(logits.neg())
                        .mul_scalar(s.svae_beta - 1.0)
                        .add_scalar(s.svae_beta.ln()); // [T, L]
                    (mask, log_beta.sum_dim(1).reshape([1, t]).repeat_dim(0, p)) // [P, T, L], [P, T]
                } else {
                    (Tensor::<3>::ones([p, t, l], device), zeros())
                };
                GlobalDraw {
                    shift: mask * mu.val().unsqueeze::<3>(),
                    mask_term,
                    emb_term: zeros(),
                }
            }
        }
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

    /// Negative Monte-Carlo ELBO per cell, averaged over `particles` and the batch; the local
    /// KL and the global terms are weighted by `beta` (the KL warm-up).
    pub fn loss(&self, batch: Batch, beta: f64, rng: &mut Rng) -> LossOutput {
        let noise = self.draw_noise(self.spec.particles, rng);
        self.loss_with(batch, beta, &noise, rng)
    }

    /// [`SamsVae::loss`] with the draw of the globals given (one per particle), and only the
    /// per-cell noise taken from `rng`. Every cell's share of the global terms is its own
    /// (see `charge`), so the losses of the parts of a batch under one draw, weighted by their
    /// cells, add up to the loss of the whole batch under it.
    pub fn loss_with(
        &self,
        batch: Batch,
        beta: f64,
        noise: &GlobalNoise,
        rng: &mut Rng,
    ) -> LossOutput {
        let device = batch.x_std.device();
        let s = &self.spec;
        let p = s.particles;
        assert_eq!(noise.count, p, "one draw of the globals per particle");
        let n = batch.x_std.dims()[0];
        let eps = tensor2(rng.normal_vec(p * n * s.latent), [p * n, s.latent], &device);
        let draw = self.globals(noise, &device);
        let (d, cov) = self.split_condition(batch.condition);
        let offset = self.offsets(d.clone(), draw.shift.clone()); // [P·n, L]
        let hx = repeat_rows(self.encode_x(batch.x_std, cov.clone()), p); // [P·n, H]
        let cov_rep = cov.map(|c| repeat_rows(c, p));
        let (z, kl_local) = if s.kind == SamsKind::SvaePlus {
            // z ~ q(z | x̃); prior N(m ⊙ μ, I) for the cell's condition.
            let (mu, logvar) = self.encode_rest(hx, None);
            let z = mu.clone() + logvar.clone().mul_scalar(0.5).exp() * eps;
            let kl = (logvar.clone().exp() + (mu - offset).square() - logvar - 1.0)
                .mul_scalar(0.5)
                .sum_dim(1);
            (z, kl)
        } else {
            let offset_h = self.offsets_hidden(d.clone(), draw.shift, offset.clone());
            let (mu, logvar) = self.encode_rest(hx, Some(offset_h));
            let z_basal = mu.clone() + logvar.clone().mul_scalar(0.5).exp() * eps;
            let kl = (logvar.clone().exp() + mu.square() - logvar - 1.0)
                .mul_scalar(0.5)
                .sum_dim(1);
            (z_basal + offset, kl)
        };
        let library = repeat_rows(batch.library, p);
        let out = self.decode(z, cov_rep, library);
        let recon = self
            .nll_particles(&out, batch.target, batch.ln_factorial, p)
            .mean(); // [1]
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
        let offset = self.offsets(d.clone(), draw.shift.clone());
        let hx = repeat_rows(self.encode_x(batch.x_std, cov.clone()), k);
        let cov_rep = cov.map(|c| repeat_rows(c, k));
        let svae = s.kind == SamsKind::SvaePlus;
        let offset_h = (!svae).then(|| self.offsets_hidden(d, draw.shift, offset.clone()));
        let (mu, logvar) = self.encode_rest(hx, offset_h);
        let sample = mu + logvar.clone().mul_scalar(0.5).exp() * eps.clone();
        // log q − constants: −½ε² − ½ log σ²; log p: −½ (z − prior mean)².
        let log_q = (eps.square() + logvar).mul_scalar(-0.5).sum_dim(1);
        let (z, log_p) = if svae {
            let lp = (sample.clone() - offset)
                .square()
                .mul_scalar(-0.5)
                .sum_dim(1);
            (sample, lp)
        } else {
            let lp = sample.clone().square().mul_scalar(-0.5).sum_dim(1);
            (sample + offset, lp)
        };
        let out = self.decode(z, cov_rep, repeat_rows(batch.library, k));
        let log_lik = self
            .nll_particles(&out, batch.target, batch.ln_factorial, k)
            .neg();
        (log_lik + (log_p - log_q).squeeze_dim::<1>(1)).reshape([k, n])
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
            d.reshape([n, 1, s.n_treatments])
                .matmul(draw.shift.clone())
                .reshape([n, s.latent])
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
            let off_h = self.enc_offset.forward(off_own);
            let (mu, logvar) = self.encode_rest(self.encode_x(x_std, cov_own), Some(off_h));
            mu + logvar.mul_scalar(0.5).exp() * eps + off_target
        };
        self.decode(z, cov_target, library)
    }
}
