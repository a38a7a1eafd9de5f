//! What a run will cost, from its settings and the data's shape, before anything is allocated:
//! peak memory and the floating-point work of training and scoring. Rough on purpose (within a
//! factor of about two): it refuses runs that cannot fit (the page's wasm32 memory ends at 4 GiB)
//! and lets the page ask before it starts a linked run far above the defaults. It does not
//! predict seconds; `make bench` measures those.

use serde::Serialize;

use super::{ModelName, Settings};
use crate::data::Dataset;
use crate::design::Design;

/// The largest peak memory a run may need: wasm32 addresses 4 GiB, and the page, the data
/// and the browser's own share must fit beside the run. Natively the limit is generous; it
/// still catches settings whose product is absurd.
pub const MEMORY_LIMIT: f64 = if cfg!(target_arch = "wasm32") {
    3.0 * GIB
} else {
    64.0 * GIB
};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// Bytes per value on the device (f32).
const F32: f64 = 4.0;
/// Rows per IWELBO chunk (cells × particles), as scoring batches them.
const IWELBO_ROWS: f64 = 8192.0;

/// The size of the data a run is estimated for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Shape {
    pub cells: usize,
    /// Genes in the file (the panel is at most this many).
    pub genes: usize,
    /// Distinct single perturbations.
    pub perturbations: usize,
    /// Covariate levels over all covariates.
    pub covariate_levels: usize,
}

impl Shape {
    pub fn of(ds: &Dataset, design: &Design) -> Self {
        Self {
            cells: ds.n_cells(),
            genes: ds.n_genes(),
            perturbations: design.n_perturbations(),
            covariate_levels: design.n_covariates(),
        }
    }
}

/// A run's estimated cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Peak bytes: the data on the device, parameters with their gradients and Adam's moments,
    /// the largest batch's activations, and scoring's largest block.
    pub memory_bytes: f64,
    /// Floating-point operations of the whole training budget (forward and backward).
    pub train_flops: f64,
    /// Floating-point operations of scoring (IWELBO, ATE samples, predictions).
    pub scoring_flops: f64,
}

impl Estimate {
    pub fn of(s: &Settings, shape: &Shape) -> Self {
        let cells = shape.cells as f64;
        let g = s.genes.min(shape.genes).max(1) as f64;
        let h = s.hidden as f64;
        let l = s.latent as f64;
        let c = (shape.perturbations + shape.covariate_levels) as f64;
        let sams = s.model != ModelName::Cvae;
        let particles = if sams { s.particles as f64 } else { 1.0 };
        // Encoder and decoder, two hidden layers each, plus per-gene dispersion and, for the
        // SAMS family, an embedding and mask logits per perturbation.
        let params = 2.0 * (g + c) * h
            + 2.0 * h * h
            + 3.0 * h * l
            + g * h
            + g
            + if sams {
                2.0 * shape.perturbations as f64 * l
            } else {
                0.0
            };
        let per_row = 2.0 * h + g + l;
        let batch = (s.batch_size as f64).min(cells);
        let memory_train = cells * g * 3.0 * F32 // standardised values, targets, conditions
            + params * 4.0 * F32 // weights, gradients, two Adam moments
            + 4.0 * batch * particles * per_row * F32; // activations kept for the backward pass
        let memory_iwelbo = 3.0 * IWELBO_ROWS * per_row * F32;
        let memory_ate = 4.0 * s.ate_samples as f64 * g * F32;
        // PCA of the panel and host copies of the log-normalised data (f64 on the host).
        let memory_host = cells * g * 8.0 * 2.0 + g * g * 8.0 * 3.0;
        let memory_bytes = memory_train + memory_iwelbo.max(memory_ate) + memory_host;

        let train_cells =
            cells * (1.0 - s.holdout_fraction.clamp(0.0, 1.0)) * (1.0 - s.val_fraction);
        let train_flops = 6.0 * params * particles * train_cells * s.epochs as f64;
        let test_cells = cells * s.holdout_fraction.clamp(0.0, 1.0).max(0.05);
        let scoring_flops = 2.0 * params * (test_cells * s.iwelbo_particles as f64)
            + 2.0 * params * 2.0 * s.ate_samples as f64 * (shape.perturbations.max(1) as f64)
            + g * g * cells * 2.0;
        // Replicates run one after another: the work adds up, the memory does not.
        let seeds = s.seeds.max(1) as f64;
        Self {
            memory_bytes,
            train_flops: train_flops * seeds,
            scoring_flops: scoring_flops * seeds,
        }
    }

    pub fn work(&self) -> f64 {
        self.train_flops + self.scoring_flops
    }

    pub fn fits(&self) -> bool {
        self.memory_bytes <= MEMORY_LIMIT
    }
}
