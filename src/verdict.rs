//! Whether a model beats the simple baselines, said plainly: for each headline metric, the
//! model's pooled score against the best baseline's on that same metric, both numbers named.
//! Deep models often lose to a baseline; a verdict never hides that.

use serde::Serialize;

use crate::baselines;
use crate::results::{JACCARD_KS, RunResults, ScoreSet};

/// The model against the best baseline on one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricVerdict {
    /// The metric as the scoreboard names it (`r`, `J@25`, `energy`).
    pub metric: String,
    pub model: f64,
    /// The baseline that does best on this metric, and its score.
    pub baseline: String,
    pub baseline_value: f64,
    /// Strictly better than that baseline (higher r and J@K, lower energy distance).
    pub beats: bool,
}

/// A model's verdict: one entry per metric both it and some baseline have, and a sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub model: String,
    pub metrics: Vec<MetricVerdict>,
    pub sentence: String,
}

/// A headline metric of the scoreboard.
#[derive(Debug, Clone, Copy)]
enum Metric {
    R,
    Jaccard(usize),
    Energy,
}

impl Metric {
    fn all() -> impl Iterator<Item = Metric> {
        std::iter::once(Metric::R)
            .chain(JACCARD_KS.into_iter().map(Metric::Jaccard))
            .chain(std::iter::once(Metric::Energy))
    }

    fn name(self) -> String {
        match self {
            Metric::R => "r".into(),
            Metric::Jaccard(k) => format!("J@{k}"),
            Metric::Energy => "energy".into(),
        }
    }

    /// The pooled value, when it is a finite number.
    fn read(self, s: &ScoreSet) -> Option<f64> {
        let v = match self {
            Metric::R => s.mean_shift_r,
            Metric::Jaccard(k) => s.jaccard.get(&k.to_string()).copied().flatten(),
            Metric::Energy => s.energy_distance,
        };
        v.filter(|v| v.is_finite())
    }

    fn higher_is_better(self) -> bool {
        !matches!(self, Metric::Energy)
    }
}

fn fmt(v: f64) -> String {
    format!("{v:.3}")
}

/// The verdict on `model` in `results` (None when the model has no pooled scores).
pub fn verdict(results: &RunResults, model: &str) -> Option<Verdict> {
    let mine = &results.scores.get(model)?.pooled;
    let mut out = Vec::new();
    for metric in Metric::all() {
        let higher = metric.higher_is_better();
        let Some(value) = metric.read(mine) else {
            continue;
        };
        let best = results
            .scores
            .iter()
            .filter(|(name, _)| baselines::is_baseline(name))
            .filter_map(|(name, s)| metric.read(&s.pooled).map(|v| (name, v)))
            .max_by(|a, b| {
                let order = a.1.total_cmp(&b.1);
                if higher { order } else { order.reverse() }
            });
        if let Some((name, b)) = best {
            let beats = if higher { value > b } else { value < b };
            out.push(MetricVerdict {
                metric: metric.name(),
                model: value,
                baseline: name.clone(),
                baseline_value: b,
                beats,
            });
        }
    }
    if out.is_empty() {
        return None;
    }
    let part = |v: &MetricVerdict| {
        format!(
            "{}: {} vs {} for {}",
            v.metric,
            fmt(v.model),
            fmt(v.baseline_value),
            baselines::label(&v.baseline)
        )
    };
    let (won, lost): (Vec<&MetricVerdict>, Vec<&MetricVerdict>) = out.iter().partition(|v| v.beats);
    let list = |vs: &[&MetricVerdict]| vs.iter().map(|v| part(v)).collect::<Vec<_>>().join("; ");
    let sentence = match (won.is_empty(), lost.is_empty()) {
        (true, _) => format!("{model} beats no baseline: {}", list(&lost)),
        (false, true) => format!(
            "{model} beats the best baseline on every metric: {}",
            list(&won)
        ),
        (false, false) => format!(
            "{model} does not beat the best baseline on {}; it does on {}",
            list(&lost),
            list(&won)
        ),
    };
    Some(Verdict {
        model: model.to_string(),
        metrics: out,
        sentence,
    })
}
