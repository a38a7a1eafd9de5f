//! Sparse rotations: the orthogonal change of latent basis under which perturbation effects use
//! the fewest latent dimensions.
//!
//! An isotropic prior and a free decoder define a VAE's latent space only up to rotation, so a
//! model without masks (CPA-VAE) learns its effects in an arbitrary basis, and masks over latent
//! dims only mean something in a basis where the effects are sparse. The penalty
//! 1 − exp(−x²/2ε²) charges every entry well above ε about 1 and entries well below ε nearly
//! nothing: a smooth count of active dims (L0). L1 is the wrong criterion here (splitting one
//! large effect over two dims can lower its L1 norm while adding an active dim), and so,
//! to a lesser degree, is ln(1 + x²/ε²), which still charges large effects more than small ones.

use crate::rng::Rng;

/// Angles tried per pair of dims before refining the best one.
const GRID: usize = 48;
/// Work budget (penalty evaluations) over all restarts, so wide latent spaces stay quick.
const BUDGET: f64 = 4e7;
/// Jacobi sweeps per start at most (they usually converge well before).
const MAX_SWEEPS: usize = 60;

#[derive(Debug, Clone, PartialEq)]
pub struct SparseRotation {
    /// Orthogonal [L, L], row-major: the rotated effects are `effects · rotation`.
    pub rotation: Vec<f64>,
    /// The rotated effects. [rows, L]
    pub rotated: Vec<Vec<f64>>,
    /// Σ 1 − exp(−x²/2ε²) over the rotated effects.
    pub penalty: f64,
    /// The ε used.
    pub scale: f64,
}

fn rho(x: f64, half_inv_eps2: f64) -> f64 {
    1.0 - (-x * x * half_inv_eps2).exp()
}

fn penalty(m: &[Vec<f64>], half_inv_eps2: f64) -> f64 {
    m.iter().flatten().map(|&x| rho(x, half_inv_eps2)).sum()
}

/// Penalty of columns `i`, `j` after rotating them by θ.
fn pair_penalty(m: &[Vec<f64>], i: usize, j: usize, theta: f64, half_inv_eps2: f64) -> f64 {
    let (s, c) = theta.sin_cos();
    m.iter()
        .map(|r| rho(r[i] * c + r[j] * s, half_inv_eps2) + rho(r[j] * c - r[i] * s, half_inv_eps2))
        .sum()
}

fn rotate_cols(m: &mut [Vec<f64>], i: usize, j: usize, theta: f64) {
    let (s, c) = theta.sin_cos();
    for r in m.iter_mut() {
        let (a, b) = (r[i], r[j]);
        r[i] = a * c + b * s;
        r[j] = b * c - a * s;
    }
}

/// A random orthogonal matrix (Gram–Schmidt on Gaussian columns), as rows.
pub fn random_orthogonal(l: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
    let mut cols: Vec<Vec<f64>> = Vec::with_capacity(l);
    while cols.len() < l {
        let mut v: Vec<f64> = (0..l).map(|_| rng.normal()).collect();
        for c in &cols {
            let d: f64 = v.iter().zip(c).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(c).for_each(|(a, b)| *a -= d * b);
        }
        let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if n > 1e-6 {
            cols.push(v.into_iter().map(|a| a / n).collect());
        }
    }
    (0..l)
        .map(|r| (0..l).map(|c| cols[c][r]).collect())
        .collect()
}

