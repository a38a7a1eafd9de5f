//! Replicate runs of one model on one split (the `seeds` setting): each metric's mean over the
//! seeds and a 95% confidence interval of that mean, Student's t with N − 1 degrees of freedom
//! (x̄ ± t₀.₉₇₅,N−1 · s/√N). A deep model's scores move with its seed; one lucky seed must not
//! read as a win, so the verdict says "beats" only when the interval excludes the baseline.
//!
//! The replicates share the split, the matched controls and the ceiling's halves (the data
//! seed); each draws its own weights, batches and generated cells (the model seed, `seed + k`).
//! The baselines and the ceiling do not depend on the model seed, so they are scored once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::results::{COLUMNS, RunResults, ScoreSet, Scores};

/// The confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// t₀.₉₇₅ for 1 ..= 19 degrees of freedom (scipy.stats.t.ppf(0.975, df), to 10 digits): as many
/// as the `seeds` setting allows.
const T975: [f64; 19] = [
    12.7062047362,
    4.3026527297,
    3.1824463053,
    2.7764451052,
    2.5705818356,
    2.4469118511,
    2.3646242516,
    2.3060041352,
    2.2621571628,
    2.228138852,
    2.2009851601,
    2.1788128297,
    2.1603686565,
    2.1447866879,
    2.1314495456,
    2.1199052992,
    2.1098155778,
    2.1009220402,
    2.0930240544,
];

/// The two-sided 95% quantile of Student's t with `df` degrees of freedom (None for 0): the
/// table, then the Cornish–Fisher expansion around the normal quantile (Abramowitz & Stegun
/// 26.7.5), within 1e-4 from 20 degrees of freedom on.
pub fn t975(df: usize) -> Option<f64> {
    match df {
        0 => None,
        d if d <= T975.len() => Some(T975[d - 1]),
        d => {
            let (z, v) = (1.959963984540054_f64, d as f64);
            Some(
                z + (z.powi(3) + z) / (4.0 * v)
                    + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
                    + (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z)
                        / (384.0 * v.powi(3)),
            )
        }
    }
}

/// A metric's mean over the seeds that have it, and the 95% interval of that mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub mean: f64,
    /// Sample standard deviation over the seeds (N − 1 in the denominator).
    pub sd: f64,
    pub low: f64,
    pub high: f64,
    /// Seeds with a value.
    pub n: usize,
}

impl Interval {
    /// The interval of `values` (finite ones); None with fewer than two.
    pub fn of(values: &[f64]) -> Option<Interval> {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let n = v.len();
        let t = t975(n.checked_sub(1)?)?;
        let mean = v.iter().sum::<f64>() / n as f64;
        let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        let half = t * sd / (n as f64).sqrt();
        Some(Interval {
            mean,
            sd,
            low: mean - half,
            high: mean + half,
            n,
        })
    }

    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// One replicate: its model seed, how its training went and its pooled values, keyed as the
/// columns of `scores.csv` (plus `iwelbo`, `ate_r`, `ate_r_top20`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedRun {
    pub seed: u64,
    pub epochs: usize,
    pub best_epoch: usize,
    pub seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<String>,
    pub values: BTreeMap<String, Option<f64>>,
}

/// A model's `seeds` in `results.json`: present when the model was trained with more than one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedSummary {
    /// The split's seed, the same for every replicate.
    pub split_seed: u64,
    pub level: f64,
    pub runs: Vec<SeedRun>,
    /// Per pooled metric, keyed as in `runs`: the model's row on the scoreboard is `mean`.
    pub intervals: BTreeMap<String, Interval>,
    /// Why a metric has no interval (defined for fewer than two seeds), or what its mean
    /// leaves out (seeds where it is undefined).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notes: BTreeMap<String, String>,
}

