//! The conditional VAE: q(z | x, c) and p(x | z, c), c = [dosage, covariate one-hot].

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, Tensor, TensorData};

use super::layers::{Batch, DecoderOutput, Dense, LEAK, LossOutput, repeat_rows};
use super::likelihood::{Likelihood, decode_location, neg_log_lik, neg_log_lik_particles};
use crate::rng::Rng;

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

impl CvaeConfig {
    /// Weights are drawn from the host RNG (not the backend's), so a seed gives the same
    /// initial model on every backend.
    pub fn init(&self, seed: u64, device: &Device) -> Cvae {
        let mut rng = Rng::derive(seed, "cvae-init");
        let cond = self.n_perturbations + self.n_covariates;
        Cvae {
            enc_hidden: Dense::new(self.n_genes + cond, self.hidden, &mut rng, device),
            enc_mu: Dense::new(self.hidden, self.latent, &mut rng, device),
            enc_logvar: Dense::new(self.hidden, self.latent, &mut rng, device),
            dec_hidden: Dense::new(self.latent + cond, self.hidden, &mut rng, device),
            dec_out: Dense::new(self.hidden, self.n_genes, &mut rng, device),
            gene_log_scale: Param::from_tensor(Tensor::zeros([self.n_genes], device)),
            likelihood: self.likelihood,
            latent: self.latent,
        }
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

impl Cvae {
    /// Posterior mean and log-variance. [cells, latent] each.
    pub fn encode(&self, x_std: Tensor<2>, condition: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = leaky_relu(
            self.enc_hidden
                .forward(Tensor::cat(vec![x_std, condition], 1)),
            LEAK,
        );
        let mu = self.enc_mu.forward(h.clone());
        let logvar = self.enc_logvar.forward(h).clamp(-12.0, 8.0);
        (mu, logvar)
    }

    /// `library` is only used by NB (log mean = log library + log softmax).
    pub fn decode(&self, z: Tensor<2>, condition: Tensor<2>, library: Tensor<2>) -> DecoderOutput {
        let h = leaky_relu(
            self.dec_hidden.forward(Tensor::cat(vec![z, condition], 1)),
            LEAK,
        );
        let out = self.dec_out.forward(h); // [cells, genes]
        let location = decode_location(self.likelihood, out, library);
        DecoderOutput {
            location,
            log_scale: self.gene_log_scale.val().clamp(-8.0, 8.0),
        }
    }

    /// Negative log-likelihood per cell. [cells]
    pub fn nll(
        &self,
        out: &DecoderOutput,
        target: Tensor<2>,
        ln_factorial: Tensor<2>,
    ) -> Tensor<1> {
        neg_log_lik(self.likelihood, out, target, ln_factorial)
    }

    /// Importance log-weights log p(x | z, c) + log p(z) − log q(z | x, c) of `k` particles
    /// per cell. [k, cells]
    pub fn log_weights(&self, batch: Batch, k: usize, rng: &mut Rng) -> Tensor<2> {
        let device = batch.x_std.device();
        let n = batch.x_std.dims()[0];
        let rep = |x: Tensor<2>| repeat_rows(x, k);
        let eps = Tensor::from_data(
            TensorData::new(rng.normal_vec(k * n * self.latent), [k * n, self.latent]),
            &device,
        );
        let (mu, logvar) = self.encode(batch.x_std, batch.condition.clone());
        let (mu, logvar) = (rep(mu), rep(logvar));
        let z = mu + logvar.clone().mul_scalar(0.5).exp() * eps.clone();
        // The ½ log 2π constants of p(z) and q(z) cancel.
        let log_ratio = z.clone().square().mul_scalar(-0.5).sum_dim(1)
            + (eps.square() + logvar).mul_scalar(0.5).sum_dim(1);
        let out = self.decode(z, rep(batch.condition), rep(batch.library));
        let log_lik =
            neg_log_lik_particles(self.likelihood, &out, batch.target, batch.ln_factorial, k).neg();
        (log_lik + log_ratio.squeeze_dim::<1>(1)).reshape([k, n])
    }

    /// Negative ELBO with the KL term weighted by `beta`; noise comes from the host RNG.
    pub fn loss(&self, batch: Batch, beta: f64, rng: &mut Rng) -> LossOutput {
        let device = batch.x_std.device();
        let n = batch.x_std.dims()[0];
        let eps = Tensor::from_data(
            TensorData::new(rng.normal_vec(n * self.latent), [n, self.latent]),
            &device,
        );
        let (mu, logvar) = self.encode(batch.x_std, batch.condition.clone());
        let z = mu.clone() + logvar.clone().mul_scalar(0.5).exp() * eps;
        let out = self.decode(z, batch.condition, batch.library);
        let recon = self.nll(&out, batch.target, batch.ln_factorial).mean(); // [1]
        // KL(N(mu, var) || N(0, 1)) summed over latent dims, averaged over cells.
        let kl = (logvar.clone().exp() + mu.square() - logvar - 1.0)
            .mul_scalar(0.5)
            .sum_dim(1)
            .mean();
        let loss = recon.clone() + kl.clone().mul_scalar(beta);
        LossOutput {
            loss,
            terms: vec![("recon", recon), ("kl", kl)],
        }
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
        let eps = Tensor::from_data(
            TensorData::new(rng.normal_vec(n * self.latent), [n, self.latent]),
            &device,
        );
        let z = if prior {
            eps
        } else {
            let (mu, logvar) = self.encode(x_std, own);
            mu + logvar.mul_scalar(0.5).exp() * eps
        };
        self.decode(z, target, library)
    }
}
