//! AnnData input: every fixture (written by the real anndata, see
//! scripts/make-h5ad-fixtures.py) reads to the values anndata recorded in expected.json, each
//! guess is the one documented, and each bad file gets its own error.

use std::path::PathBuf;

use cellshift::data::{
    self, DataError, FormatError, FormatOptions, Found, Joiner, LoadOptions, parse_h5ad,
};
use serde_json::Value;

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/h5ad")
        .join(name)
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).expect("fixture")
}

fn expected(name: &str) -> Value {
    let text = std::fs::read_to_string(path("expected.json")).expect("expected.json");
    let all: Value = serde_json::from_str(&text).expect("json");
    all[name].clone()
}

fn with_cell_type() -> LoadOptions {
    LoadOptions {
        covariates: vec!["cell_type".into()],
        ..LoadOptions::default()
    }
}

fn read(
    name: &str,
    opts: &LoadOptions,
    fopts: &FormatOptions,
) -> Result<(data::Dataset, Found), DataError> {
    parse_h5ad(bytes(name), opts, fopts)
}

/// Genes, conditions, covariates and every value as anndata recorded them.
fn assert_matches(name: &str, ds: &data::Dataset, found: &Found) {
    let e = expected(name);
    assert_eq!(
        found.matrix,
        e["matrix"].as_str().unwrap(),
        "{name}: matrix"
    );
    assert_eq!(
        ds.condition_column,
        e["condition_column"].as_str().unwrap(),
        "{name}"
    );
    assert_eq!(
        ds.control_label,
        e["control_label"].as_str().unwrap(),
        "{name}"
    );
    let genes: Vec<String> = serde_json::from_value(e["genes"].clone()).unwrap();
    assert_eq!(ds.genes, genes, "{name}: genes");
    let conditions: Vec<String> = serde_json::from_value(e["conditions"].clone()).unwrap();
    assert_eq!(ds.conditions, conditions, "{name}: conditions");
    let cell_type: Vec<String> =
        serde_json::from_value(e["covariates"]["cell_type"].clone()).unwrap();
    assert_eq!(ds.covariates, vec![cell_type], "{name}: covariates");
    let values: Vec<Vec<f32>> = serde_json::from_value(e["values"].clone()).unwrap();
    assert_eq!(ds.values.rows, values.len());
    for (i, row) in values.iter().enumerate() {
        assert_eq!(ds.values.row(i), row.as_slice(), "{name}: cell {i}");
    }
}

#[test]
fn dense_gzip_categorical_reads_exactly() {
    let (ds, found) = read(
        "dense_gzip.h5ad",
        &with_cell_type(),
        &FormatOptions::default(),
    )
    .unwrap();
    assert_matches("dense_gzip.h5ad", &ds, &found);
    assert!(ds.is_counts);
    assert!(found.guessed.is_empty(), "{:?}", found.guessed);
    assert_eq!(found.matrices.len(), 1);
    assert_eq!(found.matrices[0].storage, "dense");
    let kinds: Vec<(&str, &str)> = found
        .obs_columns
        .iter()
        .map(|c| (c.name.as_str(), c.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("condition", "categorical"),
            ("cell_type", "categorical"),
            ("n_counts", "numeric")
        ]
    );
    assert_eq!(ds.sha256.len(), 64);
}

#[test]
fn csr_with_plain_string_columns_and_a_guessed_condition_column() {
    let (ds, found) = read(
        "csr_strings.h5ad",
        &with_cell_type(),
        &FormatOptions::default(),
    )
    .unwrap();
    assert_matches("csr_strings.h5ad", &ds, &found);
    assert_eq!(found.guessed, ["condition_column"]);
    assert_eq!(found.matrices[0].storage, "csr");
    assert_eq!(found.obs_columns[0].kind, "text");
}