#[derive(Debug, Error, PartialEq)]
pub enum SeedsError {
    #[error("no runs to combine")]
    Empty,
    #[error("run {index} is not a replicate of the first: its {what} differs")]
    Mismatch { index: usize, what: &'static str },
    #[error("replicate {0} appears twice")]
    Duplicate(usize),
    #[error("the runs have no scores of their model `{0}`")]
    NoModel(String),
}

/// A model's pooled values, keyed as in [`SeedRun::values`].
pub fn pooled_values(s: &Scores) -> BTreeMap<String, Option<f64>> {
    let mut out: BTreeMap<String, Option<f64>> = COLUMNS
        .iter()
        .map(|c| (c.key.to_string(), (c.get)(&s.pooled)))
        .collect();
    out.insert("iwelbo".into(), s.iwelbo);
    out.insert("ate_r".into(), s.ate.as_ref().and_then(|a| a.r));
    out.insert("ate_r_top20".into(), s.ate.as_ref().and_then(|a| a.r_top20));
    out
}

/// The mean of each metric over the sets that define it; the first set gives everything else
/// (its notes, why a prediction is undefined).
fn mean_set(sets: &[&ScoreSet]) -> ScoreSet {
    let mut out = sets.first().map(|s| (*s).clone()).unwrap_or_default();
    for c in &COLUMNS {
        (c.set)(&mut out, mean(sets.iter().filter_map(|s| (c.get)(s))));
    }
    out
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The results of replicates 0 … N − 1 of one run as one: the model's row holds each metric's
/// mean over the seeds (pooled and per condition), `seeds` holds every seed's pooled values and
/// the intervals. Training history and figures are the first seed's. One run comes back as it
/// is.
pub fn combine(mut runs: Vec<RunResults>) -> Result<RunResults, SeedsError> {
    runs.sort_by_key(|r| r.config.replicate());
    let first = runs.first().ok_or(SeedsError::Empty)?;
    for (index, r) in runs.iter().enumerate().skip(1) {
        if r.config.replicate() == runs[index - 1].config.replicate() {
            return Err(SeedsError::Duplicate(r.config.replicate()));
        }
        let what = if r.config.settings() != first.config.settings()
            || r.config.holdout() != first.config.holdout()
        {
            Some("configuration")
        } else if r.data.sha256 != first.data.sha256 || r.data.cells != first.data.cells {
            Some("data")
        } else if r.split.test_conditions != first.split.test_conditions
            || r.split.test_cells != first.split.test_cells
            || r.split.train_cells != first.split.train_cells
        {
            Some("split")
        } else {
            None
        };
        if let Some(what) = what {
            return Err(SeedsError::Mismatch { index, what });
        }
    }
    let model = first.model().name().to_string();
    let all: Vec<&Scores> = runs
        .iter()
        .map(|r| r.scores.get(&model))
        .collect::<Option<_>>()
        .ok_or_else(|| SeedsError::NoModel(model.clone()))?;
    if runs.len() == 1 {
        return Ok(runs.remove(0));
    }
    let n = runs.len();
    let seed_runs: Vec<SeedRun> = runs
        .iter()
        .zip(&all)
        .map(|(r, s)| SeedRun {
            seed: r.config.model_seed(),
            epochs: r.train.epochs,
            best_epoch: r.train.best_epoch,
            seconds: r.train.seconds,
            diverged: r.train.diverged.clone(),
            values: pooled_values(s),
        })
        .collect();
    let mut intervals = BTreeMap::new();
    let mut notes = BTreeMap::new();
    for key in seed_runs[0].values.keys() {
        let values: Vec<f64> = seed_runs
            .iter()
            .filter_map(|r| r.values.get(key).copied().flatten())
            .filter(|v| v.is_finite())
            .collect();
        match Interval::of(&values) {
            Some(i) => {
                if i.n < n {
                    notes.insert(key.clone(), format!("defined for {} of {n} seeds", i.n));
                }
                intervals.insert(key.clone(), i);
            }
            None if values.is_empty() => {}
            None => {
                notes.insert(
                    key.clone(),
                    format!("defined for {} of {n} seeds: no interval", values.len()),
                );
            }
        }
    }

    let mut out = runs[0].clone();
    let mut scores = all[0].clone();
    scores.seeds = Some(SeedSummary {
        split_seed: runs[0].config.seed(),
        level: LEVEL,
        runs: seed_runs,
        intervals,
        notes,
    });
    scores.pooled = mean_set(&all.iter().map(|s| &s.pooled).collect::<Vec<_>>());
    for (cond, set) in scores.conditions.iter_mut() {
        let sets: Vec<&ScoreSet> = all.iter().filter_map(|s| s.conditions.get(cond)).collect();
        *set = mean_set(&sets);
    }
    scores.iwelbo = mean(all.iter().filter_map(|s| s.iwelbo));
    if let Some(ate) = scores.ate.as_mut() {
        ate.r = mean(all.iter().filter_map(|s| s.ate.as_ref().and_then(|a| a.r)));
        ate.r_top20 = mean(
            all.iter()
                .filter_map(|s| s.ate.as_ref().and_then(|a| a.r_top20)),
        );
    }
    out.scores.insert(model, scores);
    out.config = runs[0].config.clone().with_replicate(0);
    Ok(out)
}

/// `seeds.csv`: one row per seed, then the mean and the interval's ends, one column per metric.
pub fn seeds_csv(s: &SeedSummary) -> String {
    let keys: Vec<&String> = s
        .runs
        .first()
        .map(|r| r.values.keys().collect())
        .unwrap_or_default();
    let num = |v: Option<f64>| v.map_or_else(String::new, |x| format!("{x}"));
    let mut out = String::from("row,seed,epochs");
    for k in &keys {
        out += &format!(",{k}");
    }
    out.push('\n');
    for r in &s.runs {
        out += &format!("seed,{},{}", r.seed, r.epochs);
        for k in &keys {
            out += &format!(",{}", num(r.values.get(*k).copied().flatten()));
        }
        out.push('\n');
    }
    for (row, pick) in [
        ("mean", (|i: &Interval| i.mean) as fn(&Interval) -> f64),
        ("ci95_low", |i| i.low),
        ("ci95_high", |i| i.high),
    ] {
        out += &format!("{row},,");
        for k in &keys {
            out += &format!(",{}", num(s.intervals.get(*k).map(pick)));
        }
        out.push('\n');
    }
    out
}
