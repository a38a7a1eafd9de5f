//! Models compared side by side: runs on the same data and the same split share one scoreboard
//! (one row per model, the baselines once). This is the one place that decides whether two
//! runs are comparable — the page and the CLI ask it rather than deciding themselves.

use crate::config::{Room, SCHEMA};
use crate::results::RunResults;
use crate::split::Holdout;

/// The runs compared: the latest run of each model, in the order they were first added.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    runs: Vec<RunResults>,
    /// Index of the run added last.
    latest: usize,
}

/// What adding a run did.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Added {
    /// The model already had a row, and the new run replaced it.
    pub replaced: bool,
    /// The other models removed because the new run's data or split differ, and what differs
    /// (in words); both empty when the run joined the comparison.
    pub removed: Vec<String>,
    pub changes: Vec<String>,
}

impl Comparison {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn runs(&self) -> &[RunResults] {
        &self.runs
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    pub fn clear(&mut self) {
        self.runs.clear();
        self.latest = 0;
    }

    /// Adds a run: it replaces its model's earlier run, or starts a new comparison when its data
    /// or split differ from the runs compared so far.
    pub fn add(&mut self, run: RunResults) -> Added {
        let mut added = Added::default();
        if let Some(last) = self.runs.last() {
            let changes = differences(last, &run);
            if !changes.is_empty() {
                // The new run's own model is not removed: its row is replaced.
                added.removed = self
                    .runs
                    .iter()
                    .map(|r| r.model())
                    .filter(|m| *m != run.model())
                    .map(|m| m.name().to_string())
                    .collect();
                added.changes = changes;
                self.runs.clear();
            }
        }
        match self.runs.iter().position(|r| r.model() == run.model()) {
            Some(i) => {
                self.runs[i] = run;
                self.latest = i;
                added.replaced = true;
            }
            None => {
                self.runs.push(run);
                self.latest = self.runs.len() - 1;
            }
        }
        added
    }

    /// The comparison as one result: every model's scores beside the baselines (the same for
    /// every run on one split); the other fields are the latest run's. None when empty.
    pub fn merged(&self) -> Option<RunResults> {
        let latest = self.runs.get(self.latest)?;
        let mut merged = latest.clone();
        merged
            .scores
            .retain(|name, _| crate::baselines::is_baseline(name));
        for r in &self.runs {
            let name = r.model().name();
            if let Some(s) = r.scores.get(name) {
                merged.scores.insert(name.to_string(), s.clone());
            }
        }
        Some(merged)
    }
}

/// What differs between two runs' data or split, in words (empty: they are comparable).
pub fn differences(a: &RunResults, b: &RunResults) -> Vec<String> {
    let mut out = Vec::new();
    if a.data.sha256 != b.data.sha256 {
        out.push(format!("the data ({} → {})", a.data.source, b.data.source));
    }
    let (sa, sb) = (a.config.settings(), b.config.settings());
    let (ja, jb) = (
        serde_json::to_value(sa).unwrap_or_default(),
        serde_json::to_value(sb).unwrap_or_default(),
    );
    for s in SCHEMA
        .iter()
        .filter(|s| matches!(s.room, Room::Data | Room::Split) && !s.key.starts_with("holdout"))
    {
        let (x, y) = (&ja[s.key], &jb[s.key]);
        if x != y {
            out.push(format!("{} ({} → {})", s.what, show(x), show(y)));
        }
    }
    if a.config.holdout() != b.config.holdout() {
        out.push(format!(
            "the held-out cells ({} → {})",
            describe(a.config.holdout()),
            describe(b.config.holdout())
        ));
    }
    out
}

/// A setting's value in a sentence.
fn show(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) if s.is_empty() => "none".into(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) if a.is_empty() => "none".into(),
        serde_json::Value::Array(a) => a.iter().map(show).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A holdout in a few words.
pub fn describe(h: &Holdout) -> String {
    match h {
        Holdout::Fraction { fraction } => format!("{fraction} of each condition"),
        Holdout::Conditions { conditions } => {
            format!(
                "condition{} {}",
                if conditions.len() == 1 { "" } else { "s" },
                conditions.join(", ")
            )
        }
        Holdout::Group { covariate, level } => format!("{covariate} = {level}"),
        Holdout::File { source, .. } => format!("the split file {source}"),
    }
}
