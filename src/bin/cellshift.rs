//! The native command line: the same engine as the page, driven under `block_on`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use burn::tensor::Device;
use cellshift::data::{self, LoadOptions};
use cellshift::generate::Mode;
use cellshift::masks::MaskTruth;
use cellshift::model::{Likelihood, SamsOptions};
use cellshift::pipeline::{RunConfig, Session};
use cellshift::results::{JACCARD_KS, RunResults, ScoreSet};
use cellshift::sample::{self, SampleConfig};
use cellshift::split::{self, Holdout};
use cellshift::train::TrainConfig;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(name = "cellshift", version, about = "Train perturbation models on single-cell data and score them against honest baselines")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the synthetic sample dataset (seeded, with known true effects) as CSV.
    Sample {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = SampleConfig::default().seed)]
        seed: u64,
    },
    /// Train a model, score it beside the baselines and write results.json and the scoreboard.
    Train(TrainArgs),
}

#[derive(Args)]
struct TrainArgs {
    /// CSV or CSV.gz: one row per cell, a condition column, optional covariates, then genes.
    #[arg(long, conflicts_with = "sample", required_unless_present = "sample")]
    data: Option<PathBuf>,
    /// Use the built-in synthetic sample instead of a file.
    #[arg(long)]
    sample: bool,
    #[arg(long, default_value = "results")]
    out: PathBuf,
    #[arg(long, default_value = "condition")]
    condition_column: String,
    #[arg(long, default_value = "control")]
    control_label: String,
    /// A categorical column such as cell_type (repeatable).
    #[arg(long = "covariate")]
    covariates: Vec<String>,
    /// Panel size: the most variable genes on training cells.
    #[arg(long, default_value_t = 200)]
    genes: usize,
    /// Hold out this fraction of every perturbed condition's cells.
    #[arg(long, conflicts_with_all = ["holdout_conditions", "holdout_group"])]
    holdout_fraction: Option<f64>,
    /// Hold out whole conditions, comma-separated (e.g. A+B,C).
    #[arg(long, conflicts_with = "holdout_group")]
    holdout_conditions: Option<String>,
    /// Hold out the perturbed cells of one covariate group, e.g. cell_type=CD14+Mono.
    #[arg(long, conflicts_with = "split_file")]
    holdout_group: Option<String>,
    /// An exact external split: CSV with columns cell_id (cell000000 = first data row) and
    /// split (train, val or test).
    #[arg(long, conflicts_with_all = ["holdout_fraction", "holdout_conditions"])]
    split_file: Option<PathBuf>,
    /// cvae, sams (SAMS-VAE, correlated guide), sams-mf (mean-field guide), cpa (CPA-VAE) or
    /// svae-plus (SVAE+).
    #[arg(long, default_value = "cvae")]
    model: String,
    /// SAMS family: prior probability that a perturbation acts on a latent dimension.
    #[arg(long, default_value_t = SamsOptions::default().mask_prior)]
    mask_prior: f64,
    /// SAMS family: Monte-Carlo particles per cell in the training ELBO.
    #[arg(long, default_value_t = SamsOptions::default().particles)]
    particles: usize,
    /// Particles K of the held-out IWELBO.
    #[arg(long, default_value_t = SamsOptions::default().iwelbo_particles)]
    iwelbo_particles: usize,
    /// SAMS family: learning rate of the global parameters (mask logits, embeddings).
    #[arg(long, default_value_t = SamsOptions::default().global_lr)]
    global_lr: f64,
    /// SAMS family: initial logit of the mask probabilities.
    #[arg(long, default_value_t = SamsOptions::default().mask_init_logit, allow_hyphen_values = true)]
    mask_init_logit: f64,
    /// SAMS family: scale of the N(0, s²) prior on perturbation embeddings.
    #[arg(long, default_value_t = SamsOptions::default().embedding_prior_scale)]
    embedding_prior_scale: f64,
    /// SAMS family: Gumbel-softmax temperature of the mask samples.
    #[arg(long, default_value_t = SamsOptions::default().temperature)]
    temperature: f64,
    /// SVAE+: β of the Beta(1, β) mask prior (default: (1 − π)/π).
    #[arg(long)]
    svae_beta: Option<f64>,
    /// Samples per condition for the model's average treatment effect.
    #[arg(long, default_value_t = SamsOptions::default().ate_samples)]
    ate_samples: usize,
    /// SAMS-VAE and SVAE+: epochs trained without masks before the latent basis is rotated to make the
    /// effects sparse and the masks start (0: masks from the first epoch; runs shorter than
    /// twice this start them halfway).
    #[arg(long, default_value_t = SamsOptions::default().align_epochs)]
    align_epochs: usize,
    /// True sparse effects (JSON) to draw beside the learned masks; `--sample` uses its own.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// nb (counts) or gaussian (log-normalised); default: nb for counts, gaussian otherwise.
    #[arg(long)]
    likelihood: Option<String>,
    #[arg(long, default_value_t = 10)]
    latent: usize,
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    #[arg(long, default_value_t = 200)]
    epochs: usize,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, default_value_t = 1e-6)]
    weight_decay: f64,
    /// Epochs of linear KL warm-up.
    #[arg(long, default_value_t = 20)]
    kl_warmup: usize,
    #[arg(long, default_value_t = 1.0)]
    beta: f64,
    /// Maximum gradient norm (0: off).
    #[arg(long, default_value_t = 10.0)]
    grad_clip: f64,
    /// Early-stopping patience in epochs (0: off).
    #[arg(long, default_value_t = 30)]
    patience: usize,
    #[arg(long, default_value_t = 0.1)]
    val_fraction: f64,
    /// Generation mode: b (encode matched control cells) or a (sample the prior).
    #[arg(long, default_value = "b")]
    generation: String,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Data(#[from] data::DataError),
    #[error(transparent)]
    Run(#[from] cellshift::pipeline::RunError),
    #[error(transparent)]
    Split(#[from] split::SplitError),
    #[error(transparent)]
    Model(#[from] cellshift::model::ModelConfigError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
    #[error(transparent)]
    Chart(#[from] cellshift::charts::ChartError),
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sample { out, seed } => write_sample(&out, seed),
        Command::Train(args) => train(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                CliError::Data(_) => 2,
                _ => 1,
            })
        }
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CliError::Write { path: dir.display().to_string(), message: e.to_string() })?;
    }
    std::fs::write(path, bytes).map_err(|e| CliError::Write { path: path.display().to_string(), message: e.to_string() })
}

