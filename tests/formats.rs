//! AnnData and 10x input through the command line: the same table trains to the same scores
//! from CSV, .h5ad and 10x; the .h5ad export reads back; bad files exit 2 with their own error.

mod common;
use common::*;

use std::path::PathBuf;

use cellshift::data::{FormatOptions, LoadOptions, parse_h5ad};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/h5ad")
        .join(name)
        .display()
        .to_string()
}

/// A short seeded run on `data` (extra flags after), returning results.json.
fn train(name: &str, data: &[&str]) -> serde_json::Value {
    let out = tempdir(name);
    let mut args = vec!["train"];
    args.extend_from_slice(data);
    let out_s = out.to_str().unwrap().to_string();
    args.extend_from_slice(&[
        "--covariate",
        "cell_type",
        "--epochs",
        "4",
        "--genes",
        "10",
        "--seed",
        "3",
        "--ate-samples",
        "50",
        "--iwelbo-particles",
        "5",
        "--quiet",
        "--out",
        &out_s,
    ]);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    read_json(&out.join("results.json"))
}

#[test]
fn csv_h5ad_and_10x_of_one_table_score_identically() {
    let csv = train("fmt-csv", &["--data", &fixture("dense.csv")]);
    let h5ad = train("fmt-h5ad", &["--data", &fixture("dense_gzip.h5ad")]);
    let csr = train("fmt-csr", &["--data", &fixture("csr_strings.h5ad")]);
    assert!(
        csv["scores"]["cvae"]["pooled"]["mean_shift_r"].is_number(),
        "{}",
        csv["scores"]
    );
    assert_eq!(csv["scores"], h5ad["scores"]);
    assert_eq!(csv["split"], h5ad["split"]);
    assert_eq!(csv["scores"], csr["scores"]);
    // The 10x copy lists its cells in the same order, with the condition in `perturbation`.
    let tenx = train(
        "fmt-10x",
        &[
            "--data",
            &fixture("tenx.tar.gz"),
            "--metadata",
            &fixture("tenx_metadata.csv"),
        ],
    );
    assert_eq!(csv["scores"], tenx["scores"]);
    // What was guessed is what the recorded settings say.
    assert_eq!(tenx["config"]["condition_column"], "perturbation");
    assert_eq!(csr["config"]["layer"], "X");
}

