//! From annotations and candidate matrices to a [`Dataset`]: the condition column, control
//! label, joiner and matrix are taken as asked or guessed (and the guess recorded), then only
//! the kept genes are densified.

use std::collections::{BTreeSet, HashMap};

use super::labels::{self, is_control_like};
use super::scan::{self, Scan};
use super::{Entries, FormatOptions, Found, MatrixInfo, Obs, ObsInfo, ObsValues};
use crate::data::error::first_few;
use crate::data::{DataError, Dataset, FormatError, LoadOptions};

/// Condition column names tried in turn when the asked one is absent (compared ignoring case).
const CONDITION_COLUMNS: &[&str] = &[
    "condition",
    "perturbation",
    "perturbation_name",
    "guide_identity",
    "target_gene",
    "gene",
    "target",
    "treatment",
    "stim",
    "guide_ids",
];

/// Labels rewritten that [`Found::relabelled`] lists.
const RELABELLED_SHOWN: usize = 5;

/// A matrix the file offers and the gene names of its columns.
pub(crate) struct Candidate<'a> {
    pub(crate) matrix: Box<dyn Entries + 'a>,
    pub(crate) genes: Vec<String>,
    /// `dense`, `csr`, `csc` or `mtx`.
    pub(crate) storage: &'static str,
}

