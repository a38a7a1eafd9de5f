//! The native command line: the same engine as the page, driven under `block_on`. Its settings
//! flags are made from the settings table ([`cellshift::config`]), so they cannot drift from
//! the page's fields.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use burn::tensor::Device;
use cellshift::config::{self, SettingError};
use cellshift::masks::MaskTruth;
use cellshift::pipeline::{RunError, Session};
use cellshift::results::RunResults;
use cellshift::sample::{self, SampleConfig};
use cellshift::split;
use cellshift::train::TrainError;
use cellshift::{data, datasets, seeds};
use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use indicatif::{ProgressBar, ProgressStyle};

#[path = "cellshift/input.rs"]
mod input;
#[path = "cellshift/table.rs"]
mod table;

use table::scoreboard_table;

fn command() -> Command {
    let sample = Command::new("sample")
        .about("Write the synthetic sample dataset (seeded, with known true effects) as CSV.")
        .arg(
            path_arg(
                "out",
                "Where to write the CSV; its true effects go beside it as .truth.json.",
            )
            .required(true),
        )
        .arg(
            Arg::new("seed")
                .long("seed")
                .value_parser(value_parser!(u64))
                .help(format!(
                    "The sample's seed [default: {}]",
                    SampleConfig::default().seed
                )),
        );
    let train = Command::new("train")
        .about("Train a model, score it beside the baselines and write results.json and the scoreboard.")
        .arg(
            path_arg("data", "CSV or CSV.gz (one row per cell, a condition column, optional covariates, then genes), an AnnData .h5ad, or a 10x folder or .tar.gz (with --metadata); the format is read from the bytes.")
                .conflicts_with_all(["sample", "dataset"])
                .required_unless_present_any(["sample", "dataset"]),
        )
        .arg(
            Arg::new("dataset")
                .long("dataset")
                .value_name("NAME")
                .value_parser(datasets::ALL.map(|d| d.name))
                .conflicts_with("sample")
                .help(
                    "A bundled dataset, with its classic task's settings (flags override them): \
                     kang2018, PBMCs stimulated with interferon-β (Kang et al. 2018), CD14+ \
                     monocytes held out.",
                ),
        )
        .arg(Arg::new("sample").long("sample").action(ArgAction::SetTrue).help("Use the built-in synthetic sample instead of a file."))
        .arg(path_arg("out", "Folder for results.json, scores.csv, config.json and the figures [default: results]"))
        .arg(
            path_arg(
                "split_file",
                "An exact external split: a CSV with columns cell_id (cell000000 = the first data row) and split (train, val or test).",
            )
            .long("split-file")
            .conflicts_with_all(["holdout_fraction", "holdout_conditions", "holdout_group"]),
        )
        .arg(path_arg("metadata", "For 10x input: a CSV or TSV table keyed by barcode with the condition (and covariate) columns.").requires("data"))
        .arg(
            Arg::new("export_h5ad")
                .long("export-h5ad")
                .action(ArgAction::SetTrue)
                .help("Also write predictions.h5ad: held-out true, predicted and control cells (obs: condition, split, source, model; X: the panel, log-normalised; layers/counts: sampled counts for NB)."),
        )
        .arg(path_arg("truth", "True sparse effects (JSON) to draw beside the learned masks; --sample uses its own."))
        .arg(Arg::new("quiet").long("quiet").action(ArgAction::SetTrue).help("Print nothing but errors."))
        .args(config::cli::args());
    Command::new("cellshift")
        .version(env!("CARGO_PKG_VERSION"))
        .about(
            "Train perturbation models on single-cell data and score them against honest baselines",
        )
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(sample)
        .subcommand(train)
}

