//! Observation models of the decoder: the negative binomial on counts and the Gaussian on
//! standardised log-normalised values, with the log-likelihoods both the cVAE and the SAMS
//! family score cells by.

use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use super::layers::{DecoderOutput, HALF_LN_2PI};

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

/// The decoder's location from its last layer: log mean count (NB: log library + log softmax)
/// or the Gaussian mean itself. [cells, genes]
pub fn decode_location(likelihood: Likelihood, out: Tensor<2>, library: Tensor<2>) -> Tensor<2> {
    match likelihood {
        Likelihood::Nb => log_softmax(out, 1) + library.log(),
        Likelihood::Gaussian => out,
    }
}

/// Negative log-likelihood per cell, given `ln_factorial`, Σ_g ln x_g! per cell for the NB
/// ([`crate::model::Batch::ln_factorial`]; the Gaussian ignores it). [cells]
pub fn neg_log_lik(
    likelihood: Likelihood,
    out: &DecoderOutput,
    target: Tensor<2>,
    ln_factorial: Tensor<2>,
) -> Tensor<1> {
    let log_scale = out.log_scale.clone().unsqueeze::<2>(); // [1, genes]
    let log_p = match likelihood {
        Likelihood::Nb => {
            nb_log_prob_but_factorial(target, out.location.clone(), log_scale).sum_dim(1)
                - ln_factorial
        }
        Likelihood::Gaussian => {
            let z = (target - out.location.clone()) * log_scale.clone().neg().exp();
            (z.square().mul_scalar(-0.5) - log_scale - HALF_LN_2PI).sum_dim(1)
        }
    }; // [cells, 1]
    log_p.squeeze_dim::<1>(1).neg()
}

/// Negative log-likelihood of `k` particles per cell, [k·n] rows in particle-major order, with
/// `target` given once per cell ([n, genes]) with its `ln_factorial` ([n, 1]). The NB terms
/// that do not involve the mean (two lgammas, the costliest part, and Σ ln x!) are the same for
/// every particle, so they are summed once per cell and repeated: the same value as
/// [`neg_log_lik`], summed in another order.
pub fn neg_log_lik_particles(
    likelihood: Likelihood,
    out: &DecoderOutput,
    target: Tensor<2>,
    ln_factorial: Tensor<2>,
    k: usize,
) -> Tensor<1> {
    let rep = |x: Tensor<2>| -> Tensor<2> {
        let [r, c] = x.dims();
        x.unsqueeze::<3>().repeat_dim(0, k).reshape([k * r, c])
    };
    match likelihood {
        Likelihood::Gaussian => neg_log_lik(likelihood, out, rep(target), rep(ln_factorial)),
        Likelihood::Nb => {
            let log_theta = out.log_scale.clone().unsqueeze::<2>(); // [1, genes]
            let theta = log_theta.clone().exp();
            let constant = ((lgamma(target.clone() + theta.clone()) - lgamma(theta.clone()))
                .sum_dim(1)
                - ln_factorial)
                .unsqueeze::<3>()
                .repeat_dim(0, k)
                .reshape([k * target.dims()[0], 1]); // [k·n, 1]
            let log_mu = out.location.clone(); // [k·n, genes]
            let log_theta_mu = (log_mu.clone().exp() + theta.clone()).log();
            let per = (theta * (log_theta - log_theta_mu.clone())
                + rep(target) * (log_mu - log_theta_mu))
                .sum_dim(1); // [k·n, 1]
            (per + constant).squeeze_dim::<1>(1).neg()
        }
    }
}

/// log NB(x; mean = exp(log_mu), inverse dispersion theta = exp(log_theta)). [cells, genes]
pub fn nb_log_prob(x: Tensor<2>, log_mu: Tensor<2>, log_theta: Tensor<2>) -> Tensor<2> {
    nb_log_prob_but_factorial(x.clone(), log_mu, log_theta) - lgamma(x + 1.0)
}

/// [`nb_log_prob`] but its −ln x! term, which depends on the data alone. [cells, genes]
fn nb_log_prob_but_factorial(x: Tensor<2>, log_mu: Tensor<2>, log_theta: Tensor<2>) -> Tensor<2> {
    let theta = log_theta.clone().exp(); // [1, genes]
    let mu = log_mu.clone().exp();
    let log_theta_mu = (mu + theta.clone()).log(); // log(theta + mu)
    lgamma(x.clone() + theta.clone()) - lgamma(theta.clone())
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
    let series =
        inv.clone() * (inv2.clone() * (inv2.mul_scalar(1.0 / 1260.0) - 1.0 / 360.0) + 1.0 / 12.0);
    (w.clone() - 0.5) * w.clone().log() - w + HALF_LN_2PI + series - shift
}