/// The best angle for columns (i, j) and its gain; the penalty has period π/2 in θ (swaps and
/// sign flips are free), so a grid over [0, π/2) then a golden-section refinement finds it.
fn best_angle(m: &[Vec<f64>], i: usize, j: usize, half_inv_eps2: f64) -> (f64, f64) {
    let base = pair_penalty(m, i, j, 0.0, half_inv_eps2);
    let step = std::f64::consts::FRAC_PI_2 / GRID as f64;
    let (mut best_t, mut best_f) = (0.0, base);
    for k in 1..GRID {
        let t = k as f64 * step;
        let f = pair_penalty(m, i, j, t, half_inv_eps2);
        if f < best_f {
            (best_t, best_f) = (t, f);
        }
    }
    let (mut a, mut b) = (best_t - step, best_t + step);
    let g = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..30 {
        let (x1, x2) = (b - g * (b - a), a + g * (b - a));
        if pair_penalty(m, i, j, x1, half_inv_eps2) < pair_penalty(m, i, j, x2, half_inv_eps2) {
            b = x2;
        } else {
            a = x1;
        }
    }
    let t = 0.5 * (a + b);
    let f = pair_penalty(m, i, j, t, half_inv_eps2);
    if f < best_f {
        (t, base - f)
    } else {
        (best_t, base - best_f)
    }
}

/// Finds an orthogonal `R` making `effects · R` sparse: Jacobi sweeps over pairs of dims, each
/// rotated by its best angle, from the identity and `restarts` random starts; the sparsest
/// result wins. `effects` is [rows, L]; ε is 0.15 × the mean row norm.
pub fn sparse_rotation(effects: &[Vec<f64>], restarts: usize, rng: &mut Rng) -> SparseRotation {
    let l = effects.first().map_or(0, Vec::len);
    let mean_norm = effects
        .iter()
        .map(|r| r.iter().map(|x| x * x).sum::<f64>().sqrt())
        .sum::<f64>()
        / effects.len().max(1) as f64;
    let scale = (0.15 * mean_norm).max(1e-6);
    let half_inv_eps2 = 0.5 / (scale * scale);
    // Nothing to rotate: the identity, from the single start below.
    let starts = if l < 2 || effects.is_empty() {
        1
    } else {
        let per_sweep = (l * (l - 1) / 2) as f64 * (GRID + 70) as f64 * effects.len() as f64;
        let affordable = (BUDGET / (per_sweep * 20.0)).floor() as usize; // ~20 sweeps per start
        1 + restarts.min(affordable)
    };
    let mut best: Option<SparseRotation> = None;
    for start in 0..starts {
        let mut rot: Vec<Vec<f64>> = if start == 0 {
            (0..l)
                .map(|r| (0..l).map(|c| if r == c { 1.0 } else { 0.0 }).collect())
                .collect()
        } else {
            random_orthogonal(l, rng)
        };
        // m = effects · rot
        let mut m: Vec<Vec<f64>> = effects
            .iter()
            .map(|row| {
                (0..l)
                    .map(|c| (0..l).map(|k| row[k] * rot[k][c]).sum())
                    .collect()
            })
            .collect();
        // A pair's best angle depends on its two columns only: a pair left unrotated stays so
        // until one of its columns changes, and later sweeps skip it until then. `changed[c]`
        // counts the rotations of column c; `settled[i][j]` holds the counts of i and j when
        // the pair was last found not worth rotating.
        let mut changed = vec![0usize; l];
        let mut settled: Vec<Vec<Option<(usize, usize)>>> = vec![vec![None; l]; l];
        for _ in 0..MAX_SWEEPS {
            let mut gain = 0.0;
            for i in 0..l {
                for j in i + 1..l {
                    if settled[i][j] == Some((changed[i], changed[j])) {
                        continue;
                    }
                    let (theta, g) = best_angle(&m, i, j, half_inv_eps2);
                    if g > 1e-10 {
                        rotate_cols(&mut m, i, j, theta);
                        rotate_cols(&mut rot, i, j, theta);
                        changed[i] += 1;
                        changed[j] += 1;
                        gain += g;
                    } else {
                        settled[i][j] = Some((changed[i], changed[j]));
                    }
                }
            }
            if gain < 1e-8 {
                break;
            }
        }
        let p = penalty(&m, half_inv_eps2);
        if best.as_ref().is_none_or(|b| p < b.penalty - 1e-9) {
            best = Some(SparseRotation {
                rotation: rot.into_iter().flatten().collect(),
                rotated: m,
                penalty: p,
                scale,
            });
        }
    }
    best.expect("at least one start")
}
