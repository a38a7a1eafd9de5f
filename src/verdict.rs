//! Whether a model beats the simple baselines, said plainly: for each pooled metric with a clear
//! direction, the model's score against the best baseline's on that same metric, both numbers
//! named; and the baseline-normalised score that sums this up in one number. Deep models often
//! lose to a baseline; a verdict never hides that. The noise ceiling is not a baseline here.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::baselines;
use crate::results::{JACCARD_KS, RunResults, ScoreSet, Scores};

/// The model against the best baseline on one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricVerdict {
    /// The metric as the scoreboard names it (`r`, `J@25`, `energy`, `MAE`, …).
    pub metric: String,
    pub model: f64,
    /// The baseline that does best on this metric, and its score.
    pub baseline: String,
    pub baseline_value: f64,
    /// Strictly better than that baseline (higher correlations, overlaps and accuracies; lower
    /// distances, errors and rank); with several seeds, the whole 95% interval is.
    pub beats: bool,
    /// The seeds' 95% interval of the model's value (`model` is then the mean), when it was
    /// trained with several seeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<[f64; 2]>,
    /// The interval holds the baseline's value: the seeds cannot tell model and baseline apart.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub undecided: bool,
}

/// A model's verdict: one entry per metric both it and some baseline have, and a sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub model: String,
    pub metrics: Vec<MetricVerdict>,
    pub sentence: String,
}

/// A pooled metric with a clear direction.
#[derive(Debug, Clone, Copy)]
enum Metric {
    R,
    Jaccard(usize),
    Energy,
    Mae,
    SystemaR,
    SystemaRTop20,
    DeOverlap,
    DeTop20Mse,
    DeTop20Sign,
    DiscriminationL1,
    PerturbenchRank,
    CentroidAccuracy,
    EnergyR,
}

impl Metric {
    fn all() -> impl Iterator<Item = Metric> {
        std::iter::once(Metric::R)
            .chain(JACCARD_KS.into_iter().map(Metric::Jaccard))
            .chain([
                Metric::Energy,
                Metric::Mae,
                Metric::SystemaR,
                Metric::SystemaRTop20,
                Metric::DeOverlap,
                Metric::DeTop20Mse,
                Metric::DeTop20Sign,
                Metric::DiscriminationL1,
                Metric::PerturbenchRank,
                Metric::CentroidAccuracy,
                Metric::EnergyR,
            ])
    }

    /// The metric's column in `scores.csv` ([`crate::results::COLUMNS`]), also the key of a
    /// model's seed intervals.
    fn key(self) -> String {
        match self {
            Metric::R => "mean_shift_r".into(),
            Metric::Jaccard(k) => format!("jaccard_{k}"),
            Metric::Energy => "energy_distance".into(),
            Metric::Mae => "mae".into(),
            Metric::SystemaR => "systema_r".into(),
            Metric::SystemaRTop20 => "systema_r_top20".into(),
            Metric::DeOverlap => "de_overlap".into(),
            Metric::DeTop20Mse => "de_top20_mse".into(),
            Metric::DeTop20Sign => "de_top20_sign".into(),
            Metric::DiscriminationL1 => "discrimination_l1".into(),
            Metric::PerturbenchRank => "discrimination_rank".into(),
            Metric::CentroidAccuracy => "centroid_accuracy".into(),
            Metric::EnergyR => "energy_r".into(),
        }
    }

    fn name(self) -> String {
        match self {
            Metric::R => "r".into(),
            Metric::Jaccard(k) => format!("J@{k}"),
            Metric::Energy => "energy".into(),
            Metric::Mae => "MAE".into(),
            Metric::SystemaR => "Systema r".into(),
            Metric::SystemaRTop20 => "Systema r (top 20)".into(),
            Metric::DeOverlap => "DE overlap".into(),
            Metric::DeTop20Mse => "top-20 DE MSE".into(),
            Metric::DeTop20Sign => "top-20 DE sign".into(),
            Metric::DiscriminationL1 => "discrimination".into(),
            Metric::PerturbenchRank => "rank".into(),
            Metric::CentroidAccuracy => "centroid accuracy".into(),
            Metric::EnergyR => "energy r".into(),
        }
    }

    /// The pooled value, when it is a finite number.
    fn read(self, s: &ScoreSet) -> Option<f64> {
        crate::results::column(&self.key())
            .and_then(|c| (c.get)(s))
            .filter(|v| v.is_finite())
    }

    /// Lower is better for distances and errors (and PerturBench's rank); higher for
    /// correlations, overlaps and accuracies, whose best value is 1.
    fn higher_is_better(self) -> bool {
        !matches!(
            self,
            Metric::Energy | Metric::Mae | Metric::DeTop20Mse | Metric::PerturbenchRank
        )
    }

    /// The best baseline's pooled value and name (the noise ceiling is not a baseline).
    fn best_baseline(self, scores: &BTreeMap<String, Scores>) -> Option<(&String, f64)> {
        let higher = self.higher_is_better();
        scores
            .iter()
            .filter(|(name, _)| baselines::counts_as_baseline(name))
            .filter_map(|(name, s)| self.read(&s.pooled).map(|v| (name, v)))
            .max_by(|a, b| {
                let order = a.1.total_cmp(&b.1);
                if higher { order } else { order.reverse() }
            })
    }
}

