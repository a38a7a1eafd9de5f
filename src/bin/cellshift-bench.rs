//! Speed and memory figures for the native CPU backend: prints a table and writes JSON.
//! Targets live here, not in timed tests: a slow machine should not fail the test suite.

use std::path::PathBuf;
use std::time::Instant;

use burn::tensor::Device;
use cellshift::config::{ModelName, RunConfig, Settings};
use cellshift::data;
use cellshift::masks::MaskTruth;
use cellshift::pipeline::Session;
use cellshift::sample::{self, SampleConfig};
use serde::Serialize;

#[path = "cellshift-bench/children.rs"]
mod children;
use children::{GrowthRun, Job, ReferenceRun};

#[derive(Serialize)]
struct Case {
    dataset: String,
    model: String,
    cells: usize,
    panel_genes: usize,
    train_cells: usize,
    epochs: usize,
    load_ms: f64,
    setup_ms: f64,
    ms_per_epoch: f64,
    /// The median epoch after the first [`WARM_EPOCHS`]: the page's figure of the same name
    /// leaves out its JIT's warm-up, so this is the native figure to set beside it.
    ms_per_epoch_steady: f64,
    ms_per_step: f64,
    train_cells_per_s: f64,
    train_s: f64,
    evaluate_ms: f64,
    /// Scoring's cost against the training of a run at the default epoch budget (from this
    /// case's time per epoch): what the scoreboard adds to a default run.
    scoring_share_of_default_run: f64,
    /// The model's ATE correlation on the top 20 genes per held-out condition (SAMS family).
    ate_r_top20: Option<f64>,
    /// Learned vs true pairwise mask overlap (Spearman), when the truth is known.
    mask_overlap_spearman: Option<f64>,
    /// The Monte-Carlo spread of the sampled scores of this trained model (sample cases).
    #[serde(skip_serializing_if = "Option::is_none")]
    monte_carlo: Option<MonteCarlo>,
}

/// Standard deviations of the IWELBO and ATE estimates of one trained model over independent
/// noise streams: the error their Monte-Carlo sampling adds at the default particle and sample
/// counts.
#[derive(Serialize)]
struct MonteCarlo {
    streams: usize,
    iwelbo_particles: usize,
    ate_samples: usize,
    iwelbo_sd: Option<f64>,
    ate_r_sd: Option<f64>,
    ate_r_top20_sd: Option<f64>,
}

fn sd(v: &[f64]) -> Option<f64> {
    cellshift::seeds::Interval::of(v).map(|i| i.sd)
}

/// Scores the IWELBO and the ATE of `s` again with `streams` other noise seeds.
fn monte_carlo(s: &Session, streams: usize) -> MonteCarlo {
    let cells = s.scorable_test_cells();
    let plans = s.plans();
    let settings = s.cfg.settings();
    let (mut iw, mut r, mut r20) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..streams as u64 {
        let seed = 1_000_003 + k;
        if let Ok(Some(b)) =
            pollster::block_on(s.likelihood_bounds_noise(&cells, settings.iwelbo_particles, seed))
        {
            iw.push(b.iwelbo);
        }
        if let Ok(Some(a)) = pollster::block_on(s.ate_scores_noise(&plans, seed)) {
            r.extend(a.r);
            r20.extend(a.r_top20);
        }
    }
    MonteCarlo {
        streams,
        iwelbo_particles: settings.iwelbo_particles,
        ate_samples: settings.ate_samples,
        iwelbo_sd: sd(&iw),
        ate_r_sd: sd(&r),
        ate_r_top20_sd: sd(&r20),
    }
}

/// Reading a wide sparse AnnData file: only the kept genes become dense.
#[derive(Serialize)]
struct SparseLoad {
    cells: usize,
    genes_in_file: usize,
    stored_values: usize,
    file_mib: f64,
    genes_kept: usize,
    load_ms: f64,
    /// Peak resident memory during the load (the file's bytes included), where it can be reset.
    peak_rss_mib: Option<f64>,
}

