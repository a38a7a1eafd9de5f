//! Loading a cells × genes table into a [`Dataset`].
//!
//! The file has one row per cell. A `condition` column (the name is configurable) holds the
//! control label (`control` by default) for control cells, `A` for a single perturbation and
//! `A+B` for a combination. Optional categorical covariate columns (e.g. `cell_type`) are picked
//! by the caller; every other column is a gene, holding raw counts or non-negative
//! log-normalised values. Gzip-compressed input is recognised by its magic bytes.
//!
//! The core works on bytes ([`parse_csv`]) so it runs unchanged in the browser; [`load_path`]
//! is a convenience for the command line. Every rule the input must follow has its own
//! [`DataError`] variant, whose message points at the line and column at fault.

mod csv;
mod error;

pub use self::csv::{load_path, parse_csv};
pub use self::error::DataError;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use self::error::{clip_value, first_few};
use crate::matrix::Matrix;

/// Upper bound on the input size, in bytes: applied to the bytes as given and, for gzip input,
/// to the decompressed CSV text as well (so a small archive cannot expand without bound).
///
/// The browser build parses the whole text in memory, inside a WebAssembly instance whose
/// linear memory is capped (4 GiB at most, often much less in practice on phones); the text,
/// the parsed matrix and the training buffers all have to fit at once. 256 MiB of CSV is far
/// beyond the datasets this crate is meant for, while still failing early and clearly instead
/// of running the tab out of memory.
pub const MAX_INPUT_BYTES: usize = 256 * 1024 * 1024;

