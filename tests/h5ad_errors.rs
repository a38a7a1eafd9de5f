//! AnnData files that cannot be read as asked: each gets its own error, and none panics.

use std::path::PathBuf;

use cellshift::data::{
    self, DataError, FormatError, FormatOptions, Found, LoadOptions, parse_h5ad,
};

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/h5ad")
        .join(name)
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).expect("fixture")
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

#[test]
fn blosc_is_refused_by_name() {
    let err = read("blosc.h5ad", &with_cell_type(), &FormatOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::Format(FormatError::UnsupportedCompression { path, filter })
            if path == "X" && filter.contains("Blosc")),
        "{err}"
    );
}

#[test]
fn not_hdf5_and_not_anndata_are_told_apart() {
    let err = parse_h5ad(
        bytes("dense.csv"),
        &LoadOptions::default(),
        &FormatOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err, DataError::Format(FormatError::NotHdf5));
    let err = read(
        "plain.h5",
        &LoadOptions::default(),
        &FormatOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, DataError::Format(FormatError::NotAnnData { message }) if message.contains("obs")),
        "{err}"
    );
}

#[test]
fn missing_columns_and_matrices_are_named() {
    let opts = LoadOptions {
        condition_column: "guide".into(),
        ..LoadOptions::default()
    };
    let err = read("dense_gzip.h5ad", &opts, &FormatOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::Format(FormatError::MissingObsColumn { column, role: "condition", found })
            if column == "guide" && found.contains(&"condition".to_string())),
        "{err}"
    );
    let opts = LoadOptions {
        covariates: vec!["donor".into()],
        ..LoadOptions::default()
    };
    let err = read("dense_gzip.h5ad", &opts, &FormatOptions::default()).unwrap_err();
    assert!(
        matches!(
            &err,
            DataError::Format(FormatError::MissingObsColumn {
                role: "covariate",
                ..
            })
        ),
        "{err}"
    );
    let fopts = FormatOptions {
        layer: "spliced".into(),
        ..FormatOptions::default()
    };
    let err = read("layers.h5ad", &LoadOptions::default(), &fopts).unwrap_err();
    assert!(
        matches!(&err, DataError::Format(FormatError::MissingMatrix { name, found })
            if name == "spliced" && found == &["X".to_string(), "layers/counts".to_string()]),
        "{err}"
    );
}

#[test]
fn an_explicit_control_label_that_is_absent_is_an_error() {
    let opts = LoadOptions {
        control_label: "DMSO".into(),
        ..LoadOptions::default()
    };
    let err = read("dense_gzip.h5ad", &opts, &FormatOptions::default()).unwrap_err();
    assert!(
        matches!(&err, DataError::NoControl { label, .. } if label == "DMSO"),
        "{err}"
    );
}

#[test]
fn truncated_and_corrupted_files_are_errors_not_panics() {
    let whole = bytes("csr_strings.h5ad");
    for len in [8, 100, 512, 2048, whole.len() / 3, whole.len() / 2] {
        let cut = whole[..len].to_vec();
        let r = std::panic::catch_unwind(|| {
            parse_h5ad(cut, &with_cell_type(), &FormatOptions::default())
        });
        match r {
            Ok(Err(_)) => {}
            Ok(Ok(_)) => panic!("a file cut at {len} bytes loaded"),
            Err(_) => panic!("a file cut at {len} bytes panicked the reader"),
        }
    }
    // Flipped bytes in the middle: an error or (if they hit unused space) the same data.
    for at in (4096..whole.len()).step_by(whole.len() / 7) {
        let mut bad = whole.clone();
        bad[at] ^= 0xff;
        let r = std::panic::catch_unwind(|| {
            parse_h5ad(bad, &with_cell_type(), &FormatOptions::default())
        });
        assert!(r.is_ok(), "a byte flipped at {at} panicked the reader");
    }
}

#[test]
fn an_unknown_encoding_and_the_pre_0_7_layout_are_named() {
    let err = read(
        "unknown_encoding.h5ad",
        &LoadOptions::default(),
        &FormatOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, DataError::Format(FormatError::UnsupportedEncoding { path, encoding, .. })
            if path == "X" && encoding == "awkward-array"),
        "{err}"
    );
    let err = read(
        "legacy.h5ad",
        &LoadOptions::default(),
        &FormatOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, DataError::Format(FormatError::NotAnnData { message }) if message.contains("before 0.7")),
        "{err}"
    );
}