fn path_arg(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .value_name("PATH")
        .value_parser(value_parser!(PathBuf))
        .help(help)
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Data(#[from] data::DataError),
    #[error("--{flag}: {source}", flag = source.key().and_then(config::spec).map_or("", |s| s.flag))]
    Setting {
        #[from]
        source: SettingError,
    },
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Split(#[from] split::SplitError),
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
    #[error(transparent)]
    Chart(#[from] cellshift::charts::ChartError),
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error(transparent)]
    Seeds(#[from] seeds::SeedsError),
}

impl CliError {
    /// 2: the input (data, settings, split) is at fault; 1: anything else.
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Data(_)
            | CliError::Setting { .. }
            | CliError::Split(_)
            | CliError::Read { .. } => 2,
            CliError::Run(e) if e.is_input_error() => 2,
            _ => 1,
        }
    }
}

fn main() -> ExitCode {
    let matches = command().get_matches();
    let result = match matches.subcommand() {
        Some(("sample", m)) => write_sample(m),
        Some(("train", m)) => train(m),
        _ => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CliError::Write {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
    }
    std::fs::write(path, bytes).map_err(|e| CliError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Reads a small input file (a split file, a truth file), never more than the input limit.
fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    use std::io::Read;
    let err = |message: String| CliError::Read {
        path: path.display().to_string(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let mut bytes = Vec::new();
    let limit = data::MAX_INPUT_BYTES as u64;
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| err(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(err(format!(
            "larger than the {} MiB input limit",
            limit >> 20
        )));
    }
    Ok(bytes)
}

fn to_json<T: serde::Serialize>(v: &T, path: &Path) -> Result<String, CliError> {
    serde_json::to_string_pretty(v).map_err(|e| CliError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn write_sample(m: &ArgMatches) -> Result<(), CliError> {
    let Some(out) = m.get_one::<PathBuf>("out") else {
        return Ok(());
    };
    let seed = m
        .get_one::<u64>("seed")
        .copied()
        .unwrap_or(SampleConfig::default().seed);
    let (ds, truth) = sample::generate(&SampleConfig {
        seed,
        ..Default::default()
    })?;
    write_file(out, ds.to_csv().as_bytes())?;
    let truth_path = out.with_extension("truth.json");
    write_file(&truth_path, to_json(&truth, &truth_path)?.as_bytes())?;
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

fn train(m: &ArgMatches) -> Result<(), CliError> {
    let quiet = m.get_flag("quiet");
    let out = m
        .get_one::<PathBuf>("out")
        .cloned()
        .unwrap_or_else(|| PathBuf::from("results"));
    let bundled = m
        .get_one::<String>("dataset")
        .and_then(|name| datasets::find(name));
    let base = bundled.map_or_else(config::Settings::default, |d| d.settings());
    // Every setting is checked before any file is read.
    let mut cfg = config::cli::settings(m, base)?.check()?;
    let mut truth = match m.get_one::<PathBuf>("truth") {
        Some(p) => {
            let text = String::from_utf8_lossy(&read_file(p)?).into_owned();
            Some(
                MaskTruth::from_json(&text).map_err(|message| CliError::Read {
                    path: p.display().to_string(),
                    message,
                })?,
            )
        }
        None => None,
    };
    let (ds, source) = match (m.get_one::<PathBuf>("data"), bundled) {
        (Some(path), _) => {
            let metadata = m.get_one::<PathBuf>("metadata").map(PathBuf::as_path);
            let (ds, checked) = input::load(path, metadata, cfg.clone(), quiet)?;
            cfg = checked;
            (ds, path.display().to_string())
        }
        (None, Some(d)) => (
            data::parse_csv(d.bytes(), &cfg.load_options())?,
            d.name.to_string(),
        ),
        (None, None) => {
            let (ds, t) = sample::generate(&SampleConfig::default())?;
            truth.get_or_insert_with(|| MaskTruth::from_sample(&t));
            (ds, "sample".to_string())
        }
    };
    let cfg = match m.get_one::<PathBuf>("split_file") {
        Some(p) => cfg.with_split_file(
            p.display().to_string(),
            split::parse_split_file(&read_file(p)?, ds.n_cells())?,
        ),
        None => cfg,
    };
    if !quiet {
        for w in ds.warnings.iter().chain(&cfg.notes()) {
            eprintln!("note: {w}");
        }
        println!(
            "{source}: {} cells × {} genes ({}), {} conditions",
            ds.n_cells(),
            ds.n_genes(),
            if ds.is_counts { "counts" } else { "continuous" },
            ds.condition_counts().len()
        );
    }
    let device = Device::flex().autodiff();
    let seeds = cfg.settings().seeds;
    let mut runs = Vec::with_capacity(seeds);
    let mut ds = Some(ds);
    for k in 0..seeds {
        let cfg = cfg.clone().with_replicate(k);
        if !quiet && seeds > 1 {
            println!(
                "seed {} of {seeds} (model seed {})",
                k + 1,
                cfg.model_seed()
            );
        }
        // The last replicate takes the data; the others copy it.
        let data = if k + 1 == seeds {
            ds.take()
        } else {
            ds.clone()
        };
        let Some(data) = data else { break };
        let mut session = Session::new(data, &source, cfg, &device)?;
        if let Some(t) = &truth {
            session = session.with_truth(t.clone());
        }
        runs.push(train_and_score(&mut session, quiet)?);
        // The export is of the first seed's model, whose figures the results show.
        if k == 0 && m.get_flag("export_h5ad") {
            export_h5ad(&session, &out, quiet)?;
        }
    }
    let results = seeds::combine(runs)?;
    if !quiet {
        print!("{}", scoreboard_table(&results));
    }
    write_outputs(&out, &results)?;
    if !quiet {
        let masks = if results.figures.masks.is_some() {
            ", masks.png, masks.svg"
        } else {
            ""
        };
        let seeds = if results.seeds().is_some() {
            ", seeds.csv"
        } else {
            ""
        };
        println!(
            "wrote {}/results.json, scores.csv{seeds}, config.json, scoreboard.png, scoreboard.svg{masks}",
            out.display()
        );
    }
    Ok(())
}

/// Trains `session` to the end of its budget (or to a divergence, rolled back) with a progress
/// bar, then scores it.
fn train_and_score(session: &mut Session, quiet: bool) -> Result<RunResults, CliError> {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(session.progress().budget as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} epoch {pos}/{len} ETA {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    while !session.is_done() {
        let rec = match pollster::block_on(session.step()) {
            Ok(rec) => rec,
            // The trainer has rolled back to the last good epoch: score that model.
            Err(RunError::Train(e @ TrainError::NonFinite { .. })) => {
                bar.suspend(|| eprintln!("warning: {e}"));
                break;
            }
            Err(e) => return Err(e.into()),
        };
        let get = |m: &std::collections::BTreeMap<String, f64>, k: &str| {
            m.get(k).copied().unwrap_or(f64::NAN)
        };
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
    if !quiet && results.train.stopped_early {
        println!(
            "early stop at epoch {} (best validation loss at epoch {})",
            results.train.epochs, results.train.best_epoch
        );
    }
    Ok(results)
}

/// Writes predictions.h5ad: the held-out true cells, the model's and the controls.
fn export_h5ad(session: &Session, out: &Path, quiet: bool) -> Result<(), CliError> {
    let (bytes, [cells, genes]) = pollster::block_on(session.export_h5ad())?;
    write_file(&out.join("predictions.h5ad"), &bytes)?;
    if !quiet {
        println!(
            "wrote {}/predictions.h5ad ({cells} cells × {genes} genes)",
            out.display()
        );
    }
    Ok(())
}

fn write_outputs(out: &Path, results: &RunResults) -> Result<(), CliError> {
    let path = out.join("results.json");
    write_file(&path, to_json(results, &path)?.as_bytes())?;
    let path = out.join("config.json");
    write_file(&path, to_json(&results.config, &path)?.as_bytes())?;
    write_file(
        &out.join("scores.csv"),
        cellshift::results::scores_csv(results).as_bytes(),
    )?;
    cellshift::render::scoreboard_png(results, &out.join("scoreboard.png"), 1600, 1200)?;
    cellshift::render::scoreboard_svg(results, &out.join("scoreboard.svg"), 1600, 1200)?;
    if let Some(s) = results.seeds() {
        write_file(&out.join("seeds.csv"), seeds::seeds_csv(s).as_bytes())?;
    }
    if let Some(m) = &results.figures.masks {
        cellshift::render::masks_png(m, &out.join("masks.png"), 1400, 900)?;
        cellshift::render::masks_svg(m, &out.join("masks.svg"), 1400, 900)?;
    }
    Ok(())
}