#[test]
fn the_export_opens_in_our_reader_with_every_cell_annotated() {
    let out = tempdir("fmt-export");
    let o = run(&[
        "train",
        "--data",
        &fixture("gears.h5ad"),
        "--covariate",
        "cell_type",
        "--epochs",
        "3",
        "--genes",
        "10",
        "--likelihood",
        "nb",
        "--ate-samples",
        "50",
        "--iwelbo-particles",
        "5",
        "--export-h5ad",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("control label `ctrl` (guessed)"),
        "{stdout}"
    );
    assert!(stdout.contains("KLF1+ctrl → KLF1"), "{stdout}");
    let r = read_json(&out.join("results.json"));
    let test_cells = r["split"]["test_cells"].as_u64().unwrap() as usize;
    let bytes = std::fs::read(out.join("predictions.h5ad")).unwrap();
    let opts = LoadOptions {
        covariates: vec!["source".into(), "split".into()],
        ..LoadOptions::default()
    };
    let (ds, found) = parse_h5ad(bytes, &opts, &FormatOptions::default()).unwrap();
    // Sampled counts are preferred over the log-normalised X.
    assert_eq!(found.matrix, "layers/counts");
    assert!(ds.is_counts);
    assert_eq!(ds.n_genes(), 10);
    let source = &ds.covariates[0];
    let count = |s: &str| source.iter().filter(|v| *v == s).count();
    assert_eq!(count("true"), test_cells);
    // One prediction per held-out cell (each is decoded from its matched control).
    assert_eq!(count("predicted"), test_cells);
    assert!(count("control") > 0);
    assert_eq!(
        count("true") + count("predicted") + count("control"),
        ds.n_cells()
    );
    // X read explicitly is the log-normalised panel.
    let x = FormatOptions {
        layer: "X".into(),
        ..FormatOptions::default()
    };
    let bytes = std::fs::read(out.join("predictions.h5ad")).unwrap();
    let (lx, _) = parse_h5ad(bytes, &opts, &x).unwrap();
    assert!(!lx.is_counts);
    for i in 0..ds.n_cells() {
        let total: f64 = ds.values.row(i).iter().map(|&v| f64::from(v)).sum();
        for j in 0..ds.n_genes() {
            let want = if total > 0.0 {
                (f64::from(ds.values.get(i, j)) * 1e4 / total).ln_1p()
            } else {
                0.0
            };
            assert!(
                (f64::from(lx.values.get(i, j)) - want).abs() < 1e-4,
                "cell {i} gene {j}"
            );
        }
    }
}

#[test]
fn the_committed_export_reads_as_anndata_read_it() {
    let seen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("export.anndata.json")).unwrap())
            .unwrap();
    let opts = LoadOptions {
        covariates: vec!["source".into(), "split".into()],
        ..LoadOptions::default()
    };
    let x = FormatOptions {
        layer: "X".into(),
        ..FormatOptions::default()
    };
    let (ds, _) = parse_h5ad(std::fs::read(fixture("export.h5ad")).unwrap(), &opts, &x).unwrap();
    assert_eq!(ds.n_cells() as u64, seen["n_obs"].as_u64().unwrap());
    let genes: Vec<String> = serde_json::from_value(seen["var_names"].clone()).unwrap();
    assert_eq!(ds.genes, genes);
    let conditions: Vec<String> = serde_json::from_value(seen["obs"]["condition"].clone()).unwrap();
    assert_eq!(ds.conditions, conditions);
    let source: Vec<String> = serde_json::from_value(seen["obs"]["source"].clone()).unwrap();
    assert_eq!(ds.covariates[0], source);
    let sum: f64 = ds.values.data.iter().map(|&v| f64::from(v)).sum();
    assert!((sum - seen["X_sum"].as_f64().unwrap()).abs() < 1e-3 * sum.abs().max(1.0));
    let first: Vec<f32> = serde_json::from_value(seen["X_first_row"].clone()).unwrap();
    assert_eq!(ds.values.row(0), first.as_slice());
    let (counts, _) = parse_h5ad(
        std::fs::read(fixture("export.h5ad")).unwrap(),
        &opts,
        &FormatOptions::default(),
    )
    .unwrap();
    let csum: f64 = counts.values.data.iter().map(|&v| f64::from(v)).sum();
    assert_eq!(csum, seen["counts_sum"].as_f64().unwrap());
}

#[test]
fn bad_files_exit_2_with_their_own_error() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["--data", &fixture("blosc.h5ad")],
            "Blosc (HDF5 filter 32001)",
        ),
        (&["--data", &fixture("plain.h5")], "not AnnData"),
        (&["--data", &fixture("ambiguous.h5ad")], "--combination"),
        (
            &[
                "--data",
                &fixture("lognorm_only.h5ad"),
                "--likelihood",
                "nb",
            ],
            "needs integer counts",
        ),
    ];
    for (args, message) in cases {
        let out = tempdir("fmt-bad");
        let mut all = vec!["train"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--epochs", "1", "--out", out.to_str().unwrap()]);
        let o = run(&all);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // A CSV named .h5ad is refused as not HDF5 rather than read as CSV.
    let dir = tempdir("fmt-named");
    let fake = dir.join("table.h5ad");
    std::fs::copy(fixture("dense.csv"), &fake).unwrap();
    let o = run(&[
        "train",
        "--data",
        fake.to_str().unwrap(),
        "--epochs",
        "1",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an HDF5 file"));
}
