//! Correlations and top-gene overlap between per-gene vectors.

/// Relative spread below which a vector counts as constant: a correlation computed from
/// rounding noise alone would be meaningless.
const ZERO_SPREAD: f64 = 1e-12;

/// Pearson correlation; None when either side has (numerically) zero variance or fewer than
/// 2 points or lengths differ — an undefined correlation is reported as null, never as 0.
/// Non-finite inputs also give None.
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    let n = a.len() as f64;
    let mean_a = a.iter().sum::<f64>() / n;
    let mean_b = b.iter().sum::<f64>() / n;
    let (mut saa, mut sbb, mut sab) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let dx = x - mean_a;
        let dy = y - mean_b;
        saa += dx * dx;
        sbb += dy * dy;
        sab += dx * dy;
    }
    if !has_spread(a, saa) || !has_spread(b, sbb) {
        return None;
    }
    let r = sab / (saa.sqrt() * sbb.sqrt());
    r.is_finite().then(|| r.clamp(-1.0, 1.0))
}

/// Whether the sum of squared deviations `ss` is more than rounding noise for values of
/// this magnitude (a constant vector's mean is not exact, so `ss` is rarely exactly 0).
fn has_spread(v: &[f64], ss: f64) -> bool {
    let max_abs = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let sd = (ss / v.len() as f64).sqrt();
    sd > ZERO_SPREAD * max_abs
}

/// Spearman rank correlation (average ranks for ties, so tied genes neither gain nor lose
/// rank by their position); None as for [`pearson`], and also when an input is NaN, which
/// has no rank.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 2 || a.iter().chain(b).any(|x| x.is_nan()) {
        return None;
    }
    pearson(&average_ranks(a), &average_ranks(b))
}

/// 1-based ranks; tied values share the mean of the ranks they span.
fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&i, &j| v[i].total_cmp(&v[j]).then(i.cmp(&j)));
    let mut ranks = vec![0.0f64; v.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        // `==` rather than total_cmp so that -0.0 and 0.0 tie.
        while end < order.len() && v[order[end]] == v[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1..=end; their mean is (start+1+end)/2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Indices of the k entries with largest |v|, ties broken by lower index so that repeated
/// evaluations pick the same genes. k is clipped to the length; NaN ranks below every number.
pub fn top_k_abs(v: &[f64], k: usize) -> Vec<usize> {
    let key = |i: usize| {
        let a = v[i].abs();
        if a.is_nan() { -1.0 } else { a }
    };
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&i, &j| key(j).total_cmp(&key(i)).then(i.cmp(&j)));
    order.truncate(k.min(v.len()));
    order
}

/// Jaccard index |T∩P|/|T∪P| of the top-k genes by |shift| in truth vs prediction; k clipped
/// to the number of genes. None when the prediction has no non-zero shift at all (a
/// no-change predictor has no top genes, and ranking its zeros by index would score chance
/// overlap), when k == 0, or when the lengths differ.
pub fn top_k_jaccard(true_shift: &[f64], pred_shift: &[f64], k: usize) -> Option<f64> {
    if true_shift.len() != pred_shift.len() {
        return None;
    }
    let k = k.min(true_shift.len());
    if k == 0 || !pred_shift.iter().any(|&x| x != 0.0 && !x.is_nan()) {
        return None;
    }
    let mut in_truth = vec![false; true_shift.len()];
    for i in top_k_abs(true_shift, k) {
        in_truth[i] = true;
    }
    let shared = top_k_abs(pred_shift, k)
        .into_iter()
        .filter(|&i| in_truth[i])
        .count();
    // Both sets have exactly k members.
    let union = 2 * k - shared;
    Some(shared as f64 / union as f64)
}
