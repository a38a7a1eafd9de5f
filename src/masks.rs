//! Mask evaluation: the true sparse effects of simulated data (from the sample generator or a
//! truth file), and how learned mask probabilities compare with them — active dims per
//! perturbation, the rank agreement of pairwise overlaps, and an order of the learned dims for
//! drawing them beside the true ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let perts = v
            .get("perturbations")
            .and_then(|p| p.as_object())
            .ok_or("no `perturbations` object")?;
        let mut dims_of = BTreeMap::new();
        for (name, e) in perts {
            let dims = e
                .get("dims")
                .or_else(|| e.get("active_latent_dims"))
                .and_then(|d| d.as_array());
            let effect = e.get("effect").and_then(|d| d.as_array());
            let (Some(dims), Some(effect)) = (dims, effect) else {
                return Err(format!(
                    "perturbation `{name}` lacks `dims`/`active_latent_dims` or `effect`"
                ));
            };
            let dims: Option<Vec<usize>> = dims
                .iter()
                .map(|d| d.as_u64().map(|x| x as usize))
                .collect();
            let effect: Option<Vec<f64>> = effect.iter().map(|x| x.as_f64()).collect();
            match (dims, effect) {
                (Some(d), Some(e)) if d.len() == e.len() => dims_of.insert(name.clone(), (d, e)),
                _ => {
                    return Err(format!(
                        "perturbation `{name}`: dims and effects must be equally long lists of numbers"
                    ));
                }
            };
        }
        // Dims index a latent space of at most 4096 (checked below): a larger one is refused
        // here, before it can overflow or index past the rows built from it.
        let max_dim = dims_of
            .values()
            .flat_map(|(d, _)| d.iter().copied())
            .max()
            .map_or(0, |m| m.saturating_add(1));
        if max_dim > 4096 {
            return Err(format!(
                "latent dim {} is beyond the largest supported latent size, 4096",
                max_dim - 1
            ));
        }
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
    probs
        .iter()
        .map(|r| r.iter().filter(|&&p| p > 0.5).count() as f64)
        .sum::<f64>()
        / probs.len() as f64
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
    let active: Vec<Vec<f64>> = truth
        .iter()
        .map(|r| {
            r.iter()
                .map(|&v| if v != 0.0 { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();
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
