//! Host-side evaluation metrics: correlations, top-gene overlap, PCA, energy distance and
//! treatment effects. Everything accumulates in f64 regardless of the f32 storage in `Matrix`,
//! so scores do not drift with the number of cells.

use crate::matrix::Matrix;

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

/// Principal components of a cell set, used to compare distributions in a low-dimensional
/// space that is shared between truth and prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    pub mean: Vec<f64>,
    /// `[n_components][cols]`, unit norm, ordered by decreasing explained variance.
    pub components: Vec<Vec<f64>>,
    pub explained_variance: Vec<f64>,
    /// Explained variance over the total variance (trace of the covariance).
    pub explained_variance_ratio: Vec<f64>,
}

impl Pca {
    /// Fit on rows of `data` (centered, covariance with n-1 denominator). Each component's
    /// sign is fixed so its largest-|.| loading is positive (lower index wins a tie), so
    /// refits on the same data give identical axes. n_components is clipped to
    /// min(rows-1, cols). The covariance is diagonalised exactly (Householder
    /// tridiagonalisation and implicit QL), which stays well under a second for a few hundred
    /// genes.
    pub fn fit(data: &Matrix, n_components: usize) -> Pca {
        let mean = data.col_means();
        let n = data.cols;
        let k = n_components.min(data.rows.saturating_sub(1)).min(n);
        if k == 0 {
            return Pca {
                mean,
                components: Vec::new(),
                explained_variance: Vec::new(),
                explained_variance_ratio: Vec::new(),
            };
        }
        let cov = covariance(data, &mean);
        let total: f64 = (0..n).map(|j| cov[j * n + j]).sum();
        let (values, vectors) = symmetric_eigen(cov, n);

        // `values` ascending; take the top k, largest first. Equal eigenvalues keep the
        // lower original position first.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| values[j].total_cmp(&values[i]).then(i.cmp(&j)));
        let mut components = Vec::with_capacity(k);
        let mut explained_variance = Vec::with_capacity(k);
        for &idx in order.iter().take(k) {
            let mut v = vectors[idx * n..(idx + 1) * n].to_vec();
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 0.0 {
                v.iter_mut().for_each(|x| *x /= norm);
            }
            let mut pivot = 0;
            for (j, x) in v.iter().enumerate() {
                if x.abs() > v[pivot].abs() {
                    pivot = j;
                }
            }
            if v[pivot] < 0.0 {
                v.iter_mut().for_each(|x| *x = -*x);
            }
            components.push(v);
            // Rounding can leave a zero eigenvalue slightly negative.
            explained_variance.push(values[idx].max(0.0));
        }
        let explained_variance_ratio = explained_variance
            .iter()
            .map(|&v| {
                if total > 0.0 {
                    (v / total).min(1.0)
                } else {
                    0.0
                }
            })
            .collect();
        Pca {
            mean,
            components,
            explained_variance,
            explained_variance_ratio,
        }
    }

    /// Project rows: (x - mean) · components^T → [rows, n_components].
    pub fn transform(&self, data: &Matrix) -> Matrix {
        assert_eq!(
            data.cols,
            self.mean.len(),
            "data width does not match the fitted PCA"
        );
        let k = self.components.len();
        let mut out = Matrix::zeros(data.rows, k);
        let mut centered = vec![0.0f64; data.cols];
        for i in 0..data.rows {
            for ((c, &x), m) in centered.iter_mut().zip(data.row(i)).zip(&self.mean) {
                *c = x as f64 - m;
            }
            for (o, comp) in out.row_mut(i).iter_mut().zip(&self.components) {
                *o = centered.iter().zip(comp).map(|(a, b)| a * b).sum::<f64>() as f32;
            }
        }
        out
    }
}

/// Sample covariance (n-1 denominator), row-major `cols × cols`.
fn covariance(data: &Matrix, mean: &[f64]) -> Vec<f64> {
    let n = data.cols;
    let mut cov = vec![0.0f64; n * n];
    let mut x = vec![0.0f64; n];
    for i in 0..data.rows {
        for ((c, &v), m) in x.iter_mut().zip(data.row(i)).zip(mean) {
            *c = v as f64 - m;
        }
        // Upper triangle only; mirrored below.
        for j in 0..n {
            let xj = x[j];
            if xj == 0.0 {
                continue;
            }
            for (c, &xk) in cov[j * n + j..(j + 1) * n].iter_mut().zip(&x[j..]) {
                *c += xj * xk;
            }
        }
    }
    let denom = (data.rows.max(2) - 1) as f64;
    for j in 0..n {
        for k in j..n {
            let v = cov[j * n + k] / denom;
            cov[j * n + k] = v;
            cov[k * n + j] = v;
        }
    }
    cov
}

