//! One predictor's scores per condition and pooled over conditions, including the metrics
//! that compare a condition's prediction with the other held-out conditions (discrimination)
//! and those defined only across conditions (the energy-distance correlation).

use std::collections::BTreeMap;

use super::predict::Row;
use super::truth::Prediction;
use crate::metrics;
use crate::results::{JACCARD_KS, ScoreSet, Scores};

/// Conditions with a prediction below which the energy-distance correlation is undefined
/// (two points always correlate perfectly).
const ENERGY_R_MIN_CONDITIONS: usize = 3;

/// A metric's per-condition values, averaged when pooled.
#[derive(Default)]
struct Mean {
    values: Vec<f64>,
    /// Conditions where it is undefined, and why.
    missing: Vec<(String, String)>,
}

impl Mean {
    /// Adds one condition's value, and the reason to that condition's notes when undefined.
    fn add(
        &mut self,
        label: &str,
        v: Result<f64, String>,
        key: &str,
        notes: &mut BTreeMap<String, String>,
    ) -> Option<f64> {
        match v {
            Ok(x) => {
                self.values.push(x);
                Some(x)
            }
            Err(why) => {
                notes.insert(key.to_string(), why.clone());
                self.missing.push((label.to_string(), why));
                None
            }
        }
    }

    /// The mean over the conditions where it is defined; the note says what it leaves out.
    fn pooled(&self, key: &str, notes: &mut BTreeMap<String, String>) -> Option<f64> {
        if self.values.is_empty() {
            if let Some((_, why)) = self.missing.first() {
                notes.insert(key.to_string(), why.clone());
            }
            return None;
        }
        if !self.missing.is_empty() {
            let left: Vec<String> = self.missing.iter().map(|(l, _)| format!("`{l}`")).collect();
            notes.insert(
                key.to_string(),
                format!(
                    "mean over the {} of {} conditions where it is defined; without {} ({})",
                    self.values.len(),
                    self.values.len() + self.missing.len(),
                    left.join(", "),
                    self.missing[0].1
                ),
            );
        }
        Some(self.values.iter().sum::<f64>() / self.values.len() as f64)
    }
}

/// A predictor's conditions pooled: their shifts end to end, and the per-condition values
/// the pooled scores average.
#[derive(Default)]
pub(super) struct Pooled {
    pub(super) true_shift: Vec<f64>,
    pub(super) pred_shift: Vec<f64>,
    jaccard: BTreeMap<usize, Vec<f64>>,
    /// True once some condition's Jaccard is undefined: the pooled one then is too.
    jaccard_null: bool,
    energies: Vec<f64>,
    abs_errors: (f64, usize),
    systema_r: Mean,
    systema_r_top20: Mean,
    de_overlap: Mean,
    top20_mse: Mean,
    top20_sign: Mean,
    l1: Mean,
    rank: Mean,
    centroid: Mean,
    /// (predicted, true) energy distance to the controls, per condition where both exist.
    energy_to_control: Vec<(f64, f64)>,
}

/// An always-defined value as a result (None cannot happen for a prediction that exists).
fn defined(v: Option<f64>) -> Result<f64, String> {
    v.ok_or_else(|| "no genes to score".to_string())
}

impl Pooled {
    /// Adds one condition's prediction and returns that condition's scores.
    fn add(&mut self, label: &str, p: &Prediction, n_genes: usize) -> ScoreSet {
        self.true_shift.extend_from_slice(&p.true_shift);
        self.pred_shift.extend_from_slice(&p.pred_shift);
        if let Some(e) = p.energy {
            self.energies.push(e);
        }
        let mut jaccard = BTreeMap::new();
        for k in JACCARD_KS {
            let j = metrics::top_k_jaccard(&p.true_shift, &p.pred_shift, k.min(n_genes));
            match j {
                Some(v) => self.jaccard.entry(k).or_default().push(v),
                None => self.jaccard_null = true,
            }
            jaccard.insert(k.to_string(), j);
        }
        for (t, q) in p.true_shift.iter().zip(&p.pred_shift) {
            self.abs_errors.0 += (t - q).abs();
            self.abs_errors.1 += 1;
        }
        if let (Some(pred), Some(truth)) = p.energy_to_control {
            self.energy_to_control.push((pred, truth));
        }
        let mut set = ScoreSet {
            mean_shift_r: metrics::pearson(&p.true_shift, &p.pred_shift),
            jaccard,
            energy_distance: p.energy,
            mae: p.mae,
            ..Default::default()
        };
        let notes = &mut set.notes;
        set.systema.r = self
            .systema_r
            .add(label, p.systema_r.clone(), "systema.r", notes);
        set.systema.r_top20 =
            self.systema_r_top20
                .add(label, p.systema_r_top20.clone(), "systema.r_top20", notes);
        set.de.overlap = self
            .de_overlap
            .add(label, p.de_overlap.clone(), "de.overlap", notes);
        set.de.top20_mse = self
            .top20_mse
            .add(label, defined(p.top20_mse), "de.top20_mse", notes);
        set.de.top20_sign =
            self.top20_sign
                .add(label, defined(p.top20_sign), "de.top20_sign", notes);
        set
    }

