//! Building blocks every model shares: the dense layer, the batch the model sees, what the
//! decoder and the loss return, and the constants of their math.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

use crate::rng::Rng;

/// Negative slope of the leaky ReLU between layers.
pub(crate) const LEAK: f64 = 0.01;
/// ½ ln 2π, the Gaussian log-density's constant.
pub(crate) const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// Fully connected layer initialised from the host RNG (uniform ±1/√fan_in, zero bias).
#[derive(Module, Debug)]
pub struct Dense {
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
}

impl Dense {
    pub fn new(d_in: usize, d_out: usize, rng: &mut Rng, device: &Device) -> Self {
        let bound = 1.0 / (d_in.max(1) as f64).sqrt();
        let w: Vec<f32> = (0..d_in * d_out)
            .map(|_| ((rng.uniform() * 2.0 - 1.0) * bound) as f32)
            .collect();
        Self {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(w, [d_in, d_out]),
                device,
            )),
            bias: Param::from_tensor(Tensor::zeros([d_out], device)),
        }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        // [batch, d_in] · [d_in, d_out] + [1, d_out]
        x.matmul(self.weight.val()) + self.bias.val().unsqueeze::<2>()
    }
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
        std::iter::once("loss")
            .chain(self.terms.iter().map(|t| t.0))
            .collect()
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
    /// NB: Σ_g ln x_g! of each cell's counts, a constant of the data computed once on the host
    /// rather than as a third lgamma at every step; Gaussian: zeros. [cells, 1]
    pub ln_factorial: Tensor<2>,
}

/// `x` repeated `k` times down its rows, particle-major: row `j·n + i` is row `i` of copy `j`.
/// [k·rows, cols]
pub fn repeat_rows(x: Tensor<2>, k: usize) -> Tensor<2> {
    let [n, c] = x.dims();
    if k == 1 {
        return x;
    }
    x.unsqueeze::<3>().repeat_dim(0, k).reshape([k * n, c])
}