/// A seeded 50,000 × 20,000 CSR file (1% stored, uncompressed), written with hdf5-pure.
fn sparse_h5ad(cells: usize, genes: usize, per_cell: usize) -> (Vec<u8>, usize) {
    use hdf5_pure::{AttrValue, FileBuilder};
    let text = |s: &str| AttrValue::VarLenString(s.to_string());
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut indptr = vec![0i64];
    let mut indices = Vec::with_capacity(cells * per_cell);
    let mut values = Vec::with_capacity(cells * per_cell);
    for _ in 0..cells {
        let mut cols: Vec<i32> = (0..per_cell)
            .map(|_| (next() % genes as u64) as i32)
            .collect();
        cols.sort_unstable();
        cols.dedup();
        for c in cols {
            indices.push(c);
            values.push((1 + next() % 5) as f32);
        }
        indptr.push(indices.len() as i64);
    }
    let nnz = values.len();
    let mut b = FileBuilder::new();
    b.set_attr("encoding-type", text("anndata"));
    b.set_attr("encoding-version", text("0.1.0"));
    let mut x = b.create_group("X");
    x.set_attr("encoding-type", text("csr_matrix"));
    x.set_attr("encoding-version", text("0.1.0"));
    x.set_attr(
        "shape",
        AttrValue::I64Array(vec![cells as i64, genes as i64]),
    );
    x.create_dataset("data").with_f32_data(&values);
    x.create_dataset("indices").with_i32_data(&indices);
    x.create_dataset("indptr").with_i64_data(&indptr);
    b.add_group(x.finish());
    let labels: Vec<String> = (0..cells)
        .map(|i| {
            if i % 21 == 0 {
                "control".into()
            } else {
                format!("P{}", i % 21)
            }
        })
        .collect();
    let names: Vec<String> = (0..cells).map(|i| format!("c{i}")).collect();
    let genes_names: Vec<String> = (0..genes).map(|j| format!("G{j}")).collect();
    for (group, index, column) in [("obs", &names, Some(&labels)), ("var", &genes_names, None)] {
        let mut g = b.create_group(group);
        g.set_attr("_index", text("_index"));
        g.set_attr("encoding-type", text("dataframe"));
        g.set_attr("encoding-version", text("0.2.0"));
        let order = if column.is_some() {
            vec!["condition".to_string()]
        } else {
            Vec::new()
        };
        g.set_attr("column-order", AttrValue::VarLenStringArray(order));
        let idx: Vec<&str> = index.iter().map(String::as_str).collect();
        g.create_dataset("_index").with_vlen_strings(&idx);
        if let Some(c) = column {
            let v: Vec<&str> = c.iter().map(String::as_str).collect();
            g.create_dataset("condition").with_vlen_strings(&v);
        }
        b.add_group(g.finish());
    }
    (b.finish().expect("the benchmark file is written"), nnz)
}

fn sparse_load() -> SparseLoad {
    let (cells, genes) = (50_000, 20_000);
    let (bytes, nnz) = sparse_h5ad(cells, genes, 200);
    let file_mib = bytes.len() as f64 / (1 << 20) as f64;
    // Linux: reset the peak so it is the load's own, not the generator's (the file stays).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let t = Instant::now();
    let (ds, found) = data::parse_h5ad(
        bytes,
        &data::LoadOptions::default(),
        &data::FormatOptions::default(),
    )
    .expect("the benchmark file loads");
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let out = SparseLoad {
        cells: ds.n_cells(),
        genes_in_file: found.genes_in_file,
        stored_values: nnz,
        file_mib,
        genes_kept: found.genes_kept,
        load_ms,
        peak_rss_mib: peak_rss_mib(),
    };
    drop(ds);
    out
}

