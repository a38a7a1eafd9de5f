//! How far a cell set lies from a reference: mean shift, energy distance and average
//! treatment effect.

use crate::matrix::Matrix;

/// Mean shift per gene: mean(cells) - reference mean. The reference is passed as a mean
/// (not cells) so one control mean can serve every perturbation.
pub fn mean_shift(cells: &Matrix, reference_mean: &[f64]) -> Vec<f64> {
    assert_eq!(
        cells.cols,
        reference_mean.len(),
        "reference mean does not match the gene count"
    );
    cells
        .col_means()
        .iter()
        .zip(reference_mean)
        .map(|(m, r)| m - r)
        .collect()
}

/// Energy distance (Székely): 2·E|X−Y| − E|X−X'| − E|Y−Y'| with Euclidean norms, in the
/// V-statistic form (means over all pairs including i = j), so it is ≥ 0 and exactly 0 for
/// identical samples. The cost is quadratic, so a set with more than `max_points` rows is
/// replaced by the evenly spaced subsample of rows `⌊i·rows/max_points⌋`, i < max_points —
/// deterministic, and spread over the whole set rather than its head. None if either set is
/// empty (after subsampling, so also when `max_points` is 0) or the widths differ.
pub fn energy_distance(a: &Matrix, b: &Matrix, max_points: usize) -> Option<f64> {
    if a.cols != b.cols {
        return None;
    }
    let a = subsample(a, max_points);
    let b = subsample(b, max_points);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let xy = mean_pairwise_distance(&a, &b);
    let xx = mean_pairwise_distance(&a, &a);
    let yy = mean_pairwise_distance(&b, &b);
    Some((2.0 * xy - xx - yy).max(0.0))
}

/// Rows as f64 vectors, evenly subsampled down to `max_points`.
fn subsample(m: &Matrix, max_points: usize) -> Vec<Vec<f64>> {
    let to_f64 = |i: usize| m.row(i).iter().map(|&x| x as f64).collect::<Vec<f64>>();
    if m.rows <= max_points {
        (0..m.rows).map(to_f64).collect()
    } else {
        (0..max_points)
            .map(|i| to_f64(i * m.rows / max_points))
            .collect()
    }
}

/// Mean Euclidean distance over all (i, j) pairs. Every pair is visited in the same order
/// whichever sets are passed, so identical sets give bit-identical means and an exact 0.
fn mean_pairwise_distance(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    let mut total = 0.0f64;
    for x in a {
        let mut row = 0.0f64;
        for y in b {
            let sq: f64 = x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum();
            row += sq.sqrt();
        }
        total += row;
    }
    total / (a.len() as f64 * b.len() as f64)
}

/// Average treatment effect per gene on log2(1e4·x/Σx + 1)-normalised counts: mean over
/// `treated` minus mean over `control`. Normalising each cell by its own depth first keeps
/// sequencing depth from masquerading as an effect. Rows with Σx = 0 contribute zeros; an
/// empty set has a mean of zeros.
pub fn ate_log2(treated_counts: &Matrix, control_counts: &Matrix) -> Vec<f64> {
    assert_eq!(
        treated_counts.cols, control_counts.cols,
        "treated and control differ in gene count"
    );
    let t = log2_normalised_mean(treated_counts);
    let c = log2_normalised_mean(control_counts);
    t.iter().zip(&c).map(|(t, c)| t - c).collect()
}

fn log2_normalised_mean(counts: &Matrix) -> Vec<f64> {
    let mut mean = vec![0.0f64; counts.cols];
    for i in 0..counts.rows {
        let row = counts.row(i);
        let total: f64 = row.iter().map(|&x| x as f64).sum();
        if total == 0.0 {
            continue;
        }
        let scale = 1e4 / total;
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += (x as f64 * scale + 1.0).log2();
        }
    }
    if counts.rows > 0 {
        mean.iter_mut().for_each(|m| *m /= counts.rows as f64);
    }
    mean
}
