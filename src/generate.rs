//! Generating perturbed cells from a trained model.
//!
//! Mode A samples z from the prior; Mode B encodes real control cells and decodes them under
//! the perturbation. Either way the prediction is a draw from the likelihood (not only its mean),
//! returned log-normalised like the data the metrics compare it with.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::matrix::Matrix;
use crate::model::{Likelihood, Model};
use crate::preprocess::log_normalize_on;
use crate::rng::{NbSampler, Rng};
use crate::shards::run_shards;
use crate::tensor::{ReadbackError, read_matrix, read_vec, to_tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A: z ~ N(0, I).
    Prior,
    /// B: z ~ q(z | control cell, control condition).
    Encode,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "a" | "prior" => Ok(Mode::Prior),
            "b" | "encode" => Ok(Mode::Encode),
            _ => Err(format!(
                "unknown generation mode `{s}`: expected `a` (prior) or `b` (encode controls)"
            )),
        }
    }
}

/// One predicted cell per source control cell.
pub struct Sources<'a> {
    /// The control cells' standardised inputs. [cells, genes]
    pub x_std: &'a Matrix,
    /// Their own encoding (control dosage, their covariates). [cells, width]
    pub own_condition: &'a Matrix,
    /// The encoding to decode under (target dosage, their covariates). [cells, width]
    pub target_condition: &'a Matrix,
    /// Their panel library sizes (NB mean scale).
    pub library: &'a [f32],
}

/// Standardisation to undo for Gaussian predictions.
pub struct Scale<'a> {
    pub mean: &'a [f32],
    pub sd: &'a [f32],
}

pub async fn predict(
    model: &Model,
    device: &Device,
    src: &Sources<'_>,
    mode: Mode,
    scale: &Scale<'_>,
    rng: &mut Rng,
    threads: usize,
) -> Result<Matrix, ReadbackError> {
    let draws = predict_draws(model, device, src, mode, scale, rng, threads).await?;
    Ok(log_normalized(model.likelihood(), draws, threads))
}

/// Draws as the metrics see them: counts log-normalised (on up to `threads` threads),
/// Gaussian values as they are.
pub fn log_normalized(likelihood: Likelihood, draws: Matrix, threads: usize) -> Matrix {
    match likelihood {
        Likelihood::Nb => log_normalize_on(&draws, threads),
        Likelihood::Gaussian => draws,
    }
}

/// The draws themselves: sampled counts for the negative binomial (what an export keeps as
/// counts), log-normalised values for the Gaussian.
pub async fn predict_draws(
    model: &Model,
    device: &Device,
    src: &Sources<'_>,
    mode: Mode,
    scale: &Scale<'_>,
    rng: &mut Rng,
    threads: usize,
) -> Result<Matrix, ReadbackError> {
    // Scoring needs no gradients: tensors on the autodiff device would be wrapped and checked
    // by every op for nothing.
    let device = &device.clone().inner();
    let n = src.x_std.rows;
    let library = Tensor::from_data(
        burn::tensor::TensorData::new(src.library.to_vec(), [n, 1]),
        device,
    );
    let out = model.predict(
        to_tensor(src.x_std, device),
        to_tensor(src.own_condition, device),
        to_tensor(src.target_condition, device),
        library,
        mode == Mode::Prior,
        rng,
    );
    let location = match model.likelihood() {
        // The NB's mean, exponentiated on the device, where the kernel is vectorised: one
        // scalar libm call per element on the host was a tenth of the page's scoring.
        Likelihood::Nb => out.location.exp(),
        Likelihood::Gaussian => out.location,
    };
    let location = read_matrix(location).await?; // [cells, genes]
    let log_scale = read_vec(out.log_scale).await?; // [genes]
    let key = rng.next_u64();
    Ok(match model.likelihood() {
        Likelihood::Nb => {
            let nb = NbSampler::new(log_scale.iter().map(|&l| (l as f64).exp()));
            draw_rows(
                &location,
                key,
                threads,
                || nb.clone(),
                |nb, rng, g, mean| nb.draw(rng, g, mean as f64) as f32,
            )
        }
        Likelihood::Gaussian => {
            let sd: Vec<f64> = log_scale.iter().map(|&l| (l as f64).exp()).collect();
            let z = crate::rng::ziggurat();
            draw_rows(
                &location,
                key,
                threads,
                || (),
                |_, rng, g, loc| {
                    let x = loc as f64 + sd[g] * rng.normal_zig(z);
                    ((x * scale.sd[g] as f64 + scale.mean[g] as f64) as f32).max(0.0)
                },
            )
        }
    })
}

/// Rows drawn together on one stream: the unit of [`draw_rows`]' parallel work.
pub const DRAW_BLOCK_ROWS: usize = 64;

/// One draw per element of `location` [cells, genes] (the NB's mean, the Gaussian's location),
/// `draw(state, rng, gene, value)`.
///
/// Scoring draws millions (every ATE sample is a whole cell), so blocks of
/// [`DRAW_BLOCK_ROWS`] rows run on up to `threads` threads. Block `b` draws from stream
/// `Rng::split(key, b)` with a fresh `state`, so the draws depend on the key alone, never on
/// the threads.
fn draw_rows<S>(
    location: &Matrix,
    key: u64,
    threads: usize,
    state: impl Fn() -> S + Sync,
    draw: impl Fn(&mut S, &mut Rng, usize, f32) -> f32 + Sync,
) -> Matrix {
    let (rows, cols) = (location.rows, location.cols);
    let blocks = rows.div_ceil(DRAW_BLOCK_ROWS);
    let parts = run_shards(blocks, threads, |b| {
        let mut rng = Rng::split(key, b as u64);
        let mut s = state();
        let first = b * DRAW_BLOCK_ROWS;
        let last = (first + DRAW_BLOCK_ROWS).min(rows);
        let mut out = Vec::with_capacity((last - first) * cols);
        for i in first..last {
            for (g, &loc) in location.row(i).iter().enumerate() {
                out.push(draw(&mut s, &mut rng, g, loc));
            }
        }
        out
    });
    let mut draws = Matrix::zeros(rows, cols);
    for (b, part) in parts.into_iter().enumerate() {
        let at = b * DRAW_BLOCK_ROWS * cols;
        draws.data[at..at + part.len()].copy_from_slice(&part);
    }
    draws
}