/// Eigen-decomposition of the symmetric row-major `n × n` matrix `a`: returns the eigenvalues
/// and the eigenvectors stored as rows (vector `i` at `[i*n..(i+1)*n]`), in matching order.
/// Householder reduction to tridiagonal form followed by the implicit QL method with Wilkinson
/// shifts (the classic tred2/tql2 pair from EISPACK).
fn symmetric_eigen(mut v: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut d = vec![0.0f64; n];
    let mut e = vec![0.0f64; n];
    tridiagonalize(&mut v, &mut d, &mut e, n);
    // The QL sweeps rotate pairs of eigenvector columns; holding them as rows keeps those
    // updates contiguous in memory.
    let mut w = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            w[j * n + i] = v[i * n + j];
        }
    }
    tridiagonal_ql(&mut w, &mut d, &mut e, n);
    (d, w)
}

/// Householder tridiagonalisation. On return `v` holds the accumulated orthogonal transform
/// (columns), `d` the diagonal and `e[1..]` the sub-diagonal.
fn tridiagonalize(v: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    let at = |i: usize, j: usize| i * n + j;
    d.copy_from_slice(&v[at(n - 1, 0)..at(n - 1, 0) + n]);
    for i in (1..n).rev() {
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0f64;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[at(i - 1, j)];
                v[at(i, j)] = 0.0;
                v[at(j, i)] = 0.0;
            }
        } else {
            for x in &mut d[..i] {
                *x /= scale;
                h += *x * *x;
            }
            let mut f = d[i - 1];
            let mut g = h.sqrt();
            if f > 0.0 {
                g = -g;
            }
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            e[..i].iter_mut().for_each(|x| *x = 0.0);
            for j in 0..i {
                f = d[j];
                v[at(j, i)] = f;
                g = e[j] + v[at(j, j)] * f;
                for k in j + 1..i {
                    let vkj = v[at(k, j)];
                    g += vkj * d[k];
                    e[k] += vkj * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                f = d[j];
                g = e[j];
                for k in j..i {
                    v[at(k, j)] -= f * e[k] + g * d[k];
                }
                d[j] = v[at(i - 1, j)];
                v[at(i, j)] = 0.0;
            }
        }
        d[i] = h;
    }
    // Accumulate the transformations.
    let mut col = vec![0.0f64; n];
    for i in 0..n - 1 {
        v[at(n - 1, i)] = v[at(i, i)];
        v[at(i, i)] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                col[k] = v[at(k, i + 1)];
                d[k] = col[k] / h;
            }
            // g_j = Σ_k col_k v[k][j], computed row by row for contiguous access.
            let mut g = vec![0.0f64; i + 1];
            for (k, &ck) in col[..=i].iter().enumerate() {
                for (gj, &vkj) in g.iter_mut().zip(&v[at(k, 0)..at(k, 0) + i + 1]) {
                    *gj += ck * vkj;
                }
            }
            for (k, &dk) in d[..=i].iter().enumerate() {
                for (vkj, &gj) in v[at(k, 0)..at(k, 0) + i + 1].iter_mut().zip(&g) {
                    *vkj -= gj * dk;
                }
            }
        }
        for k in 0..=i {
            v[at(k, i + 1)] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[at(n - 1, j)];
        v[at(n - 1, j)] = 0.0;
    }
    v[at(n - 1, n - 1)] = 1.0;
    e[0] = 0.0;
}

/// Implicit QL on the tridiagonal (`d`, `e`); `w` holds eigenvectors as rows and is rotated
/// along. On return `d` holds the eigenvalues.
fn tridiagonal_ql(w: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    const MAX_ITER: usize = 64;
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0f64;
    let mut tst1 = 0.0f64;
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        // e[n-1] is 0, so this stops at n-1 at the latest (even with NaN around).
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            let mut iter = 0;
            loop {
                iter += 1;
                let mut g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for x in &mut d[l + 2..n] {
                    *x -= h;
                }
                f += h;

                p = d[m];
                let mut c = 1.0f64;
                let mut c2 = c;
                let mut c3 = c;
                let el1 = e[l + 1];
                let mut s = 0.0f64;
                let mut s2 = 0.0f64;
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    let (lo, hi) = w.split_at_mut((i + 1) * n);
                    let wi = &mut lo[i * n..];
                    let wi1 = &mut hi[..n];
                    for (a, b) in wi.iter_mut().zip(wi1.iter_mut()) {
                        let t = *b;
                        *b = s * *a + c * t;
                        *a = c * *a - s * t;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 || iter >= MAX_ITER {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
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
