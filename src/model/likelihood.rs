//! Observation models of the decoder: the negative binomial on counts and the Gaussian on
//! standardised log-normalised values, with the log-likelihoods both the cVAE and the SAMS
//! family score cells by.

use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use super::layers::{DecoderOutput, HALF_LN_2PI, repeat_rows};

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
            let theta = log_scale.clone().exp(); // [1, genes]
            lgamma_ratio_sum(target.clone(), theta.clone())
                + nb_log_prob_but_gammas(target, out.location.clone(), log_scale, theta).sum_dim(1)
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
    let rep = |x: Tensor<2>| repeat_rows(x, k);
    match likelihood {
        Likelihood::Gaussian => neg_log_lik(likelihood, out, rep(target), rep(ln_factorial)),
        Likelihood::Nb => {
            let log_theta = out.log_scale.clone().unsqueeze::<2>(); // [1, genes]
            let theta = log_theta.clone().exp();
            let constant = rep(lgamma_ratio_sum(target.clone(), theta.clone()) - ln_factorial); // [k·n, 1]
            let per = nb_log_prob_but_gammas(rep(target), out.location.clone(), log_theta, theta)
                .sum_dim(1); // [k·n, 1]
            (per + constant).squeeze_dim::<1>(1).neg()
        }
    }
}

/// log NB(x; mean = exp(log_mu), inverse dispersion theta = exp(log_theta)). [cells, genes]
pub fn nb_log_prob(x: Tensor<2>, log_mu: Tensor<2>, log_theta: Tensor<2>) -> Tensor<2> {
    let theta = log_theta.clone().exp();
    lgamma(x.clone() + theta.clone()) - lgamma(theta.clone())
        + nb_log_prob_but_gammas(x.clone(), log_mu, log_theta, theta)
        - lgamma(x + 1.0)
}

/// The terms of [`nb_log_prob`] that involve the mean: all but ln Γ(x + θ) − ln Γ(θ) − ln x!.
/// [cells, genes]
fn nb_log_prob_but_gammas(
    x: Tensor<2>,
    log_mu: Tensor<2>,
    log_theta: Tensor<2>,
    theta: Tensor<2>,
) -> Tensor<2> {
    let log_theta_mu = (log_mu.clone().exp() + theta.clone()).log(); // log(theta + mu)
    theta * (log_theta - log_theta_mu.clone()) + x * (log_mu - log_theta_mu)
}

/// Σ_g [ln Γ(x_g + θ_g) − ln Γ(θ_g)] per cell, differentiable in θ ([1, genes]); `x` is data.
/// [cells, 1]
///
/// The value and its gradient Σ_cells [ψ(x + θ) − ψ(θ)] share most of their terms, so both are
/// worked out off the autodiff graph ([`lgamma_digamma`]); the graph records one product,
/// (ψ(x + θ) − ψ(θ)) · (θ − θ), which adds exactly zero and carries that gradient. Taken
/// through autodiff, lgamma's two dozen elementwise ops and their backward passes were about a
/// seventh of a cVAE step.
pub fn lgamma_ratio_sum(x: Tensor<2>, theta: Tensor<2>) -> Tensor<2> {
    let t = theta.clone().without_autodiff(); // [1, genes]
    let xt = x.without_autodiff() + t.clone(); // [cells, genes]
    if !theta.is_tracked() {
        // Scoring: no gradient, so no ψ either.
        let value = (lgamma(xt) - lgamma(t)).sum_dim(1); // [cells, 1]
        return if theta.is_autodiff() {
            value.autodiff()
        } else {
            value
        };
    }
    let (lg_xt, psi_xt) = lgamma_digamma(xt);
    let (lg_t, psi_t) = lgamma_digamma(t); // [1, genes]
    let value = (lg_xt - lg_t).sum_dim(1); // [cells, 1]
    let slope = (psi_xt - psi_t).autodiff(); // [cells, genes]
    let zero = theta.clone() - theta.detach(); // [1, genes]: θ − θ, tracked
    value.autodiff() + slope.matmul(zero.transpose())
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

/// ln Γ(z) and ψ(z) = d ln Γ(z)/dz for z > 0, off the autodiff graph: the same shift by 6 and
/// Stirling series as [`lgamma`], and ψ's asymptotic series from the same 1/w powers, with
/// Σ_k 1/(z + k) over the shift as P′/P of the two cubic factors whose logarithms lgamma takes
/// (error < 1e-8 in both).
pub fn lgamma_digamma<const D: usize>(z: Tensor<D>) -> (Tensor<D>, Tensor<D>) {
    let z = z.without_autodiff();
    let u = z.clone() + 3.0;
    let (z2, u2) = (z.clone() + 2.0, u.clone() + 2.0);
    let p1 = z.clone() * (z.clone() + 1.0) * z2.clone(); // z(z+1)(z+2)
    let p2 = u.clone() * (u.clone() + 1.0) * u2.clone(); // (z+3)(z+4)(z+5)
    let dp1 = (z.clone() * z2).mul_scalar(3.0) + 2.0; // P1′ = 3z² + 6z + 2
    let dp2 = (u * u2).mul_scalar(3.0) + 2.0;
    let w = z + 6.0;
    let inv = w.clone().recip();
    let inv2 = inv.clone().square();
    let ln_w = w.clone().log();
    let series = inv.clone()
        * (inv2.clone() * (inv2.clone().mul_scalar(1.0 / 1260.0) - 1.0 / 360.0) + 1.0 / 12.0);
    let shift = p1.clone().log() + p2.clone().log();
    let lg = (w.clone() - 0.5) * ln_w.clone() - w + HALF_LN_2PI + series - shift;
    // ψ(w) ≈ ln w − 1/(2w) − 1/(12w²) + 1/(120w⁴) − 1/(252w⁶), then ψ(z) = ψ(w) − Σ_k 1/(z+k).
    let tail =
        inv2.clone() * (inv2.clone() * (inv2.mul_scalar(-1.0 / 252.0) + 1.0 / 120.0) - 1.0 / 12.0);
    let psi = ln_w - inv.mul_scalar(0.5) + tail - dp1 / p1 - dp2 / p2;
    (lg, psi)
}
