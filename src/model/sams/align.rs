//! Starting the masks of a model trained so far without them: the latent space is rotated to
//! make the learned effects sparse, and the masks start from the rotated effects.

use burn::module::Param;
use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, Tensor};

use super::SamsVae;
use crate::model::layers::{Dense, LEAK};
use crate::rng::Rng;
use crate::tensor::{ReadbackError, read_matrix, tensor2};

/// Mask logits at alignment: on (P ≈ 0.95) where the rotated effect is clearly non-zero, off
/// (P ≈ 0.05) elsewhere; training moves them from there.
const MASK_ON_LOGIT: f32 = 3.0;
const MASK_OFF_LOGIT: f32 = -3.0;

impl SamsVae {
    /// The embedding means with every mask on, [treatments, latent]: the effects an unmasked
    /// model has learned.
    fn unmasked_effects(&self, device: &Device) -> Option<Tensor<2>> {
        let (t, l) = (self.spec.n_treatments, self.spec.latent);
        match (&self.globals.emb_net, &self.globals.emb_mu) {
            (Some(net), _) => {
                let input = Tensor::cat(
                    vec![
                        Tensor::<2>::ones([t, l], device),
                        Tensor::<2>::eye(t, device),
                    ],
                    1,
                ); // [T, L + T]
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
    pub async fn align(&mut self, rng: &mut Rng) -> Result<(), ReadbackError> {
        let device = self.enc_mu.bias.val().device();
        let (t, l) = (self.spec.n_treatments, self.spec.latent);
        let Some(effects) = self.unmasked_effects(&device) else {
            self.spec.masks_on = true;
            return Ok(());
        };
        let effects = read_matrix(effects.detach()).await?;
        // Only perturbations seen in training carry information about the basis.
        let seen: Vec<usize> = (0..t).filter(|&k| self.spec.inv_n_obs[k] > 0.0).collect();
        let rows: Vec<Vec<f64>> = seen
            .iter()
            .map(|&k| effects.row(k).iter().map(|&v| v as f64).collect())
            .collect();
        let found = crate::rotation::sparse_rotation(&rows, 16, rng);
        let r = tensor2(
            found.rotation.iter().map(|&v| v as f32).collect(),
            [l, l],
            &device,
        ); // [L, L]
        let r2 = r.clone().square();
        let rt = r.clone().transpose();

        fn set<const D: usize>(p: &mut Param<Tensor<D>>, f: impl FnOnce(Tensor<D>) -> Tensor<D>) {
            *p = p.clone().map(|v| {
                let out = f(v).detach();
                if out.is_autodiff() {
                    out.require_grad()
                } else {
                    out
                }
            });
        }
        let right = |m: &Tensor<2>| {
            let m = m.clone();
            move |w: Tensor<2>| w.matmul(m)
        };
        // A layer whose outputs are latent: means rotate by R, log-variances (approximately) by R².
        let rotate_outputs = |d: &mut Dense, m: &Tensor<2>| {
            set(&mut d.weight, right(m));
            let m = m.clone();
            set(&mut d.bias, move |b| {
                b.unsqueeze::<2>().matmul(m).reshape([l])
            });
        };
        // Outputs in latent space: z_new = z_old · R.
        rotate_outputs(&mut self.enc_mu, &r);
        rotate_outputs(&mut self.enc_logvar, &r2);
        // Inputs in latent space: z_old = z_new · Rᵀ, so W_new = Rᵀ W on the latent rows.
        set(&mut self.enc_offset.weight, |w| rt.clone().matmul(w));
        set(&mut self.dec_hidden.weight, |w| {
            let [rows, cols] = w.dims();
            let z = rt.clone().matmul(w.clone().slice([0..l, 0..cols]));
            if rows > l {
                Tensor::cat(vec![z, w.slice([l..rows, 0..cols])], 0)
            } else {
                z
            }
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
                Tensor::cat(
                    vec![
                        w.clone().slice([0..l, 0..cols]).zeros_like(),
                        w.slice([l..rows, 0..cols]),
                    ],
                    0,
                )
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
                    .map(move |&x| {
                        if x.abs() >= (0.25 * max).max(found.scale) {
                            MASK_ON_LOGIT
                        } else {
                            MASK_OFF_LOGIT
                        }
                    })
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
}