fn write_sample(out: &Path, seed: u64) -> Result<(), CliError> {
    let cfg = SampleConfig { seed, ..Default::default() };
    let (ds, truth) = sample::generate(&cfg)?;
    write_file(out, ds.to_csv().as_bytes())?;
    let truth_path = out.with_extension("truth.json");
    write_file(&truth_path, serde_json::to_string_pretty(&truth).unwrap_or_default().as_bytes())?;
    println!(
        "wrote {} ({} cells × {} genes, {} conditions) and {}",
        out.display(),
        ds.n_cells(),
        ds.n_genes(),
        ds.condition_counts().len(),
        truth_path.display()
    );
    Ok(())
}

fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::Read { path: path.display().to_string(), message: e.to_string() })
}

/// `n_cells`: rows in the data, for a split file (checked there).
fn run_config(a: &TrainArgs, n_cells: usize) -> Result<RunConfig, CliError> {
    let holdout = if let Some(path) = &a.split_file {
        let assignments = split::parse_split_file(&read_file(path)?, n_cells)?;
        Holdout::File { source: path.display().to_string(), assignments }
    } else if let Some(g) = &a.holdout_group {
        split::parse_group(g)?
    } else if let Some(c) = &a.holdout_conditions {
        Holdout::Conditions { conditions: c.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect() }
    } else {
        Holdout::Fraction { fraction: a.holdout_fraction.unwrap_or(0.2) }
    };
    let likelihood = a.likelihood.as_deref().map(str::parse::<Likelihood>).transpose()?;
    let generation: Mode = a.generation.parse().map_err(CliError::Usage)?;
    Ok(RunConfig {
        source: match &a.data {
            Some(p) => p.display().to_string(),
            None => "sample".into(),
        },
        condition_column: a.condition_column.clone(),
        control_label: a.control_label.clone(),
        covariates: a.covariates.clone(),
        genes: a.genes,
        holdout,
        val_fraction: a.val_fraction,
        model: a.model.clone(),
        latent: a.latent,
        hidden: a.hidden,
        likelihood,
        generation,
        train: TrainConfig::new()
            .with_epochs(a.epochs)
            .with_batch_size(a.batch_size)
            .with_lr(a.lr)
            .with_weight_decay(a.weight_decay)
            .with_kl_warmup(a.kl_warmup)
            .with_beta(a.beta)
            .with_grad_clip(a.grad_clip)
            .with_patience(a.patience)
            .with_seed(a.seed),
        seed: a.seed,
        sams: SamsOptions {
            mask_prior: a.mask_prior,
            particles: a.particles,
            iwelbo_particles: a.iwelbo_particles,
            global_lr: a.global_lr,
            mask_init_logit: a.mask_init_logit,
            embedding_prior_scale: a.embedding_prior_scale,
            temperature: a.temperature,
            svae_beta: a.svae_beta,
            ate_samples: a.ate_samples,
            align_epochs: a.align_epochs,
        },
    })
}

