//! Condition labels as files write them: which label marks controls (`ctrl`, `control`,
//! `non-targeting`, `NT`), and how combinations are joined (`A+B`, `A_B`, `A|B`, GEARS's
//! `A+ctrl` for a single). Guesses are reported; an ambiguous file is an error that asks.

use std::collections::BTreeSet;

use crate::data::error::first_few;
use crate::data::{DataError, FormatError};

/// Control labels recognised without being named (compared ignoring case).
pub const CONTROL_LABELS: &[&str] = &[
    "control",
    "ctrl",
    "non-targeting",
    "non_targeting",
    "nontargeting",
    "NT",
    "unperturbed",
];

/// How combination labels join their perturbations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Joiner {
    /// Decide from the labels (and say so).
    Auto,
    Plus,
    Underscore,
    Pipe,
    /// Every label is one perturbation, whatever characters it holds.
    None,
}

impl Joiner {
    fn char(self) -> Option<char> {
        match self {
            Joiner::Plus => Some('+'),
            Joiner::Underscore => Some('_'),
            Joiner::Pipe => Some('|'),
            Joiner::Auto | Joiner::None => None,
        }
    }

    /// Parses `auto`, `+`, `_`, `|`, `none` (and their names).
    pub fn parse(text: &str) -> Result<Joiner, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Joiner::Auto),
            "+" | "plus" => Ok(Joiner::Plus),
            "_" | "underscore" => Ok(Joiner::Underscore),
            "|" | "pipe" => Ok(Joiner::Pipe),
            "none" => Ok(Joiner::None),
            other => Err(format!(
                "unknown combination separator `{other}`: expected auto, +, _, | or none"
            )),
        }
    }
}

/// Whether `label` is one of the [`CONTROL_LABELS`].
pub fn is_control_like(label: &str) -> bool {
    let l = label.trim();
    CONTROL_LABELS.iter().any(|c| c.eq_ignore_ascii_case(l))
}

/// The control label: `asked` when some cell has it; else, when nothing was asked for
/// explicitly, the one conventional control label present. Several of them, or none, is an
/// error naming what was found.
pub(crate) fn control_label(
    column: &str,
    distinct: &BTreeSet<&str>,
    asked: &str,
    explicit: bool,
) -> Result<(String, bool), DataError> {
    if distinct.contains(asked) {
        return Ok((asked.to_string(), false));
    }
    let found: Vec<&str> = distinct.iter().copied().collect();
    if explicit {
        return Err(DataError::NoControl {
            label: asked.to_string(),
            column: column.to_string(),
            found: first_few(&found),
        });
    }
    let like: Vec<&str> = found
        .iter()
        .copied()
        .filter(|l| is_control_like(l))
        .collect();
    match like.as_slice() {
        [one] => Ok(((*one).to_string(), true)),
        [] => Err(FormatError::NoControlGuess {
            column: column.to_string(),
            found: first_few(&found),
        }
        .into()),
        many => Err(FormatError::AmbiguousControl {
            column: column.to_string(),
            candidates: many.iter().map(|s| s.to_string()).collect(),
        }
        .into()),
    }
}

/// Decides the joiner for `Auto` from the labels: `+` or `|` when a label holds one; `_` only
/// when every label holding it is made of labels that also stand alone (`A_B` beside `A` and
/// `B`); `_` inside names when none is. Both at once cannot be told apart and is an error.
pub(crate) fn joiner(
    column: &str,
    distinct: &BTreeSet<&str>,
    control: &str,
    asked: Joiner,
) -> Result<(Joiner, Option<String>), DataError> {
    if asked != Joiner::Auto {
        return Ok((asked, None));
    }
    let labels: Vec<&str> = distinct.iter().copied().filter(|l| *l != control).collect();
    if labels.iter().any(|l| l.contains('+')) {
        return Ok((Joiner::Plus, None));
    }
    if labels.iter().any(|l| l.contains('|')) {
        return Ok((
            Joiner::Pipe,
            Some("combinations are joined by `|` (read as `+`)".into()),
        ));
    }
    let joined: Vec<&str> = labels.iter().copied().filter(|l| l.contains('_')).collect();
    if joined.is_empty() {
        return Ok((Joiner::None, None));
    }
    let alone: BTreeSet<&str> = labels
        .iter()
        .copied()
        .filter(|l| !l.contains('_'))
        .collect();
    let (combos, names): (Vec<&str>, Vec<&str>) = joined.iter().partition(|l| {
        l.split('_')
            .all(|p| p == control || is_control_like(p) || alone.contains(p))
    });
    match (combos.is_empty(), names.is_empty()) {
        (false, true) => Ok((
            Joiner::Underscore,
            Some(format!(
                "combinations are joined by `_` (e.g. `{}` read as `{}`)",
                combos[0],
                combos[0].replace('_', "+")
            )),
        )),
        (true, false) => Ok((
            Joiner::None,
            Some(format!(
                "`_` is read as part of perturbation names (e.g. `{}`), not as a combination",
                names[0]
            )),
        )),
        _ => Err(FormatError::AmbiguousJoiner {
            column: column.to_string(),
            combination: combos[0].to_string(),
            name: names[0].to_string(),
        }
        .into()),
    }
}

/// One label in the dataset's form: parts joined by `+`, control parts dropped (`A+ctrl` is
/// `A`), the control label for a label with no other part.
pub(crate) fn map_label(label: &str, control: &str, joiner: Joiner) -> String {
    let label = label.trim();
    if label == control {
        return control.to_string();
    }
    let parts: Vec<&str> = match joiner.char() {
        Some(c) => label.split(c).map(str::trim).collect(),
        None => vec![label],
    };
    let kept: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|p| !p.is_empty() && *p != control)
        .collect();
    if kept.is_empty() && !parts.iter().all(|p| p.is_empty()) {
        control.to_string()
    } else if joiner == Joiner::None {
        label.to_string()
    } else {
        kept.join("+")
    }
}
