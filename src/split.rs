//! Seeded, stratified train / validation / test splits for the three evaluation tasks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::data::Dataset;
use crate::rng::Rng;

/// Which cells are held out for scoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Holdout {
    /// A fraction of every perturbed condition's cells (controls are inputs, never targets,
    /// so they all stay available for training and as Mode-B sources).
    Fraction { fraction: f64 },
    /// Every cell of these conditions: the model never sees them.
    Conditions { conditions: Vec<String> },
    /// The perturbed cells of one covariate group; that group's controls stay in training.
    Group { covariate: String, level: String },
    /// An exact external split, one role per data row (e.g. a benchmark's split file, parsed
    /// with [`parse_split_file`]); the validation fraction is not used.
    File {
        /// Where the assignments came from (a path or an upload's name).
        source: String,
        #[serde(with = "roles")]
        assignments: Vec<Role>,
    },
}

/// A cell's part in an external split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Train,
    Val,
    Test,
}

impl Role {
    fn code(self) -> char {
        match self {
            Role::Train => 't',
            Role::Val => 'v',
            Role::Test => 'h',
        }
    }
}

/// Roles are stored as one character per cell (`t` train, `v` validation, `h` held out for
/// testing), so a split of many thousand cells stays one short line in `config.json`.
mod roles {
    use super::Role;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Role], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.iter().map(|r| r.code()).collect::<String>())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Role>, D::Error> {
        let text = String::deserialize(d)?;
        text.chars()
            .map(|c| match c {
                't' => Ok(Role::Train),
                'v' => Ok(Role::Val),
                'h' => Ok(Role::Test),
                other => Err(serde::de::Error::custom(format!(
                    "unknown split role `{other}` (expected t, v or h)"
                ))),
            })
            .collect()
    }
}

impl Holdout {
    pub fn kind(&self) -> &'static str {
        match self {
            Holdout::Fraction { .. } => "fraction",
            Holdout::Conditions { .. } => "conditions",
            Holdout::Group { .. } => "group",
            Holdout::File { .. } => "file",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum SplitError {
    #[error("the holdout fraction must be strictly between 0 and 1 (got {0})")]
    Fraction(f64),
    #[error("the validation fraction must be in [0, 0.5] (got {0})")]
    ValFraction(f64),
    #[error("held-out condition `{condition}` is not in the data; conditions present: {known}")]
    UnknownCondition { condition: String, known: String },
    #[error("`{0}` is the control label: controls cannot be held out as a condition")]
    ControlHeldOut(String),
    #[error("no held-out conditions were given")]
    NoConditions,
    #[error("--holdout-group needs the form COVARIATE=LEVEL (got `{0}`)")]
    GroupSyntax(String),
    #[error(
        "covariate `{covariate}` was not loaded: add --covariate {covariate} (loaded: {loaded})"
    )]
    UnknownCovariate { covariate: String, loaded: String },
    #[error("covariate `{covariate}` has no level `{level}`; levels present: {known}")]
    UnknownLevel {
        covariate: String,
        level: String,
        known: String,
    },
    #[error("the {kind} split leaves no perturbed cells to score")]
    NothingToScore { kind: &'static str },
    #[error(
        "the split leaves no training cells of condition `{0}` nor any control cells for training"
    )]
    NoTrainingControls(String),
    #[error("the split file assigns {found} cells but the data has {expected}")]
    FileLength { expected: usize, found: usize },
    #[error("split file: {0}")]
    FileFormat(String),
    #[error("split file line {line}: {message}")]
    FileLine { line: usize, message: String },
}