/// Builds the dataset; `sha256` is the digest of the input bytes.
pub(crate) fn build(
    format: &str,
    obs: &Obs,
    candidates: &[Candidate<'_>],
    opts: &LoadOptions,
    fopts: &FormatOptions,
    sha256: String,
) -> Result<(Dataset, Found), DataError> {
    let defaults = LoadOptions::default();
    let mut guessed = Vec::new();
    let mut notes = Vec::new();
    let n_cells = obs.index.len();

    let column = condition_column(
        obs,
        &opts.condition_column,
        opts.condition_column != defaults.condition_column,
    )?;
    if column != opts.condition_column.trim() {
        guessed.push("condition_column".to_string());
        notes.push(format!(
            "condition column: `{column}` (guessed; set another with --condition-column)"
        ));
    }
    let values = obs
        .column(&column)
        .ok_or_else(|| missing(obs, &column, "condition"))?;
    let raw = texts(values, &column, &obs.index)?;
    let distinct: BTreeSet<&str> = raw.iter().map(String::as_str).collect();
    let explicit = opts.control_label != defaults.control_label;
    let (control, was_guess) =
        labels::control_label(&column, &distinct, opts.control_label.trim(), explicit)?;
    if was_guess {
        guessed.push("control_label".to_string());
        notes.push(format!(
            "control label: `{control}` (guessed; set another with --control-label)"
        ));
    }
    let (joiner, why) = labels::joiner(&column, &distinct, &control, fopts.joiner)?;
    if let Some(why) = why {
        guessed.push("joiner".to_string());
        notes.push(format!("{why}; set it with --combination"));
    }
    let mut relabelled = Vec::new();
    let mut mapped: HashMap<&str, String> = HashMap::new();
    for label in &distinct {
        let m = labels::map_label(label, &control, joiner);
        if m != *label && relabelled.len() < RELABELLED_SHOWN {
            relabelled.push((label.to_string(), m.clone()));
        }
        mapped.insert(label, m);
    }
    let conditions: Vec<String> = raw.iter().map(|l| mapped[l.as_str()].clone()).collect();

    let mut covariates = Vec::with_capacity(opts.covariates.len());
    for name in &opts.covariates {
        let name = name.trim();
        let v = obs
            .column(name)
            .ok_or_else(|| missing(obs, name, "covariate"))?;
        covariates.push(texts(v, name, &obs.index)?);
    }

    let mut scans: Vec<Option<Scan>> = vec![None; candidates.len()];
    let chosen = choose_matrix(candidates, &mut scans, obs, fopts, &mut guessed, &mut notes)?;
    let cand = &candidates[chosen];
    let m = cand.matrix.as_ref();
    if m.rows() != n_cells || m.cols() != cand.genes.len() {
        return Err(FormatError::MatrixShape {
            matrix: m.name().to_string(),
            message: format!(
                "it is {} × {} but the file names {} cells and {} genes",
                m.rows(),
                m.cols(),
                n_cells,
                cand.genes.len()
            ),
        }
        .into());
    }
    let scan_result = match scans[chosen].take() {
        Some(s) => s,
        None => scan::scan(m, &obs.index, &cand.genes)?,
    };
    if !scan_result.is_counts {
        notes.push(format!(
            "`{}` is not integer counts: its values are read as log-normalised expression",
            m.name()
        ));
    }
    let keep = scan::genes_to_keep(n_cells, m.cols(), fopts.max_dense_values, fopts.min_genes);
    let kept = scan::pick_genes(m, &scan_result, keep)?;
    if kept.len() < m.cols() {
        notes.push(format!(
            "kept the {} most variable of {} genes (over all cells) so the table fits in memory; the panel is chosen among them on training cells",
            kept.len(),
            m.cols()
        ));
    }
    let values = scan::densify(m, &kept)?;
    let genes = unique_names(
        kept.iter().map(|&g| cand.genes[g].clone()).collect(),
        &mut notes,
    );

    let load = LoadOptions {
        condition_column: column.clone(),
        control_label: control.clone(),
        ..opts.clone()
    };
    let cov_names: Vec<String> = opts
        .covariates
        .iter()
        .map(|c| c.trim().to_string())
        .collect();
    let ds = Dataset::from_parts_digest(
        genes,
        values,
        conditions,
        cov_names,
        covariates,
        &load,
        Some(sha256),
    )?;

    let found = Found {
        format: format.to_string(),
        cells: n_cells,
        obs_columns: obs
            .columns
            .iter()
            .map(|(n, v)| obs_info(n, v, n_cells))
            .collect(),
        matrices: candidates
            .iter()
            .zip(&scans)
            .enumerate()
            .map(|(i, (c, s))| MatrixInfo {
                name: c.matrix.name().to_string(),
                cells: c.matrix.rows(),
                genes: c.matrix.cols(),
                storage: c.storage.to_string(),
                counts: if i == chosen {
                    Some(ds.is_counts)
                } else {
                    s.as_ref().map(|s| s.is_counts)
                },
            })
            .collect(),
        condition_column: column,
        control_label: control,
        matrix: m.name().to_string(),
        joiner,
        guessed,
        relabelled,
        genes_in_file: m.cols(),
        genes_kept: kept.len(),
        notes,
    };
    Ok((ds, found))
}

/// The asked column when present; else (unless it was asked explicitly) a conventional name,
/// or the first text column holding a conventional control label.
fn condition_column(obs: &Obs, asked: &str, explicit: bool) -> Result<String, DataError> {
    let asked = asked.trim();
    if obs.column(asked).is_some() {
        return Ok(asked.to_string());
    }
    if explicit {
        return Err(missing(obs, asked, "condition"));
    }
    for want in CONDITION_COLUMNS {
        if let Some((name, _)) = obs
            .columns
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(want))
        {
            return Ok(name.clone());
        }
    }
    for (name, values) in &obs.columns {
        if matches!(values, ObsValues::Numbers(_)) {
            continue;
        }
        if (0..obs.index.len()).any(|i| values.get(i).is_some_and(|v| is_control_like(&v))) {
            return Ok(name.clone());
        }
    }
    Err(FormatError::NoConditionColumn {
        found: first_few(&obs.names()),
    }
    .into())
}

fn missing(obs: &Obs, column: &str, role: &'static str) -> DataError {
    FormatError::MissingObsColumn {
        column: column.to_string(),
        role,
        found: first_few(&obs.names()),
    }
    .into()
}

/// Every cell's value as text; a missing one is an error naming the cell.
fn texts(values: &ObsValues, column: &str, cells: &[String]) -> Result<Vec<String>, DataError> {
    (0..cells.len())
        .map(|i| match values.get(i) {
            Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
            _ => Err(FormatError::MissingObsValue {
                column: column.to_string(),
                cell: cells.get(i).cloned().unwrap_or_default(),
            }
            .into()),
        })
        .collect()
}

