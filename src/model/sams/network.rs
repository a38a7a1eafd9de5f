//! The per-cell networks of the SAMS family: splitting a condition into treatments and
//! covariates, the basal encoder, the decoder, the perturbation offsets and the
//! negative log-likelihood of several particles per cell.

use burn::tensor::Tensor;
use burn::tensor::activation::leaky_relu;

use super::SamsVae;
use crate::model::layers::{DecoderOutput, LEAK};
use crate::model::likelihood::{decode_location, neg_log_lik_particles};

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

    /// q(z_basal | x̃, offset): mean and log-variance. `hx` is [rows, hidden], `offset_h` the
    /// offset through the encoder's offset layer, [rows, hidden] ([`SamsVae::offsets_hidden`]).
    pub(super) fn encode_rest(
        &self,
        hx: Tensor<2>,
        offset_h: Option<Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>) {
        let pre = match offset_h {
            Some(o) => hx + o,
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

    /// The encoder's offset layer on every particle's and cell's offset Σ_t d_t shift_t
    /// (`offset`, [P·n, L]): [P·n, hidden].
    ///
    /// The layer is linear, so it may take the T shifts first ([P·T, L] · [L, hidden]) and sum
    /// those per cell: the same sum with T·(L + n) products per hidden unit and particle rather
    /// than n·L. With a few dozen treatments that is most of a product the size of a decoder
    /// layer saved at every step; with more treatments than that pays for, the offsets go
    /// through the layer as they are.
    pub(super) fn offsets_hidden(
        &self,
        d: Tensor<2>,
        shift: Tensor<3>,
        offset: Tensor<2>,
    ) -> Tensor<2> {
        let [p, t, l] = shift.dims();
        let n = d.dims()[0];
        if t * (l + n) >= n * l {
            return self.enc_offset.forward(offset);
        }
        let w = self.enc_offset.weight.val(); // [L, hidden]
        let h = w.dims()[1];
        let shift_h = shift.reshape([p * t, l]).matmul(w).reshape([p, t, h]); // [P, T, hidden]
        self.offsets(d, shift_h) + self.enc_offset.bias.val().unsqueeze::<2>()
    }

    /// Σ_t d_t shift_t per particle and cell: [P, n, T] · [P, T, L] → [P·n, L] (any last
    /// dimension: [`SamsVae::offsets_hidden`] passes shifts already through a layer).
    pub(super) fn offsets(&self, d: Tensor<2>, shift: Tensor<3>) -> Tensor<2> {
        let [p, _, l] = shift.dims();
        let n = d.dims()[0];
        d.unsqueeze::<3>()
            .repeat_dim(0, p)
            .matmul(shift)
            .reshape([p * n, l])
    }

    /// Negative log-likelihood of `p` particles per cell, [P·n] rows in particle-major order
    /// ([`neg_log_lik_particles`]: the NB terms that do not involve the mean once per cell).
    pub(super) fn nll_particles(
        &self,
        out: &DecoderOutput,
        target: Tensor<2>,
        ln_factorial: Tensor<2>,
        p: usize,
    ) -> Tensor<1> {
        neg_log_lik_particles(self.spec.likelihood, out, target, ln_factorial, p)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData};

    use crate::config::Settings;
    use crate::model::Likelihood;
    use crate::model::sams::{SamsConfig, SamsKind};
    use crate::rng::Rng;

    /// The offset layer taken over the T shifts first is the same sum as the layer over every
    /// cell's offset, up to float rounding; with more treatments than that pays for, the
    /// offsets go through the layer as they are, bit for bit.
    #[test]
    fn the_offset_layer_over_the_shifts_equals_the_layer_over_the_offsets() {
        let device = Device::flex();
        let (p, n, l) = (3, 40, 12);
        for t in [4, 30] {
            let options = Settings::default().check().expect("defaults").sams();
            let m = SamsConfig {
                kind: SamsKind::Correlated,
                n_genes: 10,
                n_treatments: t,
                n_covariates: 0,
                latent: l,
                hidden: 16,
                likelihood: Likelihood::Nb,
                options,
                n_obs: vec![10.0; t],
            }
            .init(1, &device);
            let mut rng = Rng::new(2);
            let d: Vec<f32> = (0..n * t)
                .map(|_| rng.bernoulli(0.2) as u8 as f32)
                .collect();
            let d = Tensor::<2>::from_data(TensorData::new(d, [n, t]), &device);
            let shift = Tensor::<3>::from_data(
                TensorData::new(rng.normal_vec(p * t * l), [p, t, l]),
                &device,
            );
            let offset = m.offsets(d.clone(), shift.clone()); // [P·n, L]
            let direct = m.enc_offset.forward(offset.clone()).into_data();
            let got = m.offsets_hidden(d, shift, offset).into_data();
            let (a, b) = (
                direct.try_to_vec::<f32>().expect("f32"),
                got.try_to_vec::<f32>().expect("f32"),
            );
            assert_eq!(a.len(), p * n * 16);
            let factored = t * (l + n) < n * l;
            assert_eq!(
                factored,
                t == 4,
                "the factored form is taken when it is cheaper"
            );
            for (x, y) in a.iter().zip(&b) {
                if factored {
                    assert!((x - y).abs() <= 1e-5 * (1.0 + x.abs()), "{x} vs {y}");
                } else {
                    assert_eq!(x.to_bits(), y.to_bits());
                }
            }
        }
    }
}
