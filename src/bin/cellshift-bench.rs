//! Speed and memory figures for the native CPU backend: prints a table and writes JSON.
//! Targets live here, not in timed tests: a slow machine should not fail the test suite.

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::Device;
use cellshift::data::{self, LoadOptions};
use cellshift::pipeline::{RunConfig, Session};
use cellshift::sample::{self, SampleConfig};
use cellshift::split::Holdout;
use cellshift::train::TrainConfig;
use serde::Serialize;

#[derive(Serialize)]
struct Case {
    dataset: String,
    cells: usize,
    panel_genes: usize,
    train_cells: usize,
    epochs: usize,
    load_ms: f64,
    setup_ms: f64,
    ms_per_epoch: f64,
    ms_per_step: f64,
    train_cells_per_s: f64,
    evaluate_ms: f64,
}

#[derive(Serialize)]
struct Report {
    backend: &'static str,
    cores: usize,
    cases: Vec<Case>,
    peak_rss_mib: Option<f64>,
}

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn bench(name: &str, load: impl FnOnce() -> cellshift::data::Dataset, cfg: RunConfig) -> Case {
    let t = Instant::now();
    let ds = load();
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let cells = ds.n_cells();
    let device = Device::flex().autodiff();
    let t = Instant::now();
    let mut s = Session::new(ds, cfg.clone(), &device).expect("benchmark settings are valid");
    let setup_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    while !s.is_done() {
        pollster::block_on(s.step()).expect("epoch runs");
    }
    let train_s = t.elapsed().as_secs_f64();
    let epochs = s.trainer.epoch();
    let train_cells = s.split.train.len();
    let steps = epochs * train_cells.div_ceil(cfg.train.batch_size);
    let t = Instant::now();
    pollster::block_on(s.evaluate(train_s, "flex")).expect("evaluation runs");
    Case {
        dataset: name.into(),
        cells,
        panel_genes: s.prep.panel.len(),
        train_cells,
        epochs,
        load_ms,
        setup_ms,
        ms_per_epoch: train_s * 1e3 / epochs as f64,
        ms_per_step: train_s * 1e3 / steps as f64,
        train_cells_per_s: (train_cells * epochs) as f64 / train_s,
        evaluate_ms: t.elapsed().as_secs_f64() * 1e3,
    }
}

fn main() {
    let out = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("bench.json"));
    let epochs = 30;
    let base = RunConfig { train: TrainConfig::new().with_epochs(epochs).with_patience(0), ..RunConfig::default() };
    let mut cases = vec![bench("sample", || sample::generate(&SampleConfig::default()).expect("sample").0, base.clone())];
    let kang = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/kang2018_pbmc_ifnb.csv");
    if kang.exists() {
        let cfg = RunConfig {
            covariates: vec!["cell_type".into()],
            holdout: Holdout::Group { covariate: "cell_type".into(), level: "CD14+Mono".into() },
            ..base.clone()
        };
        let opts = LoadOptions { covariates: vec!["cell_type".into()], ..Default::default() };
        cases.push(bench("kang2018_pbmc_ifnb", || data::load_path(&kang, &opts).expect("kang loads"), cfg));
    } else {
        println!("NOTICE: {} is absent; benchmarking the sample only", kang.display());
    }
    let report = Report {
        backend: "flex (CPU, native)",
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cases,
        peak_rss_mib: peak_rss_mib(),
    };
    println!("{:<22} {:>6} {:>6} {:>8} {:>10} {:>10} {:>12} {:>10}", "dataset", "cells", "genes", "epochs", "ms/epoch", "ms/step", "cells/s", "eval ms");
    for c in &report.cases {
        println!(
            "{:<22} {:>6} {:>6} {:>8} {:>10.1} {:>10.2} {:>12.0} {:>10.0}",
            c.dataset, c.cells, c.panel_genes, c.epochs, c.ms_per_epoch, c.ms_per_step, c.train_cells_per_s, c.evaluate_ms
        );
    }
    if let Some(m) = report.peak_rss_mib {
        println!("peak resident memory: {m:.0} MiB");
    }
    match serde_json::to_string_pretty(&report) {
        Ok(json) => match std::fs::write(&out, json) {
            Ok(()) => println!("wrote {}", out.display()),
            Err(e) => eprintln!("error: cannot write {}: {e}", out.display()),
        },
        Err(e) => eprintln!("error: {e}"),
    }
}