/// Reads a split CSV with columns `cell_id` and `split` (`train`, `val`/`validation`, `test`).
/// `cell_id` names a data row: `cell000000` is the first one. Every data row must be assigned
/// exactly once.
pub fn parse_split_file(bytes: &[u8], n_cells: usize) -> Result<Vec<Role>, SplitError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| SplitError::FileFormat(e.to_string()))?
        .clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
    };
    let (Some(id_col), Some(split_col)) = (col("cell_id"), col("split")) else {
        return Err(SplitError::FileFormat(format!(
            "needs the columns `cell_id` and `split` (found: {})",
            header.iter().collect::<Vec<_>>().join(", ")
        )));
    };
    let mut roles: Vec<Option<Role>> = vec![None; n_cells];
    let mut rows = 0;
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| SplitError::FileLine {
            line,
            message: e.to_string(),
        })?;
        rows += 1;
        let id = rec.get(id_col).unwrap_or("");
        let index = id
            .strip_prefix("cell")
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<usize>().ok())
            .ok_or_else(|| SplitError::FileLine { line, message: format!("cell_id `{id}` is not of the form cell<row number>, e.g. cell000000 for the first data row") })?;
        if index >= n_cells {
            return Err(SplitError::FileLine {
                line,
                message: format!("cell_id `{id}` is beyond the data's {n_cells} rows"),
            });
        }
        let role = match rec
            .get(split_col)
            .unwrap_or("")
            .to_ascii_lowercase()
            .as_str()
        {
            "train" => Role::Train,
            "val" | "valid" | "validation" => Role::Val,
            "test" => Role::Test,
            other => {
                return Err(SplitError::FileLine {
                    line,
                    message: format!("unknown split `{other}` (expected train, val or test)"),
                });
            }
        };
        if roles[index].replace(role).is_some() {
            return Err(SplitError::FileLine {
                line,
                message: format!("cell_id `{id}` is assigned twice"),
            });
        }
    }
    if rows != n_cells {
        return Err(SplitError::FileLength {
            expected: n_cells,
            found: rows,
        });
    }
    roles
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.ok_or_else(|| SplitError::FileFormat(format!("data row {i} has no split"))))
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub test: Vec<usize>,
}

fn join_sorted<I: IntoIterator<Item = String>>(it: I) -> String {
    let mut v: Vec<String> = it.into_iter().collect();
    v.sort();
    v.dedup();
    if v.len() > 20 {
        let n = v.len();
        v.truncate(20);
        return format!("{} … ({} in all)", v.join(", "), n);
    }
    v.join(", ")
}

/// Parses `COVARIATE=LEVEL`.
pub fn parse_group(spec: &str) -> Result<Holdout, SplitError> {
    match spec.split_once('=') {
        Some((c, l)) if !c.trim().is_empty() && !l.trim().is_empty() => Ok(Holdout::Group {
            covariate: c.trim().to_string(),
            level: l.trim().to_string(),
        }),
        _ => Err(SplitError::GroupSyntax(spec.to_string())),
    }
}

pub fn validate(ds: &Dataset, holdout: &Holdout, val_fraction: f64) -> Result<(), SplitError> {
    if !(0.0..=0.5).contains(&val_fraction) {
        return Err(SplitError::ValFraction(val_fraction));
    }
    match holdout {
        Holdout::File { assignments, .. } => {
            if assignments.len() != ds.n_cells() {
                return Err(SplitError::FileLength {
                    expected: ds.n_cells(),
                    found: assignments.len(),
                });
            }
        }
        Holdout::Fraction { fraction } => {
            if !(*fraction > 0.0 && *fraction < 1.0) {
                return Err(SplitError::Fraction(*fraction));
            }
        }
        Holdout::Conditions { conditions } => {
            if conditions.is_empty() {
                return Err(SplitError::NoConditions);
            }
            let counts = ds.condition_counts();
            for c in conditions {
                if *c == ds.control_label {
                    return Err(SplitError::ControlHeldOut(c.clone()));
                }
                if !counts.contains_key(c) {
                    return Err(SplitError::UnknownCondition {
                        condition: c.clone(),
                        known: join_sorted(counts.keys().cloned()),
                    });
                }
            }
        }
        Holdout::Group { covariate, level } => {
            let Some(ci) = ds.covariate_names.iter().position(|n| n == covariate) else {
                return Err(SplitError::UnknownCovariate {
                    covariate: covariate.clone(),
                    loaded: if ds.covariate_names.is_empty() {
                        "none".into()
                    } else {
                        ds.covariate_names.join(", ")
                    },
                });
            };
            if !ds.covariates[ci].iter().any(|l| l == level) {
                return Err(SplitError::UnknownLevel {
                    covariate: covariate.clone(),
                    level: level.clone(),
                    known: join_sorted(ds.covariates[ci].iter().cloned()),
                });
            }
        }
    }
    Ok(())
}

