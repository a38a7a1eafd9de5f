//! The [`Dataset`] type: a validated table built from parsed text or in-memory parts, and
//! rendered back to CSV.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::options::validate_options;
use super::validate::{
    Layout, Tally, ValueProblem, check_columns, finish, is_integer, normalise_condition,
};
use super::{DataError, LoadOptions};
use crate::matrix::Matrix;

/// A validated cells × genes table with per-cell conditions and covariates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Gene column names, in file order.
    pub genes: Vec<String>,
    /// `[cells, genes]`, as read (no normalisation).
    pub values: Matrix,
    /// Condition label per cell: the control label, `A`, or `A+B` (parts trimmed, joined by `+`).
    pub conditions: Vec<String>,
    /// Name of the condition column (used when writing the table back out).
    pub condition_column: String,
    /// The label that marks control cells.
    pub control_label: String,
    /// Names of the covariate columns kept.
    pub covariate_names: Vec<String>,
    /// `[covariate index][cell]`.
    pub covariates: Vec<Vec<String>>,
    /// True iff every value is a non-negative integer (within 1e-6).
    pub is_counts: bool,
    /// Lowercase hex SHA-256 of the input bytes exactly as given (the compressed bytes for gzip
    /// input). For [`Dataset::from_parts`], the digest of [`Dataset::to_csv`]'s output.
    pub sha256: String,
    /// Things worth knowing that do not stop loading, e.g. conditions with very few cells.
    pub warnings: Vec<String>,
}

impl Dataset {
    pub fn n_cells(&self) -> usize {
        self.conditions.len()
    }

    pub fn n_genes(&self) -> usize {
        self.genes.len()
    }

    /// Whether `cell` is a control cell (false for an out-of-range index).
    pub fn is_control(&self, cell: usize) -> bool {
        self.conditions
            .get(cell)
            .is_some_and(|c| *c == self.control_label)
    }