/// The asked matrix, or the first of: a layer named like counts, `raw/X`, `X`, every other
/// layer, that holds integer counts; failing that, `X`.
fn choose_matrix(
    candidates: &[Candidate<'_>],
    scans: &mut [Option<Scan>],
    obs: &Obs,
    fopts: &FormatOptions,
    guessed: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Result<usize, DataError> {
    let names: Vec<String> = candidates
        .iter()
        .map(|c| c.matrix.name().to_string())
        .collect();
    let asked = fopts.layer.trim();
    if !asked.is_empty() {
        let layer = format!("layers/{asked}");
        return names
            .iter()
            .position(|n| n == asked || *n == layer)
            .ok_or_else(|| {
                FormatError::MissingMatrix {
                    name: asked.to_string(),
                    found: names.clone(),
                }
                .into()
            });
    }
    if candidates.len() == 1 {
        return Ok(0);
    }
    let countish = |n: &str| n.starts_with("layers/") && n.to_ascii_lowercase().contains("count");
    let mut order: Vec<usize> = (0..names.len()).filter(|&i| countish(&names[i])).collect();
    order.extend(names.iter().position(|n| n == "raw/X"));
    order.extend(names.iter().position(|n| n == "X"));
    let rest: Vec<usize> = (0..names.len()).filter(|i| !order.contains(i)).collect();
    order.extend(rest);
    for &i in &order {
        let c = &candidates[i];
        let s = match scan::scan(c.matrix.as_ref(), &obs.index, &c.genes) {
            Ok(s) => s,
            // A scaled matrix (negative values) is simply not a candidate.
            Err(DataError::Format(FormatError::MatrixValue { .. })) => continue,
            Err(e) => return Err(e),
        };
        let counts = s.is_counts;
        scans[i] = Some(s);
        if counts {
            guessed.push("matrix".to_string());
            notes.push(format!(
                "matrix: `{}`, integer counts (guessed; set another with --layer)",
                names[i]
            ));
            return Ok(i);
        }
    }
    let fallback = order
        .iter()
        .copied()
        .find(|&i| scans[i].is_some())
        .unwrap_or(0);
    guessed.push("matrix".to_string());
    notes.push(format!(
        "matrix: `{}`: no matrix holds integer counts (guessed; set another with --layer)",
        names[fallback]
    ));
    Ok(fallback)
}

/// Repeated gene names get `-1`, `-2`, … as scanpy's `var_names_make_unique` does.
fn unique_names(mut genes: Vec<String>, notes: &mut Vec<String>) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let taken: BTreeSet<String> = genes.iter().cloned().collect();
    let mut renamed = 0usize;
    for g in &mut genes {
        let n = seen.entry(g.clone()).or_insert(0);
        if *n > 0 {
            let mut k = *n;
            while taken.contains(&format!("{g}-{k}")) {
                k += 1;
            }
            *n = k + 1;
            *g = format!("{g}-{k}");
            renamed += 1;
        } else {
            *n = 1;
        }
    }
    if renamed > 0 {
        notes.push(format!(
            "{renamed} repeated gene name(s) were made unique with -1, -2, …"
        ));
    }
    genes
}

fn obs_info(name: &str, values: &ObsValues, cells: usize) -> ObsInfo {
    let (levels, examples) = match values {
        ObsValues::Numbers(_) => (
            None,
            (0..cells.min(3))
                .filter_map(|i| values.get(i).map(|v| v.into_owned()))
                .collect(),
        ),
        _ => {
            let mut distinct = BTreeSet::new();
            for i in 0..cells {
                if let Some(v) = values.get(i) {
                    distinct.insert(v.into_owned());
                }
            }
            let examples = distinct.iter().take(5).cloned().collect();
            (Some(distinct.len()), examples)
        }
    };
    ObsInfo {
        name: name.to_string(),
        kind: values.kind().to_string(),
        levels,
        examples,
    }
}
