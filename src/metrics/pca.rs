//! Principal component analysis of a cell set.

use super::eigen::symmetric_eigen;
use crate::matrix::Matrix;

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
