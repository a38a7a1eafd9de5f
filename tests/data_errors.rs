//! Loading cells × genes CSV files: one test per input rule, plus the accepted variations
//! (gzip, BOM, CRLF, quoting, column order) and round trips.

use std::io::Write;
use std::path::Path;

use cellshift::data::*;
use cellshift::matrix::{Matrix, SizeError};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// Options with the few-cells warning turned off, so small tables load quietly.
fn quiet() -> LoadOptions {
    LoadOptions {
        min_cells_per_condition: 1,
        ..LoadOptions::default()
    }
}

fn with_covariates(names: &[&str]) -> LoadOptions {
    LoadOptions {
        covariates: names.iter().map(|s| s.to_string()).collect(),
        ..quiet()
    }
}

fn parse(text: &str) -> Result<Dataset, DataError> {
    parse_csv(text.as_bytes(), &quiet())
}

fn parse_err(text: &str, opts: &LoadOptions) -> DataError {
    match parse_csv(text.as_bytes(), opts) {
        Ok(ds) => panic!(
            "expected an error, got a dataset with {} cells",
            ds.n_cells()
        ),
        Err(e) => e,
    }
}

/// Asserts the message mentions every piece.
fn assert_mentions(err: &DataError, pieces: &[&str]) {
    let msg = err.to_string();
    for p in pieces {
        assert!(msg.contains(p), "message {msg:?} does not mention {p:?}");
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// One test per error rule
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_input() {
    for text in ["", "   ", "\n\n", " \r\n\t\n"] {
        let err = parse_err(text, &quiet());
        assert_eq!(err, DataError::Empty, "input {text:?}");
        assert_mentions(&err, &["empty"]);
    }
    // A BOM and nothing else is still empty.
    let err = parse_csv(b"\xef\xbb\xbf\n", &quiet()).unwrap_err();
    assert_eq!(err, DataError::Empty);
}

#[test]
fn header_only() {
    let err = parse_err("condition,g1,g2\n\n", &quiet());
    assert_eq!(err, DataError::HeaderOnly);
    assert_mentions(&err, &["header", "no data rows"]);
}

#[test]
fn missing_condition_column() {
    let err = parse_err("cond,g1,g2\ncontrol,1,2\n", &quiet());
    let DataError::MissingConditionColumn { column, found } = &err else {
        panic!("wrong variant: {err:?}");
    };
    assert_eq!(column, "condition");
    assert_eq!(found, &["cond", "g1", "g2"]);
    assert_mentions(&err, &["line 1", "`condition`", "`cond`", "`g1`", "`g2`"]);

    // A renamed condition column is honoured.
    let opts = LoadOptions {
        condition_column: "perturbation".into(),
        ..quiet()
    };
    let ds = parse_csv(b"perturbation,g1\ncontrol,1\nA,2\n", &opts).unwrap();
    assert_eq!(ds.condition_column, "perturbation");
    assert_eq!(ds.genes, ["g1"]);
}

#[test]
fn missing_condition_column_lists_only_a_few_names() {
    let header: Vec<String> = (0..50).map(|i| format!("g{i}")).collect();
    let text = format!("{}\n{}\n", header.join(","), vec!["1"; 50].join(","));
    let err = parse_err(&text, &quiet());
    let DataError::MissingConditionColumn { found, .. } = &err else {
        panic!("wrong variant: {err:?}");
    };
    assert!(found.len() <= 11);
    assert_mentions(&err, &["`g0`", "`g9`", "…"]);
    assert!(!err.to_string().contains("`g10`"));
}

#[test]
fn missing_covariate() {
    let err = parse_err(
        "condition,g1\ncontrol,1\n",
        &with_covariates(&["cell_type"]),
    );
    assert_eq!(
        err,
        DataError::MissingCovariate {
            column: "cell_type".into(),
            found: vec!["condition".into(), "g1".into()]
        }
    );
    assert_mentions(&err, &["`cell_type`", "line 1", "`condition`", "`g1`"]);
}

#[test]
fn empty_column_name() {
    let err = parse_err("condition,g1,\ncontrol,1,\n", &quiet());
    assert_eq!(err, DataError::EmptyColumnName { column_index: 3 });
    assert_mentions(&err, &["line 1", "column 3", "trailing comma"]);
}

#[test]
fn no_genes() {
    let err = parse_err(
        "condition,cell_type\ncontrol,T\n",
        &with_covariates(&["cell_type"]),
    );
    assert_eq!(
        err,
        DataError::NoGenes {
            used: vec!["condition".into(), "cell_type".into()]
        }
    );
    assert_mentions(&err, &["no gene columns", "`condition`", "`cell_type`"]);
}

#[test]
fn duplicate_gene() {
    let err = parse_err("condition,CD4,IFI6,CD4\ncontrol,1,2,3\n", &quiet());
    assert_eq!(
        err,
        DataError::DuplicateGene {
            name: "CD4".into(),
            first_column: 2,
            second_column: 4
        }
    );
    assert_mentions(&err, &["`CD4`", "line 1", "column 2", "column 4"]);
}

#[test]
fn duplicate_column() {
    let err = parse_err("condition,g1,condition\ncontrol,1,A\n", &quiet());
    assert_eq!(
        err,
        DataError::DuplicateColumn {
            name: "condition".into(),
            first_column: 1,
            second_column: 3
        }
    );
    assert_mentions(&err, &["`condition`", "column 1", "column 3"]);

    let err = parse_err(
        "condition,cell_type,g1,cell_type\ncontrol,T,1,B\n",
        &with_covariates(&["cell_type"]),
    );
    assert_eq!(
        err,
        DataError::DuplicateColumn {
            name: "cell_type".into(),
            first_column: 2,
            second_column: 4
        }
    );
}

#[test]
fn invalid_options() {
    let err = parse_err(
        "condition,g1\ncontrol,1\n",
        &with_covariates(&["condition"]),
    );
    assert!(matches!(err, DataError::InvalidOptions { .. }), "{err:?}");
    assert_mentions(&err, &["`condition`", "covariate"]);

    let err = parse_err("condition,g1\ncontrol,1\n", &with_covariates(&["a", "a"]));
    assert!(matches!(err, DataError::InvalidOptions { .. }), "{err:?}");

    let opts = LoadOptions {
        control_label: "  ".into(),
        ..quiet()
    };
    let err = parse_err("condition,g1\ncontrol,1\n", &opts);
    assert!(matches!(err, DataError::InvalidOptions { .. }), "{err:?}");
}

#[test]
fn ragged_row() {
    let err = parse_err("condition,g1,g2\ncontrol,1,2\nA,3\ncontrol,1,2\n", &quiet());
    assert_eq!(
        err,
        DataError::Ragged {
            line: 3,
            expected: 3,
            found: 2
        }
    );
    assert_mentions(&err, &["line 3", "2 fields", "header has 3"]);

    let err = parse_err("condition,g1,g2\ncontrol,1,2\nA,3,4,5\n", &quiet());
    assert_eq!(
        err,
        DataError::Ragged {
            line: 3,
            expected: 3,
            found: 4
        }
    );
}

#[test]
fn non_numeric_value() {
    let err = parse_err("condition,g1,IFI6\ncontrol,1,2\nA,3,abc\n", &quiet());
    assert_eq!(
        err,
        DataError::NonNumeric {
            line: 3,
            column: "IFI6".into(),
            column_index: 3,
            value: "abc".into()
        }
    );
    assert_mentions(
        &err,
        &[
            "line 3",
            "column 3",
            "`IFI6`",
            "\"abc\"",
            "expected a number",
        ],
    );
}

#[test]
fn empty_gene_field_is_not_zero() {
    let err = parse_err("condition,g1,ISG15\ncontrol,1,2\ncontrol,1,\n", &quiet());
    assert_eq!(
        err,
        DataError::NonNumeric {
            line: 3,
            column: "ISG15".into(),
            column_index: 3,
            value: String::new()
        }
    );
    assert_mentions(
        &err,
        &["line 3", "column 3", "`ISG15`", "\"\"", "not read as zero"],
    );

    // Quoted empty and whitespace-only fields too.
    let err = parse_err("condition,g1\ncontrol,\"  \"\n", &quiet());
    assert!(matches!(err, DataError::NonNumeric { line: 2, ref value, .. } if value.is_empty()));
}

#[test]
fn non_finite_values() {
    for bad in ["NaN", "nan", "inf", "-inf", "Infinity", "1e39"] {
        let text = format!("condition,g1,MX1\ncontrol,1,2\nA,1,{bad}\n");
        let err = parse_err(&text, &quiet());
        assert_eq!(
            err,
            DataError::NonFinite {
                line: 3,
                column: "MX1".into(),
                column_index: 3,
                value: bad.into()
            },
            "value {bad}"
        );
        assert_mentions(
            &err,
            &[
                "line 3",
                "column 3",
                "`MX1`",
                &format!("\"{bad}\""),
                "finite",
            ],
        );
    }
}

#[test]
fn negative_value() {
    let err = parse_err("g1,condition,g2\n1,control,2\n3,A,-1.5\n", &quiet());
    assert_eq!(
        err,
        DataError::Negative {
            line: 3,
            column: "g2".into(),
            column_index: 3,
            value: "-1.5".into()
        }
    );
    assert_mentions(
        &err,
        &["line 3", "column 3", "`g2`", "\"-1.5\"", "0 or more"],
    );

    // Negative zero is zero.
    let ds = parse("condition,g1\ncontrol,-0\nA,-0.0\n").unwrap();
    assert!(ds.values.data.iter().all(|v| v.to_bits() == 0));
}

#[test]
fn empty_condition() {
    let err = parse_err("g1,condition\n1,control\n2,  \n", &quiet());
    assert_eq!(
        err,
        DataError::EmptyCondition {
            line: 3,
            column: "condition".into(),
            column_index: 2
        }
    );
    assert_mentions(&err, &["line 3", "column 2", "`condition`", "empty"]);
}

#[test]
fn malformed_combination() {
    for (bad, reason) in [
        ("A+", "empty part"),
        ("A++B", "empty part"),
        ("A+A", "more than once"),
    ] {
        let text = format!("condition,g1\ncontrol,1\n{bad},2\n");
        let err = parse_err(&text, &quiet());
        let DataError::BadCondition {
            line,
            column,
            column_index,
            value,
            ..
        } = &err
        else {
            panic!("wrong variant for {bad}: {err:?}");
        };
        assert_eq!(
            (*line, column.as_str(), *column_index, value.as_str()),
            (3, "condition", 1, bad)
        );
        assert_mentions(
            &err,
            &[
                "line 3",
                "column 1",
                "`condition`",
                &format!("\"{bad}\""),
                reason,
            ],
        );
    }
    let err = parse_err("condition,g1\ncontrol,1\nA+control,2\n", &quiet());
    assert!(
        matches!(err, DataError::BadCondition { line: 3, .. }),
        "{err:?}"
    );
    assert_mentions(&err, &["control label"]);
}

#[test]
fn empty_covariate() {
    let err = parse_err(
        "condition,cell_type,g1\ncontrol,T,1\nA,,2\n",
        &with_covariates(&["cell_type"]),
    );
    assert_eq!(
        err,
        DataError::EmptyCovariate {
            line: 3,
            column: "cell_type".into(),
            column_index: 2
        }
    );
    assert_mentions(&err, &["line 3", "column 2", "`cell_type`", "empty"]);
}

#[test]
fn no_control_cells() {
    let err = parse_err("condition,g1\nA,1\nB,2\nctrl,3\n", &quiet());
    assert_eq!(
        err,
        DataError::NoControl {
            label: "control".into(),
            column: "condition".into(),
            found: vec!["A".into(), "B".into(), "ctrl".into()]
        }
    );
    assert_mentions(
        &err,
        &[
            "no control cells",
            "`control`",
            "`condition`",
            "`ctrl`",
            "`A`",
        ],
    );
}

#[test]
fn too_large_input() {
    let text = "condition,g1\ncontrol,1\nA,2\n";
    let opts = LoadOptions {
        max_bytes: 10,
        ..quiet()
    };
    let err = parse_err(text, &opts);
    assert_eq!(
        err,
        DataError::TooLarge {
            bytes: text.len(),
            limit: 10,
            decompressed: false
        }
    );
    assert_mentions(&err, &[&text.len().to_string(), "limit of 10 bytes"]);
}

#[test]
fn too_large_after_decompression() {
    // 1 MB of text that compresses to a few kilobytes: stopped at the limit, not expanded.
    let mut text = String::from("condition,g1\n");
    while text.len() < 1_000_000 {
        text.push_str("control,0\n");
    }
    let gz = gzip(text.as_bytes());
    let opts = LoadOptions {
        max_bytes: 100_000,
        ..quiet()
    };
    assert!(gz.len() < opts.max_bytes);
    let err = parse_csv(&gz, &opts).unwrap_err();
    let DataError::TooLarge {
        limit,
        decompressed,
        bytes,
    } = err
    else {
        panic!("wrong variant: {err:?}");
    };
    assert_eq!((limit, decompressed), (100_000, true));
    assert!(bytes > limit);
    assert_mentions(&err, &["decompressed", "100000"]);
}

#[test]
fn corrupt_gzip() {
    let gz = gzip(b"condition,g1\ncontrol,1\nA,2\n");
    // Garbage after the magic bytes.
    let err = parse_csv(&[0x1f, 0x8b, 0x00, 0x42, 0x13, 0x37], &quiet()).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
    assert_mentions(&err, &["gzip", "1f 8b"]);
    // Truncated stream.
    let err = parse_csv(&gz[..gz.len() / 2], &quiet()).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
    // Corrupted checksum.
    let mut bad = gz.clone();
    let n = bad.len();
    bad[n - 6] ^= 0xff;
    let err = parse_csv(&bad, &quiet()).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Caps on columns, conditions, perturbations and covariate levels; bounded reading
// ---------------------------------------------------------------------------------------------

/// A table with one gene (`g1`), the given covariate column (if any), and one row per label.
fn table(labels: &[String], covariate: Option<(&str, &[String])>) -> String {
    let mut text = String::from("condition");
    if let Some((name, _)) = covariate {
        text.push(',');
        text.push_str(name);
    }
    text.push_str(",g1\n");
    for (i, label) in labels.iter().enumerate() {
        text.push_str(label);
        if let Some((_, values)) = covariate {
            text.push(',');
            text.push_str(&values[i]);
        }
        text.push_str(",1\n");
    }
    text
}

fn controls(n: usize) -> Vec<String> {
    vec!["control".to_string(); n]
}

#[test]
fn too_many_columns() {
    // Condition + 10 genes = 11 columns against a limit of 10; the rows are never looked at.
    let opts = LoadOptions {
        max_columns: 10,
        ..quiet()
    };
    let genes: Vec<String> = (0..10).map(|g| format!("g{g}")).collect();
    let text = format!("condition,{}\nnot,even,a,row\n", genes.join(","));
    let err = parse_err(&text, &opts);
    assert_eq!(
        err,
        DataError::TooManyColumns {
            found: 11,
            limit: 10
        }
    );
    assert_mentions(&err, &["line 1", "11 columns", "limit of 10", "transposed"]);
    // Exactly at the limit is fine.
    let text = format!(
        "condition,{}\ncontrol{}\n",
        genes[..9].join(","),
        ",1".repeat(9)
    );
    assert_eq!(parse_csv(text.as_bytes(), &opts).unwrap().n_genes(), 9);

    // The default limit, with a generated header one column too wide.
    let mut header = String::from("condition");
    for g in 0..MAX_COLUMNS {
        header.push_str(&format!(",g{g}"));
    }
    header.push('\n');
    let err = parse_err(&header, &quiet());
    assert_eq!(
        err,
        DataError::TooManyColumns {
            found: MAX_COLUMNS + 1,
            limit: MAX_COLUMNS
        }
    );
    assert_mentions(&err, &["100001 columns", "limit of 100000"]);

    // The same rule for in-memory parts.
    let err = Dataset::from_parts_with_options(
        genes.clone(),
        Matrix::from_vec(1, 10, vec![1.0; 10]),
        vec!["control".into()],
        vec![],
        vec![],
        &opts,
    )
    .unwrap_err();
    assert!(
        matches!(err, DataError::TooManyColumns { found: 11, .. }),
        "{err:?}"
    );
}

#[test]
fn too_many_conditions() {
    let opts = LoadOptions {
        max_conditions: 5,
        ..quiet()
    };
    // control + P0..P4 = 6 distinct labels; P4 (line 7) is the sixth. Repeats do not count.
    let mut labels = controls(2);
    labels.extend((0..5).map(|p| format!("P{p}")));
    labels.extend(["P0".to_string(), "control".to_string()]);
    labels.swap(6, 7); // P0 again before P4
    let text = table(&labels, None);
    let err = parse_err(&text, &opts);
    assert_eq!(
        err,
        DataError::TooManyConditions {
            line: 9,
            column: "condition".into(),
            column_index: 1,
            value: "P4".into(),
            limit: 5
        }
    );
    assert_mentions(
        &err,
        &[
            "`condition`",
            "column 1",
            "more than 5 distinct condition labels",
            "line 9",
            "number 6",
            "\"P4\"",
        ],
    );
    // Five labels load.
    let text = table(&labels[..6], None);
    assert_eq!(
        parse_csv(text.as_bytes(), &opts)
            .unwrap()
            .condition_counts()
            .len(),
        5
    );

    // The default limit: control + 10,000 perturbations is one label too many.
    let mut labels = controls(1);
    labels.extend((0..MAX_CONDITIONS).map(|p| format!("P{p}")));
    let err = parse_err(&table(&labels, None), &quiet());
    assert!(
        matches!(
            &err,
            DataError::TooManyConditions { limit: MAX_CONDITIONS, line, .. }
                if *line == MAX_CONDITIONS as u64 + 2
        ),
        "{err:?}"
    );
}

#[test]
fn too_many_perturbations() {
    // 3 labels but 4 singles once split on `+`: D (line 4) is the fourth.
    let opts = LoadOptions {
        max_perturbations: 3,
        ..quiet()
    };
    let labels: Vec<String> = ["control", "A+B", "C+ D", "B+C"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let err = parse_err(&table(&labels, None), &opts);
    assert_eq!(
        err,
        DataError::TooManyPerturbations {
            line: 4,
            column: "condition".into(),
            column_index: 1,
            value: "D".into(),
            limit: 3
        }
    );
    assert_mentions(
        &err,
        &[
            "`condition`",
            "more than 3 distinct single perturbations",
            "line 4",
            "\"D\"",
        ],
    );
    // The control label is not a perturbation, and repeated singles count once.
    let labels: Vec<String> = ["control", "A+B", "B+C", "C", "A"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let ds = parse_csv(table(&labels, None).as_bytes(), &opts).unwrap();
    assert_eq!(ds.perturbation_names(), ["A", "B", "C"]);

    // The default limit, hit by combinations while the labels stay under theirs.
    let mut labels = controls(1);
    labels.extend((0..MAX_PERTURBATIONS / 2 + 1).map(|p| format!("X{p}+Y{p}")));
    let err = parse_err(&table(&labels, None), &quiet());
    assert!(
        matches!(
            &err,
            DataError::TooManyPerturbations { limit: MAX_PERTURBATIONS, value, .. }
                if value == &format!("X{}", MAX_PERTURBATIONS / 2)
        ),
        "{err:?}"
    );
}

#[test]
fn identifier_like_covariate() {
    // 60 cells, each with its own barcode: refused once all cells are read.
    let n = 60;
    let mut labels = controls(n / 2);
    labels.extend(std::iter::repeat_n("A".to_string(), n / 2));
    let barcodes: Vec<String> = (0..n).map(|i| format!("AAACCTG{i:05}-1")).collect();
    let opts = with_covariates(&["barcode"]);
    let err = parse_err(&table(&labels, Some(("barcode", &barcodes))), &opts);
    assert_eq!(
        err,
        DataError::IdentifierCovariate {
            column: "barcode".into(),
            column_index: 2,
            levels: 60,
            cells: 60
        }
    );
    assert_mentions(
        &err,
        &[
            "`barcode`",
            "column 2",
            "60 distinct values in 60 cells",
            "looks like an identifier (e.g. a barcode), not a categorical covariate",
        ],
    );

    // Half of the cells distinct is still a grouping; so is anything under 50 cells.
    let halves: Vec<String> = (0..n).map(|i| format!("donor{}", i / 2)).collect();
    parse_csv(table(&labels, Some(("barcode", &halves))).as_bytes(), &opts).unwrap();
    let few = IDENTIFIER_MIN_CELLS - 1;
    parse_csv(
        table(&labels[..few], Some(("barcode", &barcodes[..few]))).as_bytes(),
        &opts,
    )
    .unwrap();

    // A large table is stopped at the level cap, still reported as an identifier.
    let n = MAX_COVARIATE_LEVELS * 2;
    let mut labels = controls(n / 2);
    labels.extend(std::iter::repeat_n("A".to_string(), n / 2));
    let barcodes: Vec<String> = (0..n).map(|i| format!("cell{i}")).collect();
    let err = parse_err(&table(&labels, Some(("barcode", &barcodes))), &opts);
    assert_eq!(
        err,
        DataError::IdentifierCovariate {
            column: "barcode".into(),
            column_index: 2,
            levels: MAX_COVARIATE_LEVELS + 1,
            cells: MAX_COVARIATE_LEVELS + 1
        }
    );

    // In-memory parts follow the same rule.
    let err = Dataset::from_parts_with_options(
        vec!["g1".into()],
        Matrix::from_vec(n, 1, vec![1.0; n]),
        labels,
        vec!["barcode".into()],
        vec![barcodes],
        &quiet(),
    )
    .unwrap_err();
    assert!(
        matches!(err, DataError::IdentifierCovariate { .. }),
        "{err:?}"
    );
}

#[test]
fn too_many_covariate_levels() {
    // 60 cells: the first 30 cycle through 5 levels, then a sixth appears on line 32.
    let n = 60;
    let mut labels = controls(n / 2);
    labels.extend(std::iter::repeat_n("A".to_string(), n / 2));
    let levels: Vec<String> = (0..n)
        .map(|i| format!("L{}", if i == 30 { 5 } else { i % 5 }))
        .collect();
    let opts = LoadOptions {
        max_covariate_levels: 5,
        ..with_covariates(&["plate"])
    };
    let err = parse_err(&table(&labels, Some(("plate", &levels))), &opts);
    assert_eq!(
        err,
        DataError::TooManyLevels {
            line: 32,
            column: "plate".into(),
            column_index: 2,
            value: "L5".into(),
            limit: 5
        }
    );
    assert_mentions(
        &err,
        &[
            "`plate`",
            "column 2",
            "more than 5 distinct values",
            "line 32",
            "at most 5 levels",
        ],
    );
    // The same through in-memory parts.
    let err = Dataset::from_parts_with_options(
        vec!["g1".into()],
        Matrix::from_vec(n, 1, vec![1.0; n]),
        labels.clone(),
        vec!["plate".into()],
        vec![levels],
        &opts,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::TooManyLevels {
                line: 32,
                limit: 5,
                ..
            }
        ),
        "{err:?}"
    );

    // The default limit: 1,000 levels repeated over 2,100 cells, then a 1,001st.
    let n = 2 * MAX_COVARIATE_LEVELS + 101;
    let mut labels = controls(n / 2);
    labels.extend(std::iter::repeat_n("A".to_string(), n - n / 2));
    let mut levels: Vec<String> = (0..n - 1)
        .map(|i| format!("L{}", i % MAX_COVARIATE_LEVELS))
        .collect();
    levels.push("new".into());
    let err = parse_err(
        &table(&labels, Some(("plate", &levels))),
        &with_covariates(&["plate"]),
    );
    assert_eq!(
        err,
        DataError::TooManyLevels {
            line: n as u64 + 1,
            column: "plate".into(),
            column_index: 2,
            value: "new".into(),
            limit: MAX_COVARIATE_LEVELS
        }
    );
}

#[test]
fn limits_cannot_be_raised() {
    for opts in [
        LoadOptions {
            max_columns: MAX_COLUMNS + 1,
            ..quiet()
        },
        LoadOptions {
            max_conditions: MAX_CONDITIONS + 1,
            ..quiet()
        },
        LoadOptions {
            max_covariate_levels: MAX_COVARIATE_LEVELS + 1,
            ..quiet()
        },
        LoadOptions {
            max_perturbations: MAX_PERTURBATIONS + 1,
            ..quiet()
        },
    ] {
        let err = parse_err("condition,g1\ncontrol,1\n", &opts);
        assert!(matches!(err, DataError::InvalidOptions { .. }), "{err:?}");
        assert_mentions(&err, &["above the supported maximum"]);
    }
}

#[test]
fn oversized_file_is_refused_from_its_size() {
    let dir = std::env::temp_dir().join(format!("cellshift-size-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.csv");
    let mut text = String::from("condition,g1\n");
    while text.len() < 1_000_000 {
        text.push_str("control,1\n");
    }
    std::fs::write(&path, &text).unwrap();
    let opts = LoadOptions {
        max_bytes: 1000,
        ..quiet()
    };
    let err = load_path(&path, &opts).unwrap_err();
    // The exact size: taken from the file's metadata, not counted by reading.
    assert_eq!(
        err,
        DataError::TooLarge {
            bytes: text.len(),
            limit: 1000,
            decompressed: false
        }
    );
    assert_mentions(
        &err,
        &[&format!("{} bytes", text.len()), "limit of 1000 bytes"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn pipe_is_read_no_further_than_the_limit() {
    use std::process::Command;

    let dir = std::env::temp_dir().join(format!("cellshift-fifo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("cells.csv");
    let _ = std::fs::remove_file(&fifo);
    match Command::new("mkfifo").arg(&fifo).status() {
        Ok(s) if s.success() => {}
        _ => {
            println!("skipping: mkfifo is not available");
            return;
        }
    }
    // The writer offers 64 MiB and counts what it got rid of before the reader hung up.
    const OFFERED: usize = 64 << 20;
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .open(&writer_path)
            .unwrap();
        let mut chunk = String::from("condition,g1\n");
        while chunk.len() < 64 * 1024 {
            chunk.push_str("control,1\n");
        }
        let mut written = 0;
        while written < OFFERED {
            match out.write(chunk.as_bytes()) {
                Ok(n) => written += n,
                Err(_) => break, // the reader closed the pipe
            }
        }
        written
    });
    let limit = 100_000;
    let opts = LoadOptions {
        max_bytes: limit,
        ..quiet()
    };
    let err = load_path(&fifo, &opts).unwrap_err();
    let written = writer.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        err,
        DataError::TooLarge {
            bytes: limit + 1,
            limit,
            decompressed: false
        }
    );
    assert_mentions(&err, &["more than 100000 bytes", "limit of 100000 bytes"]);
    // What was read is the limit plus at most what the pipe buffers.
    assert!(
        written < 8 << 20,
        "{written} of {OFFERED} bytes were taken from the pipe"
    );
}

#[test]
fn gzip_bomb_is_stopped_at_the_limit() {
    // 100 MB of zeros compressed to about 100 kB, written without holding the 100 MB.
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    let block = vec![b'0'; 1 << 20];
    for _ in 0..100 {
        enc.write_all(&block).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let limit = 1 << 20;
    let opts = LoadOptions {
        max_bytes: limit,
        ..quiet()
    };
    assert!(bomb.len() < limit, "{} compressed bytes", bomb.len());
    let expected = DataError::TooLarge {
        bytes: limit + 1,
        limit,
        decompressed: true,
    };
    let start = std::time::Instant::now();
    let err = parse_csv(&bomb, &opts).unwrap_err();
    // At most one byte past the limit was decompressed.
    assert_eq!(err, expected);
    assert_mentions(&err, &["decompressed", "more than 1 MiB"]);

    // Through a file as well.
    let dir = std::env::temp_dir().join(format!("cellshift-bomb-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bomb.csv.gz");
    std::fs::write(&path, &bomb).unwrap();
    let err = load_path(&path, &opts).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(err, expected);
    assert!(
        start.elapsed().as_secs_f64() < 5.0,
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn matrix_sizes_are_checked() {
    let err = Matrix::try_zeros(usize::MAX / 2, 3).unwrap_err();
    assert_eq!(
        err,
        SizeError {
            rows: usize::MAX / 2,
            cols: 3
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("too large"), "{msg}");
    assert!(
        msg.contains(&format!("{} rows × 3 columns", usize::MAX / 2)),
        "{msg}"
    );
    // A count that fits in usize but not in bytes.
    assert!(Matrix::try_zeros(usize::MAX / 4 + 1, 1).is_err());
    assert!(Matrix::checked_len(isize::MAX as usize, 2).is_err());
    let m = Matrix::try_zeros(2, 3).unwrap();
    assert_eq!((m.rows, m.cols, m.data.len()), (2, 3, 6));
    assert_eq!(m, Matrix::zeros(2, 3));

    // In-memory parts whose shape overflows are refused, not wrapped.
    let err = Dataset::from_parts(
        vec!["g1".into(), "g2".into(), "g3".into()],
        Matrix {
            rows: usize::MAX / 2,
            cols: 3,
            data: vec![],
        },
        vec!["control".into()],
        "control".into(),
        vec![],
        vec![],
    )
    .unwrap_err();
    assert_eq!(
        err,
        DataError::TableTooLarge {
            what: "the expression values".into(),
            cells: usize::MAX / 2,
            columns: 3
        }
    );
    assert_mentions(
        &err,
        &[
            "the expression values",
            &format!("{} cells × 3 columns", usize::MAX / 2),
            "too large",
        ],
    );
}

#[test]
fn invalid_utf8() {
    let err = parse_csv(b"condition,g1\ncontrol,1\nA\xff,2\n", &quiet()).unwrap_err();
    assert_eq!(err, DataError::Encoding { line: 3 });
    assert_mentions(&err, &["line 3", "UTF-8"]);

    let err = parse_csv(b"condition,g\xe91\ncontrol,1\n", &quiet()).unwrap_err();
    assert_eq!(err, DataError::Encoding { line: 1 });

    let err = parse_csv(b"condition,g1\ncontrol,1\nA,\xff\n", &quiet()).unwrap_err();
    assert_eq!(err, DataError::Encoding { line: 3 });
}

#[test]
fn csv_error_message() {
    // The reader is configured so that ordinary malformed text maps to the specific variants
    // above; this fallback carries whatever else it reports.
    let err = DataError::Csv {
        line: 7,
        message: "unexpected end of record".into(),
    };
    assert_mentions(&err, &["line 7", "unexpected end of record"]);
}

#[test]
fn io_error() {
    let path = Path::new("/nonexistent/dir/cells.csv");
    let err = load_path(path, &quiet()).unwrap_err();
    let DataError::Io { path: p, message } = &err else {
        panic!("wrong variant: {err:?}");
    };
    assert_eq!(p, "/nonexistent/dir/cells.csv");
    assert!(!message.is_empty());
    assert_mentions(&err, &["/nonexistent/dir/cells.csv"]);
}

#[test]
fn line_numbers_count_blank_lines_and_multiline_fields() {
    let err = parse_err("condition,g1\n\ncontrol,1\n\nA,x\n", &quiet());
    assert!(
        matches!(err, DataError::NonNumeric { line: 5, .. }),
        "{err:?}"
    );
    let err = parse_err(
        "\n\ncondition,g1\r\n\r\n\r\ncontrol,1\r\n   \r\nA,x\r\n",
        &quiet(),
    );
    assert!(
        matches!(err, DataError::NonNumeric { line: 8, .. }),
        "{err:?}"
    );
    let err = parse_err("condition,g1\ncontrol,1\n\n\n\nA,1,2\n", &quiet());
    assert_eq!(
        err,
        DataError::Ragged {
            line: 6,
            expected: 2,
            found: 3
        }
    );

    // A quoted covariate spanning two lines moves the following rows down by one.
    let text = "condition,note,g1\ncontrol,\"two\nlines\",1\nA,plain,oops\n";
    let err = parse_err(text, &with_covariates(&["note"]));
    assert!(
        matches!(err, DataError::NonNumeric { line: 4, .. }),
        "{err:?}"
    );

    // CRLF and a BOM do not change the count.
    let err = parse_csv(
        b"\xef\xbb\xbfcondition,g1\r\ncontrol,1\r\nA,-2\r\n",
        &quiet(),
    )
    .unwrap_err();
    assert!(
        matches!(err, DataError::Negative { line: 3, .. }),
        "{err:?}"
    );
}

#[test]
fn long_values_are_clipped_in_messages() {
    let long = "x".repeat(10_000);
    let err = parse_err(&format!("condition,g1\ncontrol,{long}\n"), &quiet());
    assert!(err.to_string().len() < 300, "{}", err.to_string().len());
}

// ---------------------------------------------------------------------------------------------
// Accepted input
// ---------------------------------------------------------------------------------------------

#[test]
fn counts_detected() {
    let ds = parse("condition,g1,g2\ncontrol,0,12\nA,3,1.0\nA+B,7,0\n").unwrap();
    assert!(ds.is_counts);
    assert_eq!((ds.n_cells(), ds.n_genes()), (3, 2));
    assert_eq!(
        ds.values,
        Matrix::from_vec(3, 2, vec![0.0, 12.0, 3.0, 1.0, 7.0, 0.0])
    );
    assert_eq!(ds.genes, ["g1", "g2"]);
    assert!(ds.warnings.is_empty(), "{:?}", ds.warnings);
}

#[test]
fn continuous_detected() {
    let ds = parse("condition,g1,g2\ncontrol,0,1.25\nA,3.5e-1,2\n").unwrap();
    assert!(!ds.is_counts);
    assert_eq!(ds.values.data, vec![0.0, 1.25, 0.35, 2.0]);
}

#[test]
fn covariates_read() {
    let text =
        "condition,cell_type,donor,g1\ncontrol,CD4T,d1,1\nA,B,d2,2\ncontrol,\"CD14+Mono\",d1,3\n";
    let ds = parse_csv(text.as_bytes(), &with_covariates(&["donor", "cell_type"])).unwrap();
    assert_eq!(ds.covariate_names, ["donor", "cell_type"]);
    assert_eq!(ds.covariates[0], ["d1", "d2", "d1"]);
    assert_eq!(ds.covariates[1], ["CD4T", "B", "CD14+Mono"]);
    assert_eq!(ds.genes, ["g1"]);

    // Without asking for them, covariate-looking columns are genes and must be numeric.
    let err = parse(text).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::NonNumeric {
                line: 2,
                column_index: 2,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn combinations() {
    let ds = parse("condition,g1\ncontrol,1\nA,1\n B + A ,1\nC+D,1\nA+B,1\n").unwrap();
    assert_eq!(ds.conditions, ["control", "A", "B+A", "C+D", "A+B"]);
    assert_eq!(ds.perturbations_of("A+B"), ["A", "B"]);
    assert_eq!(ds.perturbations_of(" C + D "), ["C", "D"]);
    assert_eq!(ds.perturbations_of("A"), ["A"]);
    assert!(ds.perturbations_of("control").is_empty());
    assert_eq!(ds.perturbation_names(), ["A", "B", "C", "D"]);
    assert!(ds.is_control(0));
    assert!(!ds.is_control(1));
    assert!(!ds.is_control(99));
    let counts = ds.condition_counts();
    assert_eq!(counts.len(), 5);
    assert_eq!(counts["control"], 1);
    assert_eq!(counts["A+B"], 1);
}

#[test]
fn gzip_round_trip() {
    let text = "condition,cell_type,g1,g2\ncontrol,T,1,2\nA,B,3,4\nA+B,T,5,0\n";
    let gz = gzip(text.as_bytes());
    let opts = with_covariates(&["cell_type"]);
    let plain = parse_csv(text.as_bytes(), &opts).unwrap();
    let unzipped = parse_csv(&gz, &opts).unwrap();
    assert_eq!(unzipped.values, plain.values);
    assert_eq!(unzipped.conditions, plain.conditions);
    assert_eq!(unzipped.covariates, plain.covariates);
    // The digest is of the bytes as given, i.e. the compressed ones.
    assert_eq!(unzipped.sha256, hex_sha256(&gz));
    assert_eq!(plain.sha256, hex_sha256(text.as_bytes()));
    assert_ne!(unzipped.sha256, plain.sha256);

    // Concatenated gzip members are read as one stream.
    let (head, tail) = text.split_at(40);
    let mut multi = gzip(head.as_bytes());
    multi.extend(gzip(tail.as_bytes()));
    assert_eq!(parse_csv(&multi, &opts).unwrap().values, plain.values);
}

#[test]
fn bom_and_crlf() {
    let bytes = b"\xef\xbb\xbfcondition , g1 ,g2\r\ncontrol, 1 ,2\r\n A ,3,\" 4 \"\r\n\r\n";
    let ds = parse_csv(bytes, &quiet()).unwrap();
    assert_eq!(ds.genes, ["g1", "g2"]);
    assert_eq!(ds.conditions, ["control", "A"]);
    assert_eq!(ds.values.data, vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(ds.condition_column, "condition");
}

#[test]
fn condition_column_not_first() {
    let ds = parse("g1,g2,condition,g3\n1,2,control,3\n4,5,A,6\n").unwrap();
    assert_eq!(ds.genes, ["g1", "g2", "g3"]);
    assert_eq!(ds.conditions, ["control", "A"]);
    assert_eq!(ds.values.row(1), &[4.0, 5.0, 6.0]);
}

#[test]
fn few_cells_warning() {
    let mut text = String::from("condition,g1\n");
    for _ in 0..12 {
        text.push_str("control,1\n");
    }
    text.push_str("A,2\nB,3\nA,4\n");
    let ds = parse_csv(text.as_bytes(), &LoadOptions::default()).unwrap();
    assert_eq!(ds.warnings.len(), 2, "{:?}", ds.warnings);
    assert!(
        ds.warnings[0].contains("condition `A` has only 2 cells (lines 14, 16)"),
        "{:?}",
        ds.warnings
    );
    assert!(
        ds.warnings[1].contains("condition `B` has only 1 cell (line 15)"),
        "{:?}",
        ds.warnings
    );

    let ds = parse("condition,g1\ncontrol,1\ncontrol,2\n").unwrap();
    assert_eq!(ds.warnings.len(), 1);
    assert!(ds.warnings[0].contains("no perturbed cells"));
}

#[test]
fn sha256_of_known_bytes() {
    // printf 'condition,g1\ncontrol,1\nA,2\n' | sha256sum
    let ds = parse("condition,g1\ncontrol,1\nA,2\n").unwrap();
    assert_eq!(
        ds.sha256,
        "cd90fef4714154ca933e3297b089383021152336c1a1eb493723dcbb07f13603"
    );
}

#[test]
fn to_csv_round_trip() {
    let text = "g1,condition,cell type,g2\n1,control,\"T, naive\",2\n3,A,\"say \"\"hi\"\"\",4\n5,A+B,B,0\n";
    let opts = with_covariates(&["cell type"]);
    let ds = parse_csv(text.as_bytes(), &opts).unwrap();
    let out = ds.to_csv();
    assert!(
        out.starts_with("condition,cell type,g1,g2\ncontrol,\"T, naive\",1,2\n"),
        "{out}"
    );
    let back = parse_csv(out.as_bytes(), &opts).unwrap();
    assert_eq!(back.values, ds.values);
    assert_eq!(back.conditions, ds.conditions);
    assert_eq!(back.covariates, ds.covariates);
    assert_eq!(back.genes, ds.genes);
    assert!(back.is_counts);

    // Continuous values come back bit-for-bit.
    let ds = parse("condition,g1,g2\ncontrol,0.1,3.4028235e38\nA,1e-7,0.333333343\n").unwrap();
    let back = parse(&ds.to_csv()).unwrap();
    assert!(!back.is_counts);
    assert_eq!(back.values, ds.values);
}

#[test]
fn from_parts_matches_parsing() {
    let genes = vec!["g1".to_string(), "g2".to_string()];
    let values = Matrix::from_vec(3, 2, vec![1.0, 2.0, 0.0, 5.0, 3.0, 3.0]);
    let conditions = vec!["control".to_string(), "A".to_string(), "A+B".to_string()];
    let ds = Dataset::from_parts(
        genes.clone(),
        values.clone(),
        conditions.clone(),
        "control".into(),
        vec!["cell_type".into()],
        vec![vec!["T".into(), "B".into(), "T".into()]],
    )
    .unwrap();
    assert!(ds.is_counts);
    assert_eq!(ds.warnings.len(), 3); // every condition is below the default of 10 cells
    let csv = ds.to_csv();
    assert_eq!(
        csv,
        "condition,cell_type,g1,g2\ncontrol,T,1,2\nA,B,0,5\nA+B,T,3,3\n"
    );
    assert_eq!(ds.sha256, hex_sha256(csv.as_bytes()));
    let back = parse_csv(
        csv.as_bytes(),
        &LoadOptions {
            covariates: vec!["cell_type".into()],
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(back, ds);

    // The same rules as parsing.
    let err = Dataset::from_parts(
        genes.clone(),
        Matrix::from_vec(3, 2, vec![1.0, 2.0, 0.0, -5.0, 3.0, 3.0]),
        conditions.clone(),
        "control".into(),
        vec![],
        vec![],
    )
    .unwrap_err();
    assert_eq!(
        err,
        DataError::Negative {
            line: 3,
            column: "g2".into(),
            column_index: 3,
            value: "-5".into()
        }
    );
    let err = Dataset::from_parts(
        genes.clone(),
        Matrix::from_vec(3, 2, vec![1.0, f32::NAN, 0.0, 5.0, 3.0, 3.0]),
        conditions.clone(),
        "control".into(),
        vec![],
        vec![],
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::NonFinite {
                line: 2,
                column_index: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let err = Dataset::from_parts(
        vec!["g1".into(), "g1".into()],
        values.clone(),
        conditions.clone(),
        "control".into(),
        vec![],
        vec![],
    )
    .unwrap_err();
    assert!(matches!(err, DataError::DuplicateGene { .. }), "{err:?}");
    let err = Dataset::from_parts(
        genes.clone(),
        values.clone(),
        vec!["A".into(), "A".into(), "B".into()],
        "control".into(),
        vec![],
        vec![],
    )
    .unwrap_err();
    assert!(matches!(err, DataError::NoControl { .. }), "{err:?}");
    let err = Dataset::from_parts(
        genes.clone(),
        values.clone(),
        conditions[..2].to_vec(),
        "control".into(),
        vec![],
        vec![],
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::ShapeMismatch {
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let err = Dataset::from_parts(
        genes,
        values,
        conditions,
        "control".into(),
        vec!["ct".into()],
        vec![vec![]],
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::ShapeMismatch {
                expected: 3,
                found: 0,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn from_parts_with_options_uses_the_condition_column() {
    let opts = LoadOptions {
        condition_column: "guide".into(),
        control_label: "NT".into(),
        ..quiet()
    };
    let ds = Dataset::from_parts_with_options(
        vec!["g1".into()],
        Matrix::from_vec(2, 1, vec![0.5, 1.5]),
        vec!["NT".into(), "X".into()],
        vec![],
        vec![],
        &opts,
    )
    .unwrap();
    assert!(!ds.is_counts);
    assert!(ds.warnings.is_empty());
    let csv = ds.to_csv();
    assert!(csv.starts_with("guide,g1\n"));
    assert_eq!(parse_csv(csv.as_bytes(), &opts).unwrap(), ds);
}

#[test]
fn load_path_reads_plain_and_gzip_files() {
    let dir = std::env::temp_dir().join(format!("cellshift-data-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = "condition,g1\ncontrol,1\nA,2\n";
    let plain = dir.join("cells.csv");
    let packed = dir.join("cells.bin"); // named without .gz: detection is by content
    std::fs::write(&plain, text).unwrap();
    std::fs::write(&packed, gzip(text.as_bytes())).unwrap();
    let a = load_path(&plain, &quiet()).unwrap();
    let b = load_path(&packed, &quiet()).unwrap();
    assert_eq!(a.values, b.values);
    let err = load_path(
        &plain,
        &LoadOptions {
            max_bytes: 5,
            ..quiet()
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::TooLarge {
                limit: 5,
                decompressed: false,
                ..
            }
        ),
        "{err:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn never_panics_on_mangled_input() {
    let base = "condition,cell_type,g1,g2\ncontrol,T,1,2\n\"A+B\",B,3.5,4\nA,T,0,1e3\n".as_bytes();
    let specials = b",\"\n\r+-.e \xff\x00\x1f\x8b";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let opts = with_covariates(&["cell_type"]);
    for _ in 0..3000 {
        let mut bytes = base.to_vec();
        for _ in 0..(next() % 4 + 1) {
            let pos = (next() as usize) % (bytes.len() + 1);
            match next() % 3 {
                0 if pos < bytes.len() => {
                    bytes.remove(pos);
                }
                1 => bytes.insert(pos, specials[(next() as usize) % specials.len()]),
                _ => {
                    let b = bytes.len().max(1);
                    bytes.truncate(pos.min(b));
                }
            }
        }
        let _ = parse_csv(&bytes, &opts).map(|ds| ds.to_csv());
        let _ = parse_csv(&gzip(&bytes)[..], &opts);
    }
}

#[test]
fn parses_a_two_megabyte_table_quickly() {
    let (cells, genes) = (2000, 500);
    let mut text = String::from("condition");
    for g in 0..genes {
        text.push_str(&format!(",g{g}"));
    }
    text.push('\n');
    for c in 0..cells {
        text.push_str(if c % 3 == 0 { "control" } else { "A+B" });
        for g in 0..genes {
            text.push_str(&format!(",{}", (c * 7 + g * 13) % 10));
        }
        text.push('\n');
    }
    let start = std::time::Instant::now();
    let ds = parse_csv(text.as_bytes(), &LoadOptions::default()).unwrap();
    let elapsed = start.elapsed();
    println!(
        "parsed {} bytes ({cells} × {genes}) in {elapsed:?}",
        text.len()
    );
    assert_eq!((ds.n_cells(), ds.n_genes()), (cells, genes));
    assert!(ds.is_counts);
    assert!(elapsed.as_secs_f64() < 5.0, "took {elapsed:?}");
}

#[test]
fn kang2018_pbmc_dataset() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/kang2018_pbmc_ifnb.csv");
    if !path.exists() {
        println!("skipping: {} not found", path.display());
        return;
    }
    let opts = with_covariates(&["cell_type"]);
    let ds = load_path(&path, &opts).unwrap();
    assert_eq!(ds.n_cells(), 1975);
    assert_eq!(ds.n_genes(), 504);
    assert!(ds.is_counts);
    assert_eq!(ds.condition_counts().get("control"), Some(&936));
    assert_eq!((0..ds.n_cells()).filter(|&c| ds.is_control(c)).count(), 936);
    assert_eq!(ds.covariate_names, ["cell_type"]);
    assert_eq!(ds.covariates[0].len(), 1975);
    assert_eq!(ds.sha256, hex_sha256(&std::fs::read(&path).unwrap()));
}
