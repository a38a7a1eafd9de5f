//! Checks shared by the parser and [`Dataset::from_parts`]: header layout, condition labels,
//! gene values and the final whole-table checks.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::error::{clip_value, first_few};
use super::options::IDENTIFIER_MIN_CELLS;
use super::{DataError, Dataset, LoadOptions};

/// Whether a value counts as an integer for `is_counts`.
pub(super) fn is_integer(v: f32) -> bool {
    (v - v.round()).abs() <= 1e-6
}

/// Which header positions (0-based) hold the condition, the covariates and the genes.
pub(super) struct Layout {
    pub(super) condition: usize,
    /// In the order of `opts.covariates`.
    pub(super) covariates: Vec<usize>,
    /// In file order.
    pub(super) genes: Vec<usize>,
}

impl Layout {
    /// Checks a header (names already trimmed) against the options.
    pub(super) fn from_header(header: &[String], opts: &LoadOptions) -> Result<Layout, DataError> {
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

/// Refuses a header with more than `opts.max_columns` columns. Called on the raw field count,
/// before the names are copied.
pub(super) fn check_columns(found: usize, opts: &LoadOptions) -> Result<(), DataError> {
    if found > opts.max_columns {
        return Err(DataError::TooManyColumns {
            found,
            limit: opts.max_columns,
        });
    }
    Ok(())
}

/// Whether `levels` distinct covariate values among `cells` cells look like one value per
/// cell: more than half of the cells distinct, once there are enough cells to tell.
fn looks_like_identifier(levels: usize, cells: usize) -> bool {
    cells >= IDENTIFIER_MIN_CELLS && levels > cells / 2
}

/// Counts distinct condition labels, single perturbations and covariate levels as cells are
/// read, so that a cap is reported as soon as it is passed, before the rest of the table is
/// held in memory. The sets never grow past their caps.
pub(super) struct Tally<'a> {
    control: &'a str,
    /// Name and 1-based index of the condition column.
    condition: (&'a str, usize),
    /// Name and 1-based index of each covariate column.
    covariates: Vec<(&'a str, usize)>,
    max_conditions: usize,
    max_perturbations: usize,
    max_levels: usize,
    labels: HashSet<String>,
    singles: HashSet<String>,
    levels: Vec<HashSet<String>>,
}

impl<'a> Tally<'a> {
    pub(super) fn new(
        header: &'a [String],
        layout: &Layout,
        control: &'a str,
        opts: &LoadOptions,
    ) -> Self {
        Self {
            control,
            condition: (header[layout.condition].as_str(), layout.condition + 1),
            covariates: layout
                .covariates
                .iter()
                .map(|&c| (header[c].as_str(), c + 1))
                .collect(),
            max_conditions: opts.max_conditions,
            max_perturbations: opts.max_perturbations,
            max_levels: opts.max_covariate_levels,
            labels: HashSet::new(),
            singles: HashSet::new(),
            levels: vec![HashSet::new(); layout.covariates.len()],
        }
    }

    /// Counts a cell's condition label, already normalised by [`normalise_condition`] (so
    /// splitting it on `+` gives its trimmed singles).
    pub(super) fn condition(&mut self, label: &str, line: u64) -> Result<(), DataError> {
        if self.labels.contains(label) {
            return Ok(());
        }
        let (column, column_index) = self.condition;
        if self.labels.len() >= self.max_conditions {
            return Err(DataError::TooManyConditions {
                line,
                column: column.to_string(),
                column_index,
                value: clip_value(label),
                limit: self.max_conditions,
            });
        }
        if label != self.control {
            for part in label.split('+') {
                if self.singles.contains(part) {
                    continue;
                }
                if self.singles.len() >= self.max_perturbations {
                    return Err(DataError::TooManyPerturbations {
                        line,
                        column: column.to_string(),
                        column_index,
                        value: clip_value(part),
                        limit: self.max_perturbations,
                    });
                }
                self.singles.insert(part.to_string());
            }
        }
        self.labels.insert(label.to_string());
        Ok(())
    }

    /// Counts the value of covariate `k` (in the order of the layout) for the cell at 0-based
    /// position `cell` among the cells read so far.
    pub(super) fn covariate(
        &mut self,
        k: usize,
        value: &str,
        line: u64,
        cell: usize,
    ) -> Result<(), DataError> {
        let set = &mut self.levels[k];
        if set.contains(value) {
            return Ok(());
        }
        if set.len() >= self.max_levels {
            let (column, column_index) = self.covariates[k];
            let levels = set.len() + 1;
            let cells = cell + 1;
            return Err(if looks_like_identifier(levels, cells) {
                DataError::IdentifierCovariate {
                    column: column.to_string(),
                    column_index,
                    levels,
                    cells,
                }
            } else {
                DataError::TooManyLevels {
                    line,
                    column: column.to_string(),
                    column_index,
                    value: clip_value(value),
                    limit: self.max_levels,
                }
            });
        }
        set.insert(value.to_string());
        Ok(())
    }

    /// After the last of `cells` cells: refuses covariates that look like identifiers.
    pub(super) fn finish(&self, cells: usize) -> Result<(), DataError> {
        for (set, &(column, column_index)) in self.levels.iter().zip(&self.covariates) {
            if looks_like_identifier(set.len(), cells) {
                return Err(DataError::IdentifierCovariate {
                    column: column.to_string(),
                    column_index,
                    levels: set.len(),
                    cells,
                });
            }
        }
        Ok(())
    }
}

/// Trims a condition label and, for combinations, each of its parts (`" A + B "` → `"A+B"`).
/// Rejects empty labels and combinations with empty, repeated or control parts.
pub(super) fn normalise_condition(
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
pub(super) enum ValueProblem {
    NonNumeric,
    NonFinite,
    Negative,
}

impl ValueProblem {
    pub(super) fn into_error(
        self,
        line: u64,
        column: &str,
        column_index: usize,
        value: &str,
    ) -> DataError {
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
pub(super) fn finish(
    mut ds: Dataset,
    lines: &[u64],
    min_cells: usize,
) -> Result<Dataset, DataError> {
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
