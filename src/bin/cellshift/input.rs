//! Reading `--data` in whichever format it is, and saying what was found and guessed in an
//! AnnData or 10x input before anything is trained.

use std::path::Path;

use cellshift::config::{LikelihoodChoice, RunConfig};
use cellshift::data::{self, Dataset, FormatError, Found};

use super::CliError;

/// Loads `path`; for AnnData and 10x input the settings then name what was actually used
/// (the guessed column, label and matrix), so config.json and results.json tell the truth.
pub(crate) fn load(
    path: &Path,
    metadata: Option<&Path>,
    cfg: RunConfig,
    quiet: bool,
) -> Result<(Dataset, RunConfig), CliError> {
    let (ds, found) = data::load_input(path, metadata, &cfg.load_options(), &cfg.format_options())?;
    let Some(found) = found else {
        return Ok((ds, cfg));
    };
    if !quiet {
        print!("{}", describe(path, &found));
    }
    if cfg.settings().likelihood == LikelihoodChoice::Nb && !ds.is_counts {
        let counts = found
            .matrices
            .iter()
            .filter(|m| m.counts == Some(true))
            .map(|m| m.name.clone())
            .collect();
        return Err(data::DataError::from(FormatError::NotCounts {
            matrix: found.matrix.clone(),
            counts,
        })
        .into());
    }
    let mut settings = cfg.settings().clone();
    settings.condition_column = found.condition_column.clone();
    settings.control_label = found.control_label.clone();
    if found.format == "h5ad" {
        settings.layer = found.matrix.clone();
    }
    Ok((ds, settings.check()?))
}

/// What the file holds and what was chosen from it, one topic a line.
pub(crate) fn describe(path: &Path, f: &Found) -> String {
    let guess = |what: &str| {
        if f.guessed.iter().any(|g| g == what) {
            " (guessed)"
        } else {
            ""
        }
    };
    let columns: Vec<String> = f
        .obs_columns
        .iter()
        .map(|c| match c.levels {
            Some(n) => format!("{} ({}, {n} values)", c.name, c.kind),
            None => format!("{} ({})", c.name, c.kind),
        })
        .collect();
    let matrices: Vec<String> = f
        .matrices
        .iter()
        .map(|m| {
            let counts = match m.counts {
                Some(true) => ", counts",
                Some(false) => ", not counts",
                None => "",
            };
            format!(
                "{} ({} {} × {}{counts})",
                m.name, m.storage, m.cells, m.genes
            )
        })
        .collect();
    let mut out = format!(
        "{}: {} input, {} cells\n",
        path.display(),
        f.format,
        f.cells
    );
    out += &format!("  cell annotations: {}\n", columns.join(", "));
    out += &format!("  matrices: {}\n", matrices.join(", "));
    out += &format!(
        "  using condition column `{}`{}, control label `{}`{}, matrix `{}`{}\n",
        f.condition_column,
        guess("condition_column"),
        f.control_label,
        guess("control_label"),
        f.matrix,
        guess("matrix")
    );
    if !f.relabelled.is_empty() {
        let shown: Vec<String> = f
            .relabelled
            .iter()
            .map(|(a, b)| format!("{a} → {b}"))
            .collect();
        out += &format!("  labels read as: {}\n", shown.join(", "));
    }
    for n in &f.notes {
        out += &format!("  note: {n}\n");
    }
    out
}