/// How to read a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadOptions {
    /// Name of the column holding the condition label of each cell.
    pub condition_column: String,
    /// The condition label of control (unperturbed) cells.
    pub control_label: String,
    /// Categorical covariate columns to keep (e.g. `cell_type`); they are not genes.
    pub covariates: Vec<String>,
    /// Size limit, see [`MAX_INPUT_BYTES`].
    pub max_bytes: usize,
    /// Conditions with fewer cells than this produce a warning (not an error).
    pub min_cells_per_condition: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            condition_column: "condition".to_string(),
            control_label: "control".to_string(),
            covariates: Vec::new(),
            max_bytes: MAX_INPUT_BYTES,
            min_cells_per_condition: 10,
        }
    }
}

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
        check_len(
            "values.data (rows × cols)",
            values.rows.saturating_mul(values.cols),
            values.data.len(),
        )?;
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

        let mut header = Vec::with_capacity(1 + opts.covariates.len() + n_genes);
        header.push(opts.condition_column.trim().to_string());
        header.extend(opts.covariates.iter().cloned());
        header.extend(genes.iter().map(|g| g.trim().to_string()));
        let layout = Layout::from_header(&header, &opts)?;
        if n_cells == 0 {
            return Err(DataError::HeaderOnly);
        }

        let control = opts.control_label.trim();
        let cond_name = &header[layout.condition];
        let mut labels = Vec::with_capacity(n_cells);
        for (i, raw) in conditions.iter().enumerate() {
            let line = i as u64 + 2;
            labels.push(normalise_condition(
                raw,
                control,
                line,
                cond_name,
                layout.condition + 1,
            )?);
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
                out.push(v.to_string());
            }
            cov_values.push(out);
        }

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
        ds.sha256 = sha256_hex(ds.to_csv().as_bytes());
        finish(ds, &lines, opts.min_cells_per_condition)
    }

    /// Renders the dataset as CSV text: the condition column, the covariates, then the genes,
    /// with a header line and `\n` line endings. When `is_counts`, values are written as
    /// integers without decimals; otherwise with the shortest text that reads back to the same
    /// `f32`. Fields containing commas, quotes or line breaks are quoted.
    pub fn to_csv(&self) -> String {
        let n_genes = self.genes.len();
        let mut out = String::with_capacity(self.values.data.len() * 3 + 64);
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

/// Whether a value counts as an integer for `is_counts`.
fn is_integer(v: f32) -> bool {
    (v - v.round()).abs() <= 1e-6
}

/// Rejects options that contradict themselves.
fn validate_options(opts: &LoadOptions) -> Result<(), DataError> {
    let invalid = |message: String| Err(DataError::InvalidOptions { message });
    let cond = opts.condition_column.trim();
    if cond.is_empty() {
        return invalid("the condition column name is empty".to_string());
    }
    if opts.control_label.trim().is_empty() {
        return invalid("the control label is empty".to_string());
    }
    let mut seen = BTreeSet::new();
    for c in &opts.covariates {
        let c = c.trim();
        if c.is_empty() {
            return invalid("a covariate column name is empty".to_string());
        }
        if c == cond {
            return invalid(format!(
                "`{c}` is both the condition column and a covariate"
            ));
        }
        if !seen.insert(c) {
            return invalid(format!("covariate `{c}` is listed twice"));
        }
    }
    Ok(())
}

/// Which header positions (0-based) hold the condition, the covariates and the genes.
struct Layout {
    condition: usize,
    /// In the order of `opts.covariates`.
    covariates: Vec<usize>,
    /// In file order.
    genes: Vec<usize>,
}

impl Layout {
    /// Checks a header (names already trimmed) against the options.
    fn from_header(header: &[String], opts: &LoadOptions) -> Result<Layout, DataError> {
        if let Some(i) = header.iter().position(|h| h.is_empty()) {
            return Err(DataError::EmptyColumnName {
                column_index: i + 1,
            });
        }
        let find = |name: &str| -> Result<Option<usize>, DataError> {
            let mut hits = header
                .iter()
                .enumerate()
                .filter(|(_, h)| *h == name)
                .map(|(i, _)| i);
            let first = hits.next();
            if let (Some(a), Some(b)) = (first, hits.next()) {
                return Err(DataError::DuplicateColumn {
                    name: name.to_string(),
                    first_column: a + 1,
                    second_column: b + 1,
                });
            }
            Ok(first)
        };
        let cond_name = opts.condition_column.trim();
        let condition = find(cond_name)?.ok_or_else(|| DataError::MissingConditionColumn {
            column: cond_name.to_string(),
            found: first_few(header),
        })?;
        let mut covariates = Vec::with_capacity(opts.covariates.len());
        for c in &opts.covariates {
            let c = c.trim();
            let index = find(c)?.ok_or_else(|| DataError::MissingCovariate {
                column: c.to_string(),
                found: first_few(header),
            })?;
            covariates.push(index);
        }
        let genes: Vec<usize> = (0..header.len())
            .filter(|i| *i != condition && !covariates.contains(i))
            .collect();
        if genes.is_empty() {
            let mut used = vec![header[condition].clone()];
            used.extend(covariates.iter().map(|&i| header[i].clone()));
            return Err(DataError::NoGenes { used });
        }
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(genes.len());
        for &g in &genes {
            if let Some(&first) = seen.get(header[g].as_str()) {
                return Err(DataError::DuplicateGene {
                    name: header[g].clone(),
                    first_column: first + 1,
                    second_column: g + 1,
                });
            }
            seen.insert(header[g].as_str(), g);
        }
        Ok(Layout {
            condition,
            covariates,
            genes,
        })
    }
}

/// Trims a condition label and, for combinations, each of its parts (`" A + B "` → `"A+B"`).
/// Rejects empty labels and combinations with empty, repeated or control parts.
fn normalise_condition(
    raw: &str,
    control: &str,
    line: u64,
    column: &str,
    column_index: usize,
) -> Result<String, DataError> {
    let label = raw.trim();
    if label.is_empty() {
        return Err(DataError::EmptyCondition {
            line,
            column: column.to_string(),
            column_index,
        });
    }
    if label == control || !label.contains('+') {
        return Ok(label.to_string());
    }
    let bad = |reason: String| DataError::BadCondition {
        line,
        column: column.to_string(),
        column_index,
        value: clip_value(raw),
        reason,
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in label.split('+').map(str::trim) {
        if part.is_empty() {
            return Err(bad("has an empty part around a `+`".to_string()));
        }
        if part == control {
            return Err(bad(format!(
                "combines the control label `{control}` with perturbations"
            )));
        }
        if parts.contains(&part) {
            return Err(bad(format!("lists `{part}` more than once")));
        }
        parts.push(part);
    }
    Ok(parts.join("+"))
}

/// What is wrong with a gene value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueProblem {
    NonNumeric,
    NonFinite,
    Negative,
}

impl ValueProblem {
    fn into_error(self, line: u64, column: &str, column_index: usize, value: &str) -> DataError {
        let column = column.to_string();
        let value = clip_value(value);
        match self {
            ValueProblem::NonNumeric => DataError::NonNumeric {
                line,
                column,
                column_index,
                value,
            },
            ValueProblem::NonFinite => DataError::NonFinite {
                line,
                column,
                column_index,
                value,
            },
            ValueProblem::Negative => DataError::Negative {
                line,
                column,
                column_index,
                value,
            },
        }
    }
}

/// Final whole-table checks and warnings. `lines[i]` is the file line of cell `i`.
fn finish(mut ds: Dataset, lines: &[u64], min_cells: usize) -> Result<Dataset, DataError> {
    let mut by_label: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (label, &line) in ds.conditions.iter().zip(lines) {
        by_label.entry(label.as_str()).or_default().push(line);
    }
    if !by_label.contains_key(ds.control_label.as_str()) {
        let found: Vec<&str> = by_label.keys().copied().collect();
        return Err(DataError::NoControl {
            label: ds.control_label.clone(),
            column: ds.condition_column.clone(),
            found: first_few(&found),
        });
    }
    let mut warnings = Vec::new();
    for (label, cell_lines) in &by_label {
        if cell_lines.len() < min_cells {
            const SHOWN: usize = 10;
            let mut shown: Vec<String> =
                cell_lines.iter().take(SHOWN).map(u64::to_string).collect();
            if cell_lines.len() > SHOWN {
                shown.push("…".to_string());
            }
            let noun = if cell_lines.len() == 1 {
                "cell"
            } else {
                "cells"
            };
            let line_noun = if cell_lines.len() == 1 {
                "line"
            } else {
                "lines"
            };
            warnings.push(format!(
                "condition `{label}` has only {} {noun} ({line_noun} {}); at least {min_cells} are \
                 recommended for a reliable estimate",
                cell_lines.len(),
                shown.join(", ")
            ));
        }
    }
    if by_label.len() == 1 {
        warnings.push(format!(
            "every cell has the control label `{}`: there are no perturbed cells to model",
            ds.control_label
        ));
    }
    ds.warnings = warnings;
    Ok(ds)
}