/// The baseline-normalised overall score of `name`, as cell-eval computes the Virtual Cell
/// Challenge's (Roohani et al., Cell 2025): on each pooled metric above, against the best
/// baseline b on that metric, a model value m scores
///
/// - lower is better (energy, MAE, top-20 DE MSE, PerturBench rank): 1 − m/b,
/// - higher is better (the correlations, overlaps and accuracies, at most 1): (m − b)/(1 − b),
///
/// clipped below at 0, so 0 is "no better than the best baseline" and 1 is perfect; the score
/// is the mean over the metrics. A metric no baseline has, or whose best baseline is already
/// perfect (b = 0, resp. b = 1), is left out; a metric the baselines have but `name` does not
/// counts 0. Err with the reason when no metric is left.
pub fn normalised_score(scores: &BTreeMap<String, Scores>, name: &str) -> Result<f64, String> {
    let mine = &scores
        .get(name)
        .ok_or_else(|| format!("no scores of `{name}`"))?
        .pooled;
    let mut parts = Vec::new();
    for metric in Metric::all() {
        let Some((_, b)) = metric.best_baseline(scores) else {
            continue;
        };
        let m = metric.read(mine);
        let part = if metric.higher_is_better() {
            if b >= 1.0 {
                continue;
            }
            m.map_or(0.0, |m| (m - b) / (1.0 - b))
        } else {
            if b <= 0.0 {
                continue;
            }
            m.map_or(0.0, |m| 1.0 - m / b)
        };
        parts.push(part.max(0.0));
    }
    if parts.is_empty() {
        return Err("no metric has a baseline value with room for improvement".into());
    }
    Ok(parts.iter().sum::<f64>() / parts.len() as f64)
}

fn fmt(v: f64) -> String {
    format!("{v:.3}")
}

/// The verdict on `model` in `results` (None when the model has no pooled scores). With several
/// seeds, a metric is won only when the seeds' 95% interval lies wholly on the better side of
/// the best baseline, lost when it lies wholly on the worse side, and undecided otherwise.
pub fn verdict(results: &RunResults, model: &str) -> Option<Verdict> {
    let scores = results.scores.get(model)?;
    let mine = &scores.pooled;
    let mut out = Vec::new();
    for metric in Metric::all() {
        let higher = metric.higher_is_better();
        let Some(value) = metric.read(mine) else {
            continue;
        };
        if let Some((name, b)) = metric.best_baseline(&results.scores) {
            let interval = scores
                .seeds
                .as_ref()
                .and_then(|s| s.intervals.get(&metric.key()))
                .map(|i| [i.low, i.high]);
            let (lo, hi) = interval.map_or((value, value), |[lo, hi]| (lo, hi));
            let beats = if higher { lo > b } else { hi < b };
            let loses = if higher { hi < b } else { lo > b };
            out.push(MetricVerdict {
                metric: metric.name(),
                model: value,
                baseline: name.clone(),
                baseline_value: b,
                beats,
                interval,
                undecided: interval.is_some() && !beats && !loses,
            });
        }
    }
    if out.is_empty() {
        return None;
    }
    let part = |v: &MetricVerdict| {
        let value = match v.interval {
            Some([lo, hi]) => format!("{} [{}, {}]", fmt(v.model), fmt(lo), fmt(hi)),
            None => fmt(v.model),
        };
        format!(
            "{}: {value} vs {} for {}",
            v.metric,
            fmt(v.baseline_value),
            baselines::label(&v.baseline)
        )
    };
    let won: Vec<&MetricVerdict> = out.iter().filter(|v| v.beats).collect();
    let open: Vec<&MetricVerdict> = out.iter().filter(|v| v.undecided).collect();
    let lost: Vec<&MetricVerdict> = out.iter().filter(|v| !v.beats && !v.undecided).collect();
    let list = |vs: &[&MetricVerdict]| vs.iter().map(|v| part(v)).collect::<Vec<_>>().join("; ");
    let mut sentence = match (won.is_empty(), lost.is_empty()) {
        (true, true) => format!("{model} beats no baseline"),
        (true, false) => format!("{model} beats no baseline: {}", list(&lost)),
        (false, true) if open.is_empty() => format!(
            "{model} beats the best baseline on every metric: {}",
            list(&won)
        ),
        (false, true) => format!("{model} beats the best baseline on {}", list(&won)),
        (false, false) => format!(
            "{model} does not beat the best baseline on {}; it does on {}",
            list(&lost),
            list(&won)
        ),
    };
    if !open.is_empty() {
        sentence += &format!(
            "; its seeds cannot tell it apart from the best baseline on {}",
            list(&open)
        );
    }
    if let Some(s) = &scores.seeds {
        sentence += &format!(
            " (means over {} seeds, 95% intervals in brackets)",
            s.runs.len()
        );
    }
    Some(Verdict {
        model: model.to_string(),
        metrics: out,
        sentence,
    })
}