#[test]
fn csc_gzip_reads_exactly() {
    let (ds, found) = read(
        "csc_gzip.h5ad",
        &with_cell_type(),
        &FormatOptions::default(),
    )
    .unwrap();
    assert_matches("csc_gzip.h5ad", &ds, &found);
    assert_eq!(found.matrices[0].storage, "csc");
}

#[test]
fn a_counts_layer_is_preferred_over_lognormalised_x() {
    let (ds, found) = read("layers.h5ad", &with_cell_type(), &FormatOptions::default()).unwrap();
    assert_matches("layers.h5ad", &ds, &found);
    assert!(ds.is_counts);
    assert_eq!(found.guessed, ["matrix"]);
    // Asking for X reads the log-normalised values instead.
    let fopts = FormatOptions {
        layer: "X".into(),
        ..FormatOptions::default()
    };
    let (ds, found) = read("layers.h5ad", &with_cell_type(), &fopts).unwrap();
    assert_eq!(found.matrix, "X");
    assert!(!ds.is_counts);
    // A bare layer name works too.
    let fopts = FormatOptions {
        layer: "counts".into(),
        ..FormatOptions::default()
    };
    assert_eq!(
        read("layers.h5ad", &with_cell_type(), &fopts)
            .unwrap()
            .1
            .matrix,
        "layers/counts"
    );
}

#[test]
fn raw_x_brings_its_own_gene_names() {
    let (ds, found) = read("raw.h5ad", &with_cell_type(), &FormatOptions::default()).unwrap();
    assert_matches("raw.h5ad", &ds, &found);
    assert_eq!(ds.n_genes(), 16);
    // raw/X is tried before X and holds counts, so X is never scanned.
    let x = found.matrices.iter().find(|m| m.name == "X").unwrap();
    assert_eq!((x.genes, x.counts), (10, None));
    let raw = found.matrices.iter().find(|m| m.name == "raw/X").unwrap();
    assert_eq!((raw.genes, raw.counts), (16, Some(true)));
}

#[test]
fn gears_labels_are_mapped_and_shown() {
    let (ds, found) = read("gears.h5ad", &with_cell_type(), &FormatOptions::default()).unwrap();
    assert_matches("gears.h5ad", &ds, &found);
    assert!(found.guessed.contains(&"control_label".to_string()));
    assert!(
        found
            .relabelled
            .contains(&("KLF1+ctrl".to_string(), "KLF1".to_string()))
    );
    assert!(
        found
            .relabelled
            .contains(&("ctrl+CEBPA".to_string(), "CEBPA".to_string()))
    );
}

#[test]
fn underscore_combinations_of_known_singles_are_read_as_combinations() {
    let (ds, found) = read(
        "underscore.h5ad",
        &with_cell_type(),
        &FormatOptions::default(),
    )
    .unwrap();
    assert_matches("underscore.h5ad", &ds, &found);
    assert_eq!(found.joiner, Joiner::Underscore);
    assert!(
        found.notes.iter().any(|n| n.contains("KLF1_CEBPA")),
        "{:?}",
        found.notes
    );
}

#[test]
fn underscore_used_both_ways_asks_instead_of_guessing() {
    let err = read(
        "ambiguous.h5ad",
        &with_cell_type(),
        &FormatOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, DataError::Format(FormatError::AmbiguousJoiner { combination, name, .. })
            if combination == "KLF1_CEBPA" && name == "CEBPA_g2"),
        "{err}"
    );
    assert!(err.to_string().contains("--combination"));
    // Either choice is then honoured.
    let none = FormatOptions {
        joiner: Joiner::None,
        ..FormatOptions::default()
    };
    let (ds, _) = read("ambiguous.h5ad", &with_cell_type(), &none).unwrap();
    assert!(ds.conditions.contains(&"KLF1_CEBPA".to_string()));
    let under = FormatOptions {
        joiner: Joiner::Underscore,
        ..FormatOptions::default()
    };
    let (ds, _) = read("ambiguous.h5ad", &with_cell_type(), &under).unwrap();
    assert!(ds.conditions.contains(&"KLF1+CEBPA".to_string()));
    assert!(ds.conditions.contains(&"CEBPA+g2".to_string()));
}