fn train(a: TrainArgs) -> Result<(), CliError> {
    // Flag-only rules first, so a bad value is reported before the data is read.
    if a.split_file.is_none() {
        run_config(&a, 0)?;
    }
    let mut truth = match &a.truth {
        Some(p) => {
            let text = String::from_utf8_lossy(&read_file(p)?).into_owned();
            Some(MaskTruth::from_json(&text).map_err(|m| CliError::Read { path: p.display().to_string(), message: m })?)
        }
        None => None,
    };
    let ds = match &a.data {
        Some(path) => {
            let opts = LoadOptions {
                condition_column: a.condition_column.clone(),
                control_label: a.control_label.clone(),
                covariates: a.covariates.clone(),
                ..Default::default()
            };
            data::load_path(path, &opts)?
        }
        None => {
            let (ds, t) = sample::generate(&SampleConfig::default())?;
            truth.get_or_insert_with(|| MaskTruth::from_sample(&t));
            ds
        }
    };
    let cfg = run_config(&a, ds.n_cells())?;
    if !a.quiet {
        for w in &ds.warnings {
            eprintln!("warning: {w}");
        }
        println!(
            "{}: {} cells × {} genes ({}), {} conditions",
            cfg.source,
            ds.n_cells(),
            ds.n_genes(),
            if ds.is_counts { "counts" } else { "continuous" },
            ds.condition_counts().len()
        );
    }
    let device = Device::flex().autodiff();
    let mut session = Session::new(ds, cfg.clone(), &device)?;
    if let Some(t) = truth {
        session = session.with_truth(t);
    }
    let bar = if a.quiet { ProgressBar::hidden() } else { ProgressBar::new(cfg.train.epochs as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} epoch {pos}/{len} ETA {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    while !session.is_done() {
        let rec = pollster::block_on(session.step())?;
        let get = |m: &std::collections::BTreeMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(f64::NAN);
        bar.set_position(rec.epoch as u64);
        bar.set_message(format!(
            "loss {:.2} (recon {:.2}, kl {:.2}, β {:.2}) val {:.2}",
            get(&rec.train, "loss"),
            get(&rec.train, "recon"),
            get(&rec.train, "kl"),
            rec.beta,
            get(&rec.val, "loss")
        ));
    }
    bar.finish();
    let seconds = started.elapsed().as_secs_f64();
    let results = pollster::block_on(session.evaluate(seconds, "flex (CPU)"))?;
    if !a.quiet {
        if session.trainer.stopped_early() {
            println!("early stop at epoch {} (best validation loss at epoch {})", results.train.epochs, results.train.best_epoch);
        }
        print!("{}", scoreboard_table(&results));
    }
    write_outputs(&a.out, &results)?;
    if !a.quiet {
        let masks = if results.figures.masks.is_some() { ", masks.png, masks.svg" } else { "" };
        println!("wrote {}/results.json, scores.csv, config.json, scoreboard.png, scoreboard.svg{masks}", a.out.display());
    }
    Ok(())
}

fn write_outputs(out: &Path, results: &RunResults) -> Result<(), CliError> {
    let json = serde_json::to_string_pretty(results).map_err(|e| CliError::Usage(e.to_string()))?;
    write_file(&out.join("results.json"), json.as_bytes())?;
    let cfg = serde_json::to_string_pretty(&results.config).map_err(|e| CliError::Usage(e.to_string()))?;
    write_file(&out.join("config.json"), cfg.as_bytes())?;
    write_file(&out.join("scores.csv"), cellshift::results::scores_csv(results).as_bytes())?;
    cellshift::render::scoreboard_png(results, &out.join("scoreboard.png"), 1600, 1200)?;
    cellshift::render::scoreboard_svg(results, &out.join("scoreboard.svg"), 1600, 1200)?;
    if let Some(m) = &results.figures.masks {
        cellshift::render::masks_png(m, &out.join("masks.png"), 1400, 900)?;
        cellshift::render::masks_svg(m, &out.join("masks.svg"), 1400, 900)?;
    }
    Ok(())
}

fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), |x| format!("{x:.3}"))
}