    /// The scores over every condition added; `defined` conditions had a prediction.
    fn scores(&self, defined: usize) -> ScoreSet {
        let energies = &self.energies;
        let mut set = ScoreSet {
            mean_shift_r: metrics::pearson(&self.true_shift, &self.pred_shift),
            jaccard: JACCARD_KS
                .iter()
                .map(|k| {
                    let v = self
                        .jaccard
                        .get(k)
                        .filter(|v| !v.is_empty() && !self.jaccard_null)
                        .map(|v| v.iter().sum::<f64>() / v.len() as f64);
                    (k.to_string(), v)
                })
                .collect(),
            energy_distance: (!energies.is_empty())
                .then(|| energies.iter().sum::<f64>() / energies.len() as f64),
            undefined: (defined == 0).then(|| "no held-out condition can be predicted".to_string()),
            ..Default::default()
        };
        if defined == 0 {
            return set;
        }
        set.mae = (self.abs_errors.1 > 0).then(|| self.abs_errors.0 / self.abs_errors.1 as f64);
        let notes = &mut set.notes;
        set.systema.r = self.systema_r.pooled("systema.r", notes);
        set.systema.r_top20 = self.systema_r_top20.pooled("systema.r_top20", notes);
        set.de.overlap = self.de_overlap.pooled("de.overlap", notes);
        set.de.top20_mse = self.top20_mse.pooled("de.top20_mse", notes);
        set.de.top20_sign = self.top20_sign.pooled("de.top20_sign", notes);
        set.discrimination.l1 = self.l1.pooled("discrimination.l1", notes);
        set.discrimination.rank = self.rank.pooled("discrimination.rank", notes);
        set.discrimination.centroid = self.centroid.pooled("discrimination.centroid", notes);
        let n = self.energy_to_control.len();
        set.energy_r = if n < ENERGY_R_MIN_CONDITIONS {
            notes.insert(
                "energy_r".into(),
                format!(
                    "needs at least {ENERGY_R_MIN_CONDITIONS} held-out conditions with a prediction ({n} here)"
                ),
            );
            None
        } else {
            let (pred, truth): (Vec<f64>, Vec<f64>) =
                self.energy_to_control.iter().copied().unzip();
            let r = metrics::pearson(&pred, &truth);
            if r.is_none() {
                notes.insert(
                    "energy_r".into(),
                    "the energy distances to the controls do not vary across conditions".into(),
                );
            }
            r
        };
        set
    }

    /// Discrimination of each predicted condition among all held-out conditions (`rows`,
    /// whose true profiles are the candidates), written into its condition's scores.
    fn discriminate(&mut self, rows: &[Row], sets: &mut BTreeMap<String, ScoreSet>) {
        let truths: Vec<Vec<f64>> = rows.iter().map(|r| r.truth_profile.clone()).collect();
        let predicted: Vec<(usize, &Prediction)> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.pred.as_ref().ok().map(|p| (i, p)))
            .collect();
        let pred_shifts: Vec<Vec<f64>> = predicted
            .iter()
            .map(|(_, p)| p.pred_shift.clone())
            .collect();
        let too_few = |n: usize| format!("needs at least 2 held-out conditions ({n} here)");
        for (pos, &(i, p)) in predicted.iter().enumerate() {
            let label = &rows[i].label;
            let Some(set) = sets.get_mut(label) else {
                continue;
            };
            let notes = &mut set.notes;
            let l1 = metrics::discrimination_l1(&p.pred_profile, &truths, i)
                .ok_or_else(|| too_few(truths.len()));
            set.discrimination.l1 = self.l1.add(label, l1, "discrimination.l1", notes);
            let centroid = metrics::centroid_accuracy(&p.pred_profile, &truths, i)
                .ok_or_else(|| too_few(truths.len()));
            set.discrimination.centroid =
                self.centroid
                    .add(label, centroid, "discrimination.centroid", notes);
            let rank =
                metrics::perturbench_rank(&pred_shifts, &p.true_shift, pos).ok_or_else(|| {
                    if pred_shifts.len() < 2 {
                        format!(
                            "needs predictions of at least 2 held-out conditions ({} here)",
                            pred_shifts.len()
                        )
                    } else {
                        "the predicted shift is zero: its cosine similarity is undefined"
                            .to_string()
                    }
                });
            set.discrimination.rank = self.rank.add(label, rank, "discrimination.rank", notes);
        }
    }
}

/// One predictor's scores per condition and pooled, and its pooled shifts.
pub(super) fn score_rows(rows: &[Row], n_genes: usize) -> (Scores, Pooled) {
    let mut s = Scores::default();
    let mut pool = Pooled::default();
    for row in rows {
        let set = match &row.pred {
            Ok(p) => pool.add(&row.label, p, n_genes),
            Err(why) => ScoreSet {
                jaccard: JACCARD_KS.iter().map(|k| (k.to_string(), None)).collect(),
                undefined: Some(why.clone()),
                ..Default::default()
            },
        };
        s.conditions.insert(row.label.clone(), set);
    }
    pool.discriminate(rows, &mut s.conditions);
    let defined = rows.iter().filter(|r| r.pred.is_ok()).count();
    s.pooled = pool.scores(defined);
    (s, pool)
}