#[test]
fn lzf_compressed_datasets_read() {
    let (ds, found) = read("lzf.h5ad", &with_cell_type(), &FormatOptions::default()).unwrap();
    assert_matches("lzf.h5ad", &ds, &found);
}

#[test]
fn a_lognormalised_file_is_continuous() {
    let (ds, found) = read(
        "lognorm_only.h5ad",
        &with_cell_type(),
        &FormatOptions::default(),
    )
    .unwrap();
    assert_matches("lognorm_only.h5ad", &ds, &found);
    assert!(!ds.is_counts);
    assert!(
        found
            .notes
            .iter()
            .any(|n| n.contains("`X` is not integer counts")),
        "{:?}",
        found.notes
    );
}

#[test]
fn only_the_most_variable_genes_are_densified_past_the_budget() {
    let fopts = FormatOptions {
        max_dense_values: 48 * 5,
        min_genes: 2,
        ..FormatOptions::default()
    };
    let (ds, found) = read("csr_strings.h5ad", &with_cell_type(), &fopts).unwrap();
    assert_eq!(
        (found.genes_in_file, found.genes_kept, ds.n_genes()),
        (14, 5, 5)
    );
    // They are the five of largest variance of log-normalised values over all cells,
    // computed here from the full read.
    let (full, _) = read(
        "csr_strings.h5ad",
        &with_cell_type(),
        &FormatOptions::default(),
    )
    .unwrap();
    let n = full.n_cells() as f64;
    let mut var: Vec<(f64, usize)> = (0..full.n_genes())
        .map(|j| {
            let xs: Vec<f64> = (0..full.n_cells())
                .map(|i| {
                    let total: f64 = full.values.row(i).iter().map(|&v| f64::from(v)).sum();
                    (f64::from(full.values.get(i, j)) * 1e4 / total).ln_1p()
                })
                .collect();
            let mean = xs.iter().sum::<f64>() / n;
            (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n, j)
        })
        .collect();
    var.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut top: Vec<String> = var[..5]
        .iter()
        .map(|&(_, j)| full.genes[j].clone())
        .collect();
    top.sort();
    assert_eq!(ds.genes, top);
    // Values are those of the full read, column for column.
    for (k, g) in ds.genes.iter().enumerate() {
        let j = full.genes.iter().position(|x| x == g).unwrap();
        for i in 0..ds.n_cells() {
            assert_eq!(ds.values.get(i, k), full.values.get(i, j));
        }
    }
}

#[test]
fn scanpy_pbmc_slice_reads_its_obs_and_values() {
    let e = expected("pbmc68k_slice.h5ad");
    let opts = LoadOptions {
        condition_column: "phase".into(),
        control_label: "G1".into(),
        covariates: vec!["bulk_labels".into()],
        ..LoadOptions::default()
    };
    let (ds, found) = read("pbmc68k_slice.h5ad", &opts, &FormatOptions::default()).unwrap();
    let genes: Vec<String> = serde_json::from_value(e["genes"].clone()).unwrap();
    assert_eq!(ds.genes, genes);
    let phase: Vec<String> = serde_json::from_value(e["obs_phase"].clone()).unwrap();
    assert_eq!(ds.conditions, phase);
    let labels: Vec<String> = serde_json::from_value(e["obs_bulk_labels"].clone()).unwrap();
    assert_eq!(ds.covariates[0], labels);
    let values: Vec<Vec<f32>> = serde_json::from_value(e["values"].clone()).unwrap();
    for (i, row) in values.iter().enumerate() {
        assert_eq!(ds.values.row(i), row.as_slice());
    }
    assert!(!ds.is_counts);
    assert_eq!(
        found
            .obs_columns
            .iter()
            .find(|c| c.name == "n_genes")
            .unwrap()
            .kind,
        "numeric"
    );
}