    /// Distinct condition labels, sorted, with cell counts.
    pub fn condition_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for c in &self.conditions {
            *counts.entry(c.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// The single perturbations a condition label is made of: `"A+B"` gives `["A", "B"]`, the
    /// control label gives `[]`. Parts are trimmed; empty parts are dropped.
    pub fn perturbations_of(&self, label: &str) -> Vec<String> {
        let label = label.trim();
        if label == self.control_label {
            return Vec::new();
        }
        label
            .split('+')
            .map(str::trim)
            .filter(|p| !p.is_empty() && *p != self.control_label)
            .map(str::to_string)
            .collect()
    }

    /// All distinct single perturbations appearing anywhere, sorted.
    pub fn perturbation_names(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        for label in self.condition_counts().keys() {
            names.extend(self.perturbations_of(label));
        }
        names.into_iter().collect()
    }

    /// Builds a dataset from in-memory parts (e.g. generated data), enforcing the same rules as
    /// [`parse_csv`]: shapes must agree, names must be unique and non-empty, values finite and
    /// non-negative, condition labels well-formed, and at least one cell must be a control.
    ///
    /// The condition column is named `condition` and the few-cells warning threshold is the
    /// default one; use [`Dataset::from_parts_with_options`] to choose them. Names, labels and
    /// covariate values are trimmed as when parsing. Line numbers in errors and warnings refer
    /// to the table as rendered by [`Dataset::to_csv`] (header on line 1, cell `i` on line
    /// `i + 2`), and `sha256` is the digest of that rendering, so writing the dataset out and
    /// parsing the file back gives the same digest.
    ///
    /// [`parse_csv`]: super::parse_csv
    pub fn from_parts(
        genes: Vec<String>,
        values: Matrix,
        conditions: Vec<String>,
        control_label: String,
        covariate_names: Vec<String>,
        covariates: Vec<Vec<String>>,
    ) -> Result<Dataset, DataError> {
        let opts = LoadOptions {
            control_label,
            ..LoadOptions::default()
        };
        Self::from_parts_with_options(
            genes,
            values,
            conditions,
            covariate_names,
            covariates,
            &opts,
        )
    }

    /// Like [`Dataset::from_parts`], with the condition column name, control label and
    /// few-cells threshold taken from `opts` (`opts.covariates` is ignored in favour of
    /// `covariate_names`).
    pub fn from_parts_with_options(
        genes: Vec<String>,
        values: Matrix,
        conditions: Vec<String>,
        covariate_names: Vec<String>,
        covariates: Vec<Vec<String>>,
        opts: &LoadOptions,
    ) -> Result<Dataset, DataError> {
        Self::from_parts_digest(
            genes,
            values,
            conditions,
            covariate_names,
            covariates,
            opts,
            None,
        )
    }

    /// Like [`Dataset::from_parts_with_options`]; `sha256` given (the digest of the file the
    /// parts were read from) spares rendering a large table as CSV only to hash it.
    pub(crate) fn from_parts_digest(
        genes: Vec<String>,
        values: Matrix,
        conditions: Vec<String>,
        covariate_names: Vec<String>,
        covariates: Vec<Vec<String>>,
        opts: &LoadOptions,
        sha256: Option<String>,
    ) -> Result<Dataset, DataError> {
        let opts = LoadOptions {
            covariates: covariate_names
                .iter()
                .map(|c| c.trim().to_string())
                .collect(),
            ..opts.clone()
        };
        validate_options(&opts)?;
        let n_cells = conditions.len();
        let n_genes = genes.len();
        let len = Matrix::checked_len(values.rows, values.cols)
            .map_err(|e| DataError::table_too_large("the expression values", e))?;
        check_len("values.data (rows × cols)", len, values.data.len())?;
        check_len(
            "values.rows (one row per condition label)",
            n_cells,
            values.rows,
        )?;
        check_len("values.cols (one column per gene)", n_genes, values.cols)?;
        check_len(
            "covariate columns (one per covariate name)",
            covariate_names.len(),
            covariates.len(),
        )?;
        for column in &covariates {
            check_len("covariate values (one per cell)", n_cells, column.len())?;
        }

        let n_columns = 1usize
            .saturating_add(opts.covariates.len())
            .saturating_add(n_genes);
        check_columns(n_columns, &opts)?;
        let mut header = Vec::with_capacity(n_columns);
        header.push(opts.condition_column.trim().to_string());
        header.extend(opts.covariates.iter().cloned());
        header.extend(genes.iter().map(|g| g.trim().to_string()));
        let layout = Layout::from_header(&header, &opts)?;
        if n_cells == 0 {
            return Err(DataError::HeaderOnly);
        }

        let control = opts.control_label.trim();
        let cond_name = &header[layout.condition];
        let mut tally = Tally::new(&header, &layout, control, &opts);
        let mut labels = Vec::with_capacity(n_cells);
        for (i, raw) in conditions.iter().enumerate() {
            let line = i as u64 + 2;
            let label = normalise_condition(raw, control, line, cond_name, layout.condition + 1)?;
            tally.condition(&label, line)?;
            labels.push(label);
        }
        let mut cov_values = Vec::with_capacity(covariates.len());
        for (k, column) in covariates.iter().enumerate() {
            let index = layout.covariates[k];
            let mut out = Vec::with_capacity(n_cells);
            for (i, v) in column.iter().enumerate() {
                let v = v.trim();
                if v.is_empty() {
                    return Err(DataError::EmptyCovariate {
                        line: i as u64 + 2,
                        column: header[index].clone(),
                        column_index: index + 1,
                    });
                }
                tally.covariate(k, v, i as u64 + 2, i)?;
                out.push(v.to_string());
            }
            cov_values.push(out);
        }
        tally.finish(n_cells)?;

        let mut data = values.data;
        let mut is_counts = true;
        let n_cols = n_genes.max(1);
        for (pos, v) in data.iter_mut().enumerate() {
            let (i, j) = (pos / n_cols, pos % n_cols);
            let index = layout.genes[j];
            let problem = if !v.is_finite() {
                Some(ValueProblem::NonFinite)
            } else if *v < 0.0 {
                Some(ValueProblem::Negative)
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(problem.into_error(
                    i as u64 + 2,
                    &header[index],
                    index + 1,
                    &v.to_string(),
                ));
            }
            *v += 0.0; // turns -0.0 into 0.0
            is_counts &= is_integer(*v);
        }

        let genes = layout.genes.iter().map(|&c| header[c].clone()).collect();
        let lines: Vec<u64> = (0..n_cells as u64).map(|i| i + 2).collect();
        let mut ds = Dataset {
            genes,
            values: Matrix {
                rows: n_cells,
                cols: n_genes,
                data,
            },
            conditions: labels,
            condition_column: cond_name.clone(),
            control_label: control.to_string(),
            covariate_names: opts.covariates.clone(),
            covariates: cov_values,
            is_counts,
            sha256: String::new(),
            warnings: Vec::new(),
        };
        ds.sha256 = sha256.unwrap_or_else(|| sha256_hex(ds.to_csv().as_bytes()));
        finish(ds, &lines, opts.min_cells_per_condition)
    }

    /// Renders the dataset as CSV text: the condition column, the covariates, then the genes,
    /// with a header line and `\n` line endings. When `is_counts`, values are written as
    /// integers without decimals; otherwise with the shortest text that reads back to the same
    /// `f32`. Fields containing commas, quotes or line breaks are quoted.
    pub fn to_csv(&self) -> String {
        let n_genes = self.genes.len();
        let mut out = String::with_capacity(self.values.data.len().saturating_mul(3) + 64);
        push_field(&mut out, &self.condition_column);
        for name in self.covariate_names.iter().chain(&self.genes) {
            out.push(',');
            push_field(&mut out, name);
        }
        out.push('\n');
        for (i, label) in self.conditions.iter().enumerate() {
            push_field(&mut out, label);
            for column in &self.covariates {
                out.push(',');
                push_field(&mut out, column.get(i).map_or("", String::as_str));
            }
            let row = self
                .values
                .data
                .get(i * n_genes..(i + 1) * n_genes)
                .unwrap_or(&[]);
            for &v in row {
                out.push(',');
                if self.is_counts {
                    let _ = write!(out, "{}", v.round() as u64);
                } else {
                    let _ = write!(out, "{v}");
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Appends one CSV field, quoting it only when needed.
fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

fn check_len(what: &str, expected: usize, found: usize) -> Result<(), DataError> {
    if expected == found {
        Ok(())
    } else {
        Err(DataError::ShapeMismatch {
            what: what.to_string(),
            expected,
            found,
        })
    }
}

/// Lowercase hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}
