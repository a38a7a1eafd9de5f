//! Measurements that need a process of their own: a thread count fixed before the first
//! parallel call (`RAYON_NUM_THREADS`), and a peak memory that belongs to one case. The bench
//! runs itself with `--child <job as JSON>`; the child prints one JSON line.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use burn::tensor::Device;
use cellshift::config::{LikelihoodChoice, ModelName, RunConfig, Settings};
use cellshift::data::{self, Dataset};
use cellshift::pipeline::Session;
use cellshift::sample::{self, SampleConfig};
use cellshift::split;
use serde::{Deserialize, Serialize};

/// The reference implementation's throughput at its own configuration, one thread: insitro's
/// SAMS-VAE code (PyTorch 2.0.1) on the same synthetic data and split, 10 epochs, training plus
/// per-epoch validation, measured side by side with cellshift on this machine type.
pub const REFERENCE_SOURCE: &str = "insitro/sams-vae, PyTorch 2.0.1, 1 thread: 10 epochs at latent 200, hidden 400, batch 512, 5 particles, NB, Adam 3e-4 on the synthetic sparse-additive benchmark (4,000 cells × 200 genes), measured side by side on this 2-core machine type";

/// Train cells per second of the reference implementation at one thread.
pub fn reference_cells_per_s(model: ModelName) -> Option<f64> {
    match model {
        ModelName::Sams => Some(1592.0),
        ModelName::Cvae => Some(1768.0),
        _ => None,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Job {
    /// The reference configuration on the synthetic benchmark, `threads` threads.
    Reference { model: ModelName, threads: usize },
    /// One epoch's cost on generated data of `cells` × `genes` (the default cVAE).
    Growth { cells: usize, genes: usize },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferenceRun {
    pub model: ModelName,
    pub threads: usize,
    pub train_cells: usize,
    pub epochs: usize,
    pub seconds: f64,
    pub train_cells_per_s: f64,
    pub reference_cells_per_s: Option<f64>,
    /// cellshift's train cells/s over the reference's at one thread.
    pub ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrowthRun {
    pub cells: usize,
    pub genes: usize,
    pub setup_ms: f64,
    /// The second epoch (the first warms caches and allocations).
    pub ms_per_epoch: f64,
    pub peak_rss_mib: Option<f64>,
}

/// Runs `job` in a child process of this benchmark with `threads` rayon threads.
pub fn spawn(job: &Job, threads: usize) -> Result<serde_json::Value, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let spec = serde_json::to_string(job).map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(["--child", &spec])
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("{e}: {line}"))
}

/// The child's side: runs the job and returns its JSON line.
pub fn run(spec: &str, shared: &Path) -> Result<String, String> {
    let job: Job = serde_json::from_str(spec).map_err(|e| e.to_string())?;
    let value = match job {
        Job::Reference { model, threads } => {
            serde_json::to_value(reference(model, threads, shared)?).map_err(|e| e.to_string())?
        }
        Job::Growth { cells, genes } => {
            serde_json::to_value(growth(cells, genes)?).map_err(|e| e.to_string())?
        }
    };
    Ok(value.to_string())
}

/// The synthetic benchmark and `cfg` with its exact split file.
pub fn synth_with_split(shared: &Path, cfg: RunConfig) -> Result<(Dataset, RunConfig), String> {
    let csv = shared.join("synth_sparse_additive.csv");
    let split_path = shared.join("synth_sparse_additive.split.csv");
    let ds = data::load_path(&csv, &cfg.load_options()).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(&split_path).map_err(|e| e.to_string())?;
    let roles = split::parse_split_file(&bytes, ds.n_cells()).map_err(|e| e.to_string())?;
    Ok((
        ds,
        cfg.with_split_file(split_path.display().to_string(), roles),
    ))
}

fn reference(model: ModelName, threads: usize, shared: &Path) -> Result<ReferenceRun, String> {
    let epochs = 10;
    let mut settings = Settings {
        model,
        latent: 200,
        hidden: 400,
        batch_size: 512,
        particles: 5,
        likelihood: LikelihoodChoice::Nb,
        lr: 3e-4,
        epochs,
        patience: 0,
        ..Settings::default()
    };
    // The reference trains its masks from the first epoch.
    settings.align_epochs = 0;
    let (ds, cfg) = synth_with_split(shared, settings.check().map_err(|e| e.to_string())?)?;
    let device = Device::flex().autodiff();
    let mut s =
        Session::new(ds, "synth_sparse_additive", cfg, &device).map_err(|e| e.to_string())?;
    let t = Instant::now();
    while !s.is_done() {
        pollster::block_on(s.step()).map_err(|e| e.to_string())?;
    }
    let seconds = t.elapsed().as_secs_f64();
    let train_cells = s.split.train.len();
    let cells_per_s = (train_cells * s.trainer.epoch()) as f64 / seconds;
    let reference = reference_cells_per_s(model);
    Ok(ReferenceRun {
        model,
        threads,
        train_cells,
        epochs: s.trainer.epoch(),
        seconds,
        train_cells_per_s: cells_per_s,
        reference_cells_per_s: reference,
        ratio: reference.map(|r| cells_per_s / r),
    })
}

fn growth(cells: usize, genes: usize) -> Result<GrowthRun, String> {
    let base = SampleConfig::default();
    let base_cells = 3140.0;
    let f = cells as f64 / base_cells;
    let scaled = |n: usize| ((n as f64 * f).round() as usize).max(2);
    let (ds, _) = sample::generate(&SampleConfig {
        genes,
        control_cells: scaled(base.control_cells),
        cells_per_single: scaled(base.cells_per_single),
        cells_per_combination: scaled(base.cells_per_combination),
        ..base
    })
    .map_err(|e| e.to_string())?;
    let cfg = Settings {
        genes,
        epochs: 2,
        patience: 0,
        ..Settings::default()
    }
    .check()
    .map_err(|e| e.to_string())?;
    let n = ds.n_cells();
    let device = Device::flex().autodiff();
    let t = Instant::now();
    let mut s = Session::new(ds, "generated", cfg, &device).map_err(|e| e.to_string())?;
    let setup_ms = t.elapsed().as_secs_f64() * 1e3;
    pollster::block_on(s.step()).map_err(|e| e.to_string())?;
    let t = Instant::now();
    pollster::block_on(s.step()).map_err(|e| e.to_string())?;
    Ok(GrowthRun {
        cells: n,
        genes,
        setup_ms,
        ms_per_epoch: t.elapsed().as_secs_f64() * 1e3,
        peak_rss_mib: super::peak_rss_mib(),
    })
}
