//! 10x Matrix Market input: the folder, its `.tar.gz` and the older uncompressed `genes.tsv`
//! layout read to the values the fixture script recorded, metadata matched by barcode.

use std::path::PathBuf;

use cellshift::data::{
    self, DataError, FormatError, FormatOptions, LoadOptions, load_input, parse_10x,
};
use serde_json::Value;

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/h5ad")
        .join(name)
}

fn opts() -> LoadOptions {
    LoadOptions {
        covariates: vec!["cell_type".into()],
        ..LoadOptions::default()
    }
}

fn assert_expected(ds: &data::Dataset) {
    let text = std::fs::read_to_string(path("expected.json")).unwrap();
    let e: Value = serde_json::from_str::<Value>(&text).unwrap()["tenx"].clone();
    let genes: Vec<String> = serde_json::from_value(e["genes"].clone()).unwrap();
    assert_eq!(ds.genes, genes);
    let conditions: Vec<String> = serde_json::from_value(e["conditions"].clone()).unwrap();
    assert_eq!(ds.conditions, conditions);
    let cell_type: Vec<String> =
        serde_json::from_value(e["covariates"]["cell_type"].clone()).unwrap();
    assert_eq!(ds.covariates, vec![cell_type]);
    let values: Vec<Vec<f32>> = serde_json::from_value(e["values"].clone()).unwrap();
    for (i, row) in values.iter().enumerate() {
        assert_eq!(ds.values.row(i), row.as_slice(), "cell {i}");
    }
    assert!(ds.is_counts);
    assert_eq!(ds.condition_column, "perturbation");
}

#[test]
fn a_folder_of_gzipped_files_reads_exactly() {
    let meta = path("tenx_metadata.csv");
    let (ds, found) = load_input(
        &path("tenx"),
        Some(&meta),
        &opts(),
        &FormatOptions::default(),
    )
    .unwrap();
    assert_expected(&ds);
    let found = found.unwrap();
    assert_eq!(found.format, "10x");
    assert_eq!(found.guessed, ["condition_column"]);
}

#[test]
fn a_tar_gz_of_the_folder_reads_the_same() {
    let meta = path("tenx_metadata.csv");
    let (ds, _) = load_input(
        &path("tenx.tar.gz"),
        Some(&meta),
        &opts(),
        &FormatOptions::default(),
    )
    .unwrap();
    assert_expected(&ds);
}

#[test]
fn the_older_genes_tsv_layout_reads_the_same() {
    let meta = path("tenx_metadata.csv");
    let (ds, _) = load_input(
        &path("tenx_v2"),
        Some(&meta),
        &opts(),
        &FormatOptions::default(),
    )
    .unwrap();
    assert_expected(&ds);
}

#[test]
fn a_tsv_metadata_table_works_too() {
    let csv = std::fs::read_to_string(path("tenx_metadata.csv")).unwrap();
    let tsv = csv.replace(',', "\t");
    let files: Vec<(String, Vec<u8>)> = ["matrix.mtx.gz", "barcodes.tsv.gz", "features.tsv.gz"]
        .iter()
        .map(|n| (n.to_string(), std::fs::read(path("tenx").join(n)).unwrap()))
        .collect();
    let (ds, _) = parse_10x(files, tsv.as_bytes(), &opts(), &FormatOptions::default()).unwrap();
    assert_expected(&ds);
}

#[test]
fn a_barcode_without_metadata_is_named() {
    let csv = std::fs::read_to_string(path("tenx_metadata.csv")).unwrap();
    let cut: String = csv
        .lines()
        .filter(|l| !l.starts_with("AAAC0003-1"))
        .map(|l| format!("{l}\n"))
        .collect();
    let files: Vec<(String, Vec<u8>)> = ["matrix.mtx.gz", "barcodes.tsv.gz", "features.tsv.gz"]
        .iter()
        .map(|n| (n.to_string(), std::fs::read(path("tenx").join(n)).unwrap()))
        .collect();
    let err = parse_10x(files, cut.as_bytes(), &opts(), &FormatOptions::default()).unwrap_err();
    assert_eq!(
        err,
        DataError::Format(FormatError::MissingBarcode {
            barcode: "AAAC0003-1".into(),
            cell: 4
        })
    );
}

#[test]
fn missing_files_metadata_and_bad_entries_are_specific() {
    let err = load_input(&path("tenx"), None, &opts(), &FormatOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::Format(FormatError::TenX { message, .. }) if message.contains("--metadata")),
        "{err}"
    );
    let meta = std::fs::read(path("tenx_metadata.csv")).unwrap();
    let only_matrix = vec![(
        "matrix.mtx.gz".to_string(),
        std::fs::read(path("tenx/matrix.mtx.gz")).unwrap(),
    )];
    let err = parse_10x(only_matrix, &meta, &opts(), &FormatOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::Format(FormatError::TenX { file, .. }) if file == "barcodes.tsv"),
        "{err}"
    );
    let bad = b"%%MatrixMarket matrix coordinate integer general\n14 48 1\n15 1 3\n".to_vec();
    let files = vec![
        ("matrix.mtx".to_string(), bad),
        (
            "barcodes.tsv.gz".to_string(),
            std::fs::read(path("tenx/barcodes.tsv.gz")).unwrap(),
        ),
        (
            "features.tsv.gz".to_string(),
            std::fs::read(path("tenx/features.tsv.gz")).unwrap(),
        ),
    ];
    let err = parse_10x(files, &meta, &opts(), &FormatOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::Format(FormatError::TenX { file, message })
            if file == "matrix.mtx" && message.contains("entry 1") && message.contains("outside")),
        "{err}"
    );
}
