//! How a dataset is read: [`LoadOptions`] and the input size limit.

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
