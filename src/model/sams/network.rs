//! The per-cell networks of the SAMS family: splitting a condition into treatments and
//! covariates, the basal encoder, the decoder, the perturbation offsets and the
//! negative log-likelihood of several particles per cell.

use burn::tensor::Tensor;
use burn::tensor::activation::leaky_relu;

use super::SamsVae;
use crate::model::layers::{DecoderOutput, LEAK};
use crate::model::likelihood::{Likelihood, decode_location, lgamma, neg_log_lik};

impl SamsVae {
    /// Splits a condition matrix into treatments [cells, T] and covariates [cells, C].
    pub(super) fn split_condition(&self, condition: Tensor<2>) -> (Tensor<2>, Option<Tensor<2>>) {
        let [n, w] = condition.dims();
        let t = self.spec.n_treatments;
        let d = condition.clone().slice([0..n, 0..t]);
        let cov = (w > t).then(|| condition.slice([0..n, t..w]));
        (d, cov)
    }

    /// Encoder input part that does not depend on the particle. [cells, hidden]
    pub(super) fn encode_x(&self, x_std: Tensor<2>, cov: Option<Tensor<2>>) -> Tensor<2> {
        let input = match cov {
            Some(c) => Tensor::cat(vec![x_std, c], 1),
            None => x_std,
        };
        self.enc_x.forward(input)
    }

    /// q(z_basal | x̃, offset): mean and log-variance. `hx` is [rows, hidden], `offset` [rows, L].
    pub(super) fn encode_rest(
        &self,
        hx: Tensor<2>,
        offset: Option<Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let pre = match offset {
            Some(o) => hx + self.enc_offset.forward(o),
            None => hx,
        };
        let h = leaky_relu(pre, LEAK);
        (
            self.enc_mu.forward(h.clone()),
            self.enc_logvar.forward(h).clamp(-12.0, 8.0),
        )
    }

    pub(super) fn decode(
        &self,
        z: Tensor<2>,
        cov: Option<Tensor<2>>,
        library: Tensor<2>,
    ) -> DecoderOutput {
        let input = match cov {
            Some(c) => Tensor::cat(vec![z, c], 1),
            None => z,
        };
        let out = self
            .dec_out
            .forward(leaky_relu(self.dec_hidden.forward(input), LEAK));
        DecoderOutput {
            location: decode_location(self.spec.likelihood, out, library),
            log_scale: self.gene_log_scale.val().clamp(-8.0, 8.0),
        }
    }

    /// Σ_t d_t shift_t per particle and cell: [P, n, T] · [P, T, L] → [P·n, L].
    pub(super) fn offsets(&self, d: Tensor<2>, shift: Tensor<3>) -> Tensor<2> {
        let [p, _, l] = shift.dims();
        let n = d.dims()[0];
        d.unsqueeze::<3>()
            .repeat_dim(0, p)
            .matmul(shift)
            .reshape([p * n, l])
    }

    /// Negative log-likelihood of `p` particles per cell, [P·n] rows in particle-major order.
    /// The NB terms that do not involve the mean (the lgammas, the costliest part) are the
    /// same for every particle, so they are computed once per cell.
    pub(super) fn nll_particles(
        &self,
        out: &DecoderOutput,
        target: Tensor<2>,
        p: usize,
    ) -> Tensor<1> {
        match self.spec.likelihood {
            Likelihood::Gaussian => {
                neg_log_lik(Likelihood::Gaussian, out, Self::repeat_rows(target, p))
            }
            Likelihood::Nb => {
                let log_theta = out.log_scale.clone().unsqueeze::<2>(); // [1, genes]
                let theta = log_theta.clone().exp();
                let constant = (lgamma(target.clone() + theta.clone())
                    - lgamma(theta.clone())
                    - lgamma(target.clone() + 1.0))
                .sum_dim(1); // [n, 1]
                let log_mu = out.location.clone(); // [P·n, genes]
                let log_theta_mu = (log_mu.clone().exp() + theta.clone()).log();
                let x = Self::repeat_rows(target, p);
                let per = (theta * (log_theta - log_theta_mu.clone())
                    + x * (log_mu - log_theta_mu))
                    .sum_dim(1); // [P·n, 1]
                (per + Self::repeat_rows(constant, p))
                    .squeeze_dim::<1>(1)
                    .neg()
            }
        }
    }

    pub(super) fn repeat_rows(x: Tensor<2>, p: usize) -> Tensor<2> {
        let [n, c] = x.dims();
        if p == 1 {
            return x;
        }
        x.unsqueeze::<3>().repeat_dim(0, p).reshape([p * n, c])
    }
}
