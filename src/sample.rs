//! The bundled sample dataset: drawn from a known sparse-additive latent model, so a run on it
//! can be checked against the truth (which perturbation moves which latent dimensions).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::{DataError, Dataset};
use crate::matrix::Matrix;
use crate::rng::Rng;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleConfig {
    pub seed: u64,
    pub genes: usize,
    pub latent: usize,
    pub singles: usize,
    pub control_cells: usize,
    pub cells_per_single: usize,
    pub cells_per_combination: usize,
    /// Latent dims each single perturbation moves.
    pub effect_dims: usize,
    /// Mean library size (counts per cell).
    pub library: f64,
}

impl Default for SampleConfig {
    fn default() -> Self {
        Self {
            seed: 7,
            genes: 300,
            latent: 10,
            // More perturbations than latent dims, two dims each: enough overlap between
            // perturbations that the sparse structure is determined by the data (with fewer,
            // a different basis can explain the effects with fewer active dims than the truth).
            singles: 12,
            control_cells: 500,
            cells_per_single: 150,
            cells_per_combination: 120,
            effect_dims: 2,
            library: 3000.0,
        }
    }
}

/// One perturbation's true effect: z += Σ_k effect_k · e_{dims_k}.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrueEffect {
    pub dims: Vec<usize>,
    pub effect: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleTruth {
    pub config: SampleConfig,
    pub perturbations: BTreeMap<String, TrueEffect>,
    pub combinations: Vec<String>,
}

impl SampleTruth {
    /// Dense [perturbations × latent] effect matrix in name order (for mask comparisons).
    pub fn effect_matrix(&self) -> Vec<Vec<f64>> {
        self.perturbations
            .values()
            .map(|e| {
                let mut row = vec![0.0; self.config.latent];
                for (&d, &v) in e.dims.iter().zip(&e.effect) {
                    row[d] = v;
                }
                row
            })
            .collect()
    }
}

fn single_name(i: usize) -> String {
    // A, B, ..., Z, then AA, AB, ...
    let letters = |k: usize| char::from(b'A' + (k % 26) as u8);
    if i < 26 {
        letters(i).to_string()
    } else {
        format!("{}{}", letters(i / 26 - 1), letters(i))
    }
}

/// Pairs (0,1), (2,3), ... plus (0,2) when there are enough singles: some combinations share a
/// member, so additivity has to hold across overlapping effects too.
fn combinations(singles: usize) -> Vec<(usize, usize)> {
    let mut pairs: Vec<(usize, usize)> = (0..singles / 2).map(|k| (2 * k, 2 * k + 1)).collect();
    if singles >= 3 {
        pairs.push((0, 2));
    }
    pairs
}

pub fn generate(cfg: &SampleConfig) -> Result<(Dataset, SampleTruth), DataError> {
    let mut rng = Rng::derive(cfg.seed, "sample");
    let latent = cfg.latent.max(2);
    // Sparse effects: `effect_dims` latent dims per perturbation, sizes 1.5–2.5 with random sign.
    let mut perturbations = BTreeMap::new();
    let mut effects = Vec::new();
    for p in 0..cfg.singles {
        let k = cfg.effect_dims.clamp(1, latent);
        let mut dims: Vec<usize> = (0..latent).collect();
        rng.shuffle(&mut dims);
        let mut dims: Vec<usize> = dims.into_iter().take(k).collect();
        dims.sort_unstable();
        let effect: Vec<f64> = dims
            .iter()
            .map(|_| (1.5 + rng.uniform()) * if rng.bernoulli(0.5) { 1.0 } else { -1.0 })
            .collect();
        let e = TrueEffect { dims, effect };
        perturbations.insert(single_name(p), e.clone());
        effects.push(e);
    }
    // A random nonlinear decoder: latent → 64 tanh units → gene logits (+ gene abundance).
    let hidden = 64;
    let w1: Vec<f64> = (0..latent * hidden)
        .map(|_| rng.normal() / (latent as f64).sqrt())
        .collect();
    let b1: Vec<f64> = (0..hidden).map(|_| 0.3 * rng.normal()).collect();
    let w2: Vec<f64> = (0..hidden * cfg.genes)
        .map(|_| 1.2 * rng.normal() / (hidden as f64).sqrt())
        .collect();
    let abundance: Vec<f64> = (0..cfg.genes).map(|_| rng.normal()).collect();
    let theta: Vec<f64> = (0..cfg.genes).map(|_| 3.0 + 12.0 * rng.uniform()).collect();

    let mut conditions = Vec::new();
    let mut plan: Vec<(String, Vec<usize>, usize)> =
        vec![("control".into(), vec![], cfg.control_cells)];
    for p in 0..cfg.singles {
        plan.push((single_name(p), vec![p], cfg.cells_per_single));
    }
    let combos = combinations(cfg.singles);
    for &(a, b) in &combos {
        plan.push((
            format!("{}+{}", single_name(a), single_name(b)),
            vec![a, b],
            cfg.cells_per_combination,
        ));
    }
    let n_cells: usize = plan.iter().map(|p| p.2).sum();
    let mut data = Vec::with_capacity(n_cells * cfg.genes);
    let mut h = vec![0.0f64; hidden];
    let mut logits = vec![0.0f64; cfg.genes];
    for (label, members, n) in &plan {
        for _ in 0..*n {
            let mut z: Vec<f64> = (0..latent).map(|_| rng.normal()).collect();
            for &m in members {
                for (&d, &v) in effects[m].dims.iter().zip(&effects[m].effect) {
                    z[d] += v;
                }
            }
            for (j, hj) in h.iter_mut().enumerate() {
                let s: f64 = (0..latent).map(|k| z[k] * w1[k * hidden + j]).sum();
                *hj = (s + b1[j]).tanh();
            }
            for (g, lg) in logits.iter_mut().enumerate() {
                *lg = abundance[g]
                    + (0..hidden)
                        .map(|j| h[j] * w2[j * cfg.genes + g])
                        .sum::<f64>();
            }
            let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let denom: f64 = logits.iter().map(|l| (l - max).exp()).sum();
            let library = cfg.library * (0.3 * rng.normal()).exp();
            for g in 0..cfg.genes {
                let mu = library * (logits[g] - max).exp() / denom;
                data.push(rng.neg_binomial(mu, theta[g]) as f32);
            }
            conditions.push(label.clone());
        }
    }
    let genes: Vec<String> = (1..=cfg.genes).map(|g| format!("G{g:04}")).collect();
    let values = Matrix::from_vec(n_cells, cfg.genes, data);
    let ds = Dataset::from_parts(genes, values, conditions, "control".into(), vec![], vec![])?;
    let truth = SampleTruth {
        config: cfg.clone(),
        perturbations,
        combinations: combos
            .iter()
            .map(|&(a, b)| format!("{}+{}", single_name(a), single_name(b)))
            .collect(),
    };
    Ok((ds, truth))
}