fn row(name: &str, s: &ScoreSet) -> String {
    let mut line = format!("{name:<20} {:>7}", fmt(s.mean_shift_r));
    for k in JACCARD_KS {
        line += &format!(" {:>7}", fmt(s.jaccard.get(&k.to_string()).copied().flatten()));
    }
    line += &format!(" {:>9}", fmt(s.energy_distance));
    if let Some(why) = &s.undefined {
        line += &format!("  ({why})");
    }
    line + "\n"
}

/// The scoreboard as text: the model first, then the baselines, pooled over held-out conditions.
fn scoreboard_table(r: &RunResults) -> String {
    let model = r.config.get("model").and_then(|m| m.as_str()).unwrap_or("cvae").to_string();
    let mut out = format!(
        "\nscoreboard — {} held-out cells in {} condition(s); shifts against matched controls\n",
        r.split.test_cells,
        r.split.test_conditions.len()
    );
    out += &format!("{:<20} {:>7} {:>7} {:>7} {:>7} {:>9}\n", "predictor", "r", "J@25", "J@50", "J@100", "energy");
    let mut names: Vec<&String> = r.scores.keys().collect();
    names.sort_by_key(|n| (**n != model, (*n).clone()));
    for n in names {
        out += &row(n, &r.scores[n].pooled);
    }
    for (c, why) in &r.split.unpredictable {
        out += &format!("note: `{c}` cannot be predicted by {model}: {why}\n");
    }
    if let Some(s) = r.scores.get(&model) {
        if let Some(iw) = s.iwelbo {
            out += &format!("held-out IWELBO ({model}): {iw:.2} nats per cell\n");
        }
        if let Some(ate) = &s.ate {
            out += &format!(
                "average treatment effect r ({model}, {} conditions): all genes {}, top-20 genes {}\n",
                ate.conditions.len(),
                fmt(ate.r),
                fmt(ate.r_top20)
            );
        }
    }
    if let Some(m) = &r.figures.masks {
        out += &format!("masks: {:.2} active latent dims per perturbation (P > 0.5)", m.mean_active);
        if let Some(t) = m.true_mean_active {
            out += &format!(", truth {t:.2}");
        }
        if let Some(s) = m.overlap_spearman {
            out += &format!("; pairwise overlap vs truth: Spearman {s:.3}");
        }
        out += "\n";
    }
    out
}