/// Deterministic for a given dataset, holdout and seed.
pub fn make_split(
    ds: &Dataset,
    holdout: &Holdout,
    val_fraction: f64,
    seed: u64,
) -> Result<Split, SplitError> {
    validate(ds, holdout, val_fraction)?;
    if let Holdout::File { assignments, .. } = holdout {
        let pick = |role: Role| -> Vec<usize> {
            (0..assignments.len())
                .filter(|&i| assignments[i] == role)
                .collect()
        };
        let (train, val, test) = (pick(Role::Train), pick(Role::Val), pick(Role::Test));
        if !test.iter().any(|&i| !ds.is_control(i)) {
            return Err(SplitError::NothingToScore {
                kind: holdout.kind(),
            });
        }
        if !train.iter().any(|&i| ds.is_control(i)) {
            return Err(SplitError::NoTrainingControls(ds.control_label.clone()));
        }
        return Ok(Split { train, val, test });
    }
    let mut rng = Rng::derive(seed, "split");
    // Cells grouped by condition label, in file order.
    let mut by_condition: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in ds.conditions.iter().enumerate() {
        by_condition.entry(c.as_str()).or_default().push(i);
    }
    let mut pool = Vec::new();
    let mut test = Vec::new();
    for (cond, cells) in &by_condition {
        let is_control = *cond == ds.control_label;
        let mut cells = cells.clone();
        match holdout {
            Holdout::Fraction { fraction } if !is_control => {
                rng.shuffle(&mut cells);
                // Leave at least one training cell when there is more than one.
                let n_test = ((cells.len() as f64 * fraction).round() as usize)
                    .min(cells.len().saturating_sub(1));
                test.extend_from_slice(&cells[..n_test]);
                pool.extend_from_slice(&cells[n_test..]);
            }
            Holdout::Conditions { conditions } if conditions.iter().any(|c| c == cond) => {
                test.extend(cells)
            }
            Holdout::Group { covariate, level } if !is_control => {
                let ci = ds
                    .covariate_names
                    .iter()
                    .position(|n| n == covariate)
                    .unwrap_or(0);
                for i in cells {
                    if ds.covariates[ci][i] == *level {
                        test.push(i)
                    } else {
                        pool.push(i)
                    }
                }
            }
            _ => pool.extend(cells),
        }
    }
    if test.is_empty() {
        return Err(SplitError::NothingToScore {
            kind: holdout.kind(),
        });
    }
    if !pool.iter().any(|&i| ds.is_control(i)) {
        return Err(SplitError::NoTrainingControls(ds.control_label.clone()));
    }
    // Validation cells: a stratified fraction of the training pool, for early stopping.
    let mut pool_by: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &i in &pool {
        pool_by
            .entry(ds.conditions[i].as_str())
            .or_default()
            .push(i);
    }
    let mut vrng = Rng::derive(seed, "validation");
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for cells in pool_by.values() {
        let mut cells = cells.clone();
        vrng.shuffle(&mut cells);
        let n_val = if cells.len() >= 5 {
            (cells.len() as f64 * val_fraction).round() as usize
        } else {
            0
        };
        val.extend_from_slice(&cells[..n_val]);
        train.extend_from_slice(&cells[n_val..]);
    }
    train.sort_unstable();
    val.sort_unstable();
    test.sort_unstable();
    Ok(Split { train, val, test })
}
