//! Whether a prediction singles out its own condition among all held-out conditions: three
//! published forms of the same question, and the mean absolute error of a profile.

/// Σ |a − b|.
fn l1(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

/// √Σ (a − b)².
fn l2(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Cosine similarity; None when either vector is zero (or not finite).
fn cosine(a: &[f64], b: &[f64]) -> Option<f64> {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    let c = dot / (na * nb);
    (na > 0.0 && nb > 0.0 && c.is_finite()).then_some(c)
}

/// Mean absolute error of a predicted against a true profile (the Virtual Cell Challenge's
/// MAE of pseudobulk expression, Roohani et al., Cell 2025). None for empty or unequal inputs.
pub fn mean_absolute_error(truth: &[f64], pred: &[f64]) -> Option<f64> {
    (truth.len() == pred.len() && !truth.is_empty()).then(|| l1(truth, pred) / truth.len() as f64)
}

/// The number of `others` strictly closer than `own`, plus half of those exactly as close
/// (ties are shared rather than decided by position).
fn rank_among(
    own: f64,
    others: impl Iterator<Item = f64>,
    closer: impl Fn(f64, f64) -> bool,
) -> f64 {
    others
        .map(|d| {
            if closer(d, own) {
                1.0
            } else if d == own {
                0.5
            } else {
                0.0
            }
        })
        .sum()
}

/// The Virtual Cell Challenge's perturbation discrimination score with the L1 distance
/// (Roohani et al., Cell 2025; cell-eval's `discrimination_score_l1`): the true profiles of
/// all N held-out conditions (`truths`) are ranked by L1 distance to the predicted profile of
/// condition `own`; with rank the number of other conditions closer than the right one (ties
/// count half), the score is 1 − rank/N: 1 when the right one is closest, and (N+1)/(2N) on
/// average for a prediction that carries no information about the condition. None with fewer
/// than 2 conditions.
pub fn discrimination_l1(pred: &[f64], truths: &[Vec<f64>], own: usize) -> Option<f64> {
    let n = truths.len();
    if n < 2 || own >= n {
        return None;
    }
    let d_own = l1(pred, &truths[own]);
    let others = (0..n).filter(|&k| k != own).map(|k| l1(pred, &truths[k]));
    let rank = rank_among(d_own, others, |d, o| d < o);
    Some(1.0 - rank / n as f64)
}

/// Systema's centroid accuracy (Viñas Torné et al., Nature Biotechnology 2025; its
/// `centroid_accuracy.py`): the fraction of the other N − 1 true condition profiles that lie
/// strictly farther (Euclidean distance) from the predicted profile of condition `own` than
/// its own true profile. 1 is best; 0.5 on average for an uninformative prediction. None with
/// fewer than 2 conditions.
pub fn centroid_accuracy(pred: &[f64], truths: &[Vec<f64>], own: usize) -> Option<f64> {
    let n = truths.len();
    if n < 2 || own >= n {
        return None;
    }
    let d_own = l2(pred, &truths[own]);
    let farther = (0..n)
        .filter(|&k| k != own && l2(pred, &truths[k]) > d_own)
        .count();
    Some(farther as f64 / (n - 1) as f64)
}

/// PerturBench's rank metric (Wu et al., NeurIPS 2025 Datasets and Benchmarks; its
/// `rank_helper` on cosine similarities of log fold changes): for the true shift of condition
/// `own`, the predicted shifts of all N conditions (`preds`) are ordered by cosine similarity to
/// it, and the metric is the position of its own prediction divided by N — 0 when its own is
/// the most similar, about 0.5 at random. Ties, which PerturBench breaks by shuffling, count
/// half. None with fewer than 2 predictions or when its own prediction's similarity is
/// undefined (a zero shift); another prediction with a zero shift ranks below every number.
pub fn perturbench_rank(preds: &[Vec<f64>], true_shift: &[f64], own: usize) -> Option<f64> {
    let n = preds.len();
    if n < 2 || own >= n {
        return None;
    }
    let s_own = cosine(&preds[own], true_shift)?;
    let others = (0..n)
        .filter(|&k| k != own)
        .map(|k| cosine(&preds[k], true_shift).unwrap_or(f64::NEG_INFINITY));
    Some(rank_among(s_own, others, |s, o| s > o) / n as f64)
}