#[derive(Serialize)]
struct Report {
    backend: &'static str,
    cores: usize,
    sparse_h5ad_load: SparseLoad,
    cases: Vec<Case>,
    /// The reference implementation's configuration at 1 and 2 threads, against its figure.
    reference: Vec<ReferenceRun>,
    reference_source: &'static str,
    /// Per model: train cells/s with 2 threads over 1.
    thread_speedup: std::collections::BTreeMap<String, f64>,
    /// Time per epoch and peak memory against cells and panel size (default cVAE).
    growth: Vec<GrowthRun>,
    peak_rss_mib: Option<f64>,
}

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Epochs a steady per-epoch figure leaves out: in the page, the JIT compiles the hot code
/// with its optimising tier during about the first ten (see scripts/bench-page.mjs).
const WARM_EPOCHS: usize = 10;

/// The median epoch after the first [`WARM_EPOCHS`] (of all of them in a shorter run).
fn steady_ms(epoch_ms: &[f64]) -> f64 {
    let mut v: Vec<f64> = match epoch_ms.get(WARM_EPOCHS..) {
        Some(rest) if !rest.is_empty() => rest.to_vec(),
        _ => epoch_ms.to_vec(),
    };
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn bench(
    name: &str,
    load: impl FnOnce() -> cellshift::data::Dataset,
    cfg: RunConfig,
    truth: Option<MaskTruth>,
) -> Case {
    let t = Instant::now();
    let ds = load();
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let cells = ds.n_cells();
    let device = Device::flex().autodiff();
    let t = Instant::now();
    let mut s = Session::new(ds, name, cfg.clone(), &device).expect("benchmark settings are valid");
    if let Some(t) = truth {
        s = s.with_truth(t);
    }
    let setup_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let mut epoch_ms = Vec::new();
    while !s.is_done() {
        let e = Instant::now();
        pollster::block_on(s.step()).expect("epoch runs");
        epoch_ms.push(e.elapsed().as_secs_f64() * 1e3);
    }
    let train_s = t.elapsed().as_secs_f64();
    let epochs = s.trainer.epoch();
    let train_cells = s.split.train.len();
    let steps = epochs * train_cells.div_ceil(cfg.settings().batch_size);
    let t = Instant::now();
    let r = pollster::block_on(s.evaluate(train_s, "flex")).expect("evaluation runs");
    let evaluate_ms = t.elapsed().as_secs_f64() * 1e3;
    let ms_per_epoch = train_s * 1e3 / epochs as f64;
    let default_train_ms = ms_per_epoch * Settings::default().epochs as f64;
    Case {
        dataset: name.into(),
        model: cfg.model().name().to_string(),
        cells,
        panel_genes: s.prep.panel.len(),
        train_cells,
        epochs,
        load_ms,
        setup_ms,
        ms_per_epoch,
        ms_per_epoch_steady: steady_ms(&epoch_ms),
        ms_per_step: train_s * 1e3 / steps as f64,
        train_cells_per_s: (train_cells * epochs) as f64 / train_s,
        train_s,
        evaluate_ms,
        scoring_share_of_default_run: evaluate_ms / (evaluate_ms + default_train_ms),
        ate_r_top20: r
            .scores
            .get(cfg.model().name())
            .and_then(|m| m.ate.as_ref())
            .and_then(|a| a.r_top20),
        mask_overlap_spearman: r.figures.masks.as_ref().and_then(|m| m.overlap_spearman),
        monte_carlo: (name == "sample").then(|| monte_carlo(&s, 5)),
    }
}

/// The reference configuration per model at 1 and 2 threads, each in its own process.
fn reference_runs(
    shared: &std::path::Path,
) -> (Vec<ReferenceRun>, std::collections::BTreeMap<String, f64>) {
    let mut runs = Vec::new();
    let mut speedup = std::collections::BTreeMap::new();
    if !shared.join("synth_sparse_additive.csv").exists() {
        println!("NOTICE: synth_sparse_additive.* are absent; skipping the reference comparison");
        return (runs, speedup);
    }
    println!(
        "\nthe reference configuration ({})",
        children::REFERENCE_SOURCE
    );
    println!(
        "{:<6} {:>7} {:>9} {:>10} {:>10} {:>8}",
        "model", "threads", "seconds", "cells/s", "reference", "ratio"
    );
    for model in [ModelName::Sams, ModelName::Cvae] {
        let mut per_thread = Vec::new();
        for threads in [1, 2] {
            let job = Job::Reference { model, threads };
            match children::spawn(&job, threads)
                .and_then(|v| serde_json::from_value::<ReferenceRun>(v).map_err(|e| e.to_string()))
            {
                Ok(r) => {
                    println!(
                        "{:<6} {:>7} {:>9.1} {:>10.0} {:>10} {:>8}",
                        model.name(),
                        threads,
                        r.seconds,
                        r.train_cells_per_s,
                        r.reference_cells_per_s
                            .map_or("—".into(), |x| format!("{x:.0}")),
                        r.ratio.map_or("—".into(), |x| format!("{x:.2}×"))
                    );
                    per_thread.push(r.train_cells_per_s);
                    runs.push(r);
                }
                Err(e) => eprintln!(
                    "error: reference {} at {threads} thread(s): {e}",
                    model.name()
                ),
            }
        }
        if let [one, two] = per_thread[..] {
            println!(
                "{:<6} 2 threads / 1 thread: {:.2}×",
                model.name(),
                two / one
            );
            speedup.insert(model.name().to_string(), two / one);
        }
    }
    (runs, speedup)
}

/// Time per epoch and peak memory of the default cVAE on generated data, against cells and
/// panel size: time should grow linearly in cells.
fn growth_runs() -> Vec<GrowthRun> {
    println!("\ncost growth (default cVAE, generated data, one process per case)");
    println!(
        "{:>7} {:>6} {:>10} {:>10} {:>14} {:>9}",
        "cells", "genes", "setup ms", "ms/epoch", "µs/cell/epoch", "peak MiB"
    );
    let mut runs = Vec::new();
    for genes in [100, 500, 2000] {
        for cells in [1_000, 10_000, 100_000] {
            match children::spawn(&Job::Growth { cells, genes }, 1)
                .and_then(|v| serde_json::from_value::<GrowthRun>(v).map_err(|e| e.to_string()))
            {
                Ok(r) => {
                    println!(
                        "{:>7} {:>6} {:>10.0} {:>10.0} {:>14.1} {:>9}",
                        r.cells,
                        r.genes,
                        r.setup_ms,
                        r.ms_per_epoch,
                        r.ms_per_epoch * 1e3 / r.cells as f64,
                        r.peak_rss_mib.map_or("?".into(), |m| format!("{m:.0}"))
                    );
                    runs.push(r);
                }
                Err(e) => eprintln!("error: growth {cells} × {genes}: {e}"),
            }
        }
    }
    runs
}

fn main() {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        match children::run(args.get(2).map_or("", String::as_str), &shared) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let out = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("bench.json"));
    // First, so the process's peak memory is the load's own.
    let sparse = sparse_load();
    println!(
        "sparse .h5ad: {} cells × {} genes, {} stored values ({:.0} MiB): loaded in {:.0} ms keeping {} genes; peak resident memory {} MiB",
        sparse.cells,
        sparse.genes_in_file,
        sparse.stored_values,
        sparse.file_mib,
        sparse.load_ms,
        sparse.genes_kept,
        sparse
            .peak_rss_mib
            .map_or("?".into(), |m| format!("{m:.0}"))
    );
    let epochs = 30;
    let base = Settings {
        epochs,
        patience: 0,
        ..Settings::default()
    };
    let check = |s: Settings| s.check().expect("benchmark settings are valid");
    let sample = || {
        sample::generate(&SampleConfig::default())
            .expect("sample")
            .0
    };
    let mut cases = vec![
        bench("sample", sample, check(base.clone()), None),
        bench(
            "sample",
            sample,
            check(Settings {
                model: ModelName::Sams,
                ..base.clone()
            }),
            None,
        ),
    ];
    let kang = shared.join("kang2018_pbmc_ifnb.csv");
    if kang.exists() {
        let cfg = check(Settings {
            covariates: vec!["cell_type".into()],
            holdout_group: "cell_type=CD14+Mono".into(),
            ..base.clone()
        });
        let opts = cfg.load_options();
        cases.push(bench(
            "kang2018_pbmc_ifnb",
            || data::load_path(&kang, &opts).expect("kang loads"),
            cfg,
            None,
        ));
    } else {
        println!("NOTICE: {} is absent; skipping it", kang.display());
    }
    // SAMS-VAE at its defaults, trained to its early stop on the benchmark's exact split: the
    // figure to set beside the reference implementation's 443 s and top-20 ATE r of 0.85.
    let truth_path = shared.join("synth_sparse_additive.truth.json");
    let synth_files =
        ["csv", "split.csv"].map(|e| shared.join(format!("synth_sparse_additive.{e}")));
    if truth_path.exists() && synth_files.iter().all(|p| p.exists()) {
        let settings = check(Settings {
            model: ModelName::Sams,
            ..Settings::default()
        });
        let (ds, cfg) =
            children::synth_with_split(&shared, settings).expect("synth_sparse_additive loads");
        let truth = std::fs::read_to_string(&truth_path)
            .ok()
            .and_then(|t| MaskTruth::from_json(&t).ok());
        cases.push(bench("synth_sparse_additive", || ds, cfg, truth));
    } else {
        println!("NOTICE: synth_sparse_additive.* are absent; skipping them");
    }
    let (reference, thread_speedup) = reference_runs(&shared);
    let growth = growth_runs();
    let report = Report {
        backend: "flex (CPU, native)",
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        sparse_h5ad_load: sparse,
        cases,
        reference,
        reference_source: children::REFERENCE_SOURCE,
        thread_speedup,
        growth,
        peak_rss_mib: peak_rss_mib(),
    };
    println!(
        "{:<22} {:<5} {:>6} {:>6} {:>7} {:>9} {:>7} {:>8} {:>9} {:>8} {:>8} {:>7} {:>8} {:>8}",
        "dataset",
        "model",
        "cells",
        "genes",
        "epochs",
        "ms/epoch",
        "steady",
        "ms/step",
        "cells/s",
        "train s",
        "eval ms",
        "eval %",
        "ATE r20",
        "overlap"
    );
    let opt = |v: Option<f64>| v.map_or("—".to_string(), |x| format!("{x:.3}"));
    for c in &report.cases {
        println!(
            "{:<22} {:<5} {:>6} {:>6} {:>7} {:>9.1} {:>7.1} {:>8.2} {:>9.0} {:>8.1} {:>8.0} {:>7.1} {:>8} {:>8}",
            c.dataset,
            c.model,
            c.cells,
            c.panel_genes,
            c.epochs,
            c.ms_per_epoch,
            c.ms_per_epoch_steady,
            c.ms_per_step,
            c.train_cells_per_s,
            c.train_s,
            c.evaluate_ms,
            100.0 * c.scoring_share_of_default_run,
            opt(c.ate_r_top20),
            opt(c.mask_overlap_spearman)
        );
    }
    println!(
        "(steady: the median epoch after the first {WARM_EPOCHS}; eval %: scoring's share of a run at the default {} epochs, at this case's time per epoch)",
        Settings::default().epochs
    );
    for c in &report.cases {
        if let Some(mc) = &c.monte_carlo {
            println!(
                "Monte-Carlo spread, {} {} (sd over {} noise streams, K = {}, {} ATE samples): IWELBO {}, ATE r {}, ATE r top-20 {}",
                c.dataset,
                c.model,
                mc.streams,
                mc.iwelbo_particles,
                mc.ate_samples,
                opt(mc.iwelbo_sd),
                opt(mc.ate_r_sd),
                opt(mc.ate_r_top20_sd)
            );
        }
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
