//! How a dataset is read: [`LoadOptions`], the input size limit and the caps on how many
//! columns, conditions, perturbations and covariate levels a table may have.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::DataError;

/// Upper bound on the input size, in bytes: applied to the bytes as given and, for gzip input,
/// to the decompressed CSV text as well (so a small archive cannot expand without bound).
///
/// The browser build parses the whole text in memory, inside a WebAssembly instance whose
/// linear memory is capped (4 GiB at most, often much less in practice on phones); the text,
/// the parsed matrix and the training buffers all have to fit at once. 256 MiB of CSV is far
/// beyond the datasets this crate is meant for, while still failing early and clearly instead
/// of running the tab out of memory.
pub const MAX_INPUT_BYTES: usize = 256 * 1024 * 1024;

/// Most columns a header may have (the condition, covariate and gene columns together).
///
/// Whole-transcriptome panels have about 20,000 protein-coding genes and at most some 60,000
/// annotated genes in all, so 100,000 leaves room for any real panel. Per-gene statistics, the
/// gene panel and the model's input and output layers all grow with this number, and a header
/// far wider than any genome is usually a transposed table (genes as rows, cells as columns).
pub const MAX_COLUMNS: usize = 100_000;

/// Most distinct condition labels (the control label, singles and combinations together).
///
/// The largest genome-wide Perturb-seq screens target about 10,000 genes. Each label is a
/// column of the one-hot condition encoding (cells × labels) and is predicted and scored on its
/// own, so far more labels would mostly mean that the wrong column was named as the condition.
pub const MAX_CONDITIONS: usize = 10_000;

/// Most distinct values (levels) in one covariate column.
///
/// Covariates such as cell type, donor, batch or plate have from a few to a few hundred
/// levels. Each level is a column of the model input for every cell (cells × levels), and a
/// column with thousands of different values is not a grouping of cells.
pub const MAX_COVARIATE_LEVELS: usize = 1_000;

/// Most distinct single perturbations, after splitting combinations such as `A+B` on `+`.
///
/// Each single is one column of the dosage encoding (cells × perturbations) and of the
/// model's treatment embedding; genome-wide screens target about 10,000 genes.
pub const MAX_PERTURBATIONS: usize = 10_000;

/// A covariate is refused as an identifier (e.g. a barcode) when more than half of the cells
/// have a value of their own, once there are at least this many cells. Below that, small tables
/// can legitimately have about as many levels as cells.
pub const IDENTIFIER_MIN_CELLS: usize = 50;

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
    /// Column limit, see [`MAX_COLUMNS`]; may be lowered, not raised.
    pub max_columns: usize,
    /// Distinct condition label limit, see [`MAX_CONDITIONS`]; may be lowered, not raised.
    pub max_conditions: usize,
    /// Levels per covariate limit, see [`MAX_COVARIATE_LEVELS`]; may be lowered, not raised.
    pub max_covariate_levels: usize,
    /// Single perturbation limit, see [`MAX_PERTURBATIONS`]; may be lowered, not raised.
    pub max_perturbations: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            condition_column: "condition".to_string(),
            control_label: "control".to_string(),
            covariates: Vec::new(),
            max_bytes: MAX_INPUT_BYTES,
            min_cells_per_condition: 10,
            max_columns: MAX_COLUMNS,
            max_conditions: MAX_CONDITIONS,
            max_covariate_levels: MAX_COVARIATE_LEVELS,
            max_perturbations: MAX_PERTURBATIONS,
        }
    }
}

/// Rejects options that contradict themselves.
pub(super) fn validate_options(opts: &LoadOptions) -> Result<(), DataError> {
    let invalid = |message: String| Err(DataError::InvalidOptions { message });
    let cond = opts.condition_column.trim();
    if cond.is_empty() {
        return invalid("the condition column name is empty".to_string());
    }
    if opts.control_label.trim().is_empty() {
        return invalid("the control label is empty".to_string());
    }
    for (name, value, cap) in [
        ("max_columns", opts.max_columns, MAX_COLUMNS),
        ("max_conditions", opts.max_conditions, MAX_CONDITIONS),
        (
            "max_covariate_levels",
            opts.max_covariate_levels,
            MAX_COVARIATE_LEVELS,
        ),
        (
            "max_perturbations",
            opts.max_perturbations,
            MAX_PERTURBATIONS,
        ),
    ] {
        if value > cap {
            return invalid(format!(
                "{name} is {value}, above the supported maximum of {cap}"
            ));
        }
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
