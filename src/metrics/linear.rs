//! The linear model of Ahlmann-Eltze, Huber & Anders, "Deep-learning-based gene perturbation
//! effect prediction does not yet outperform simple linear baselines" (Nature Methods 2025; the
//! `solve_y_axb` of their `run_linear_pretrained_model.R`): Y ≈ G K Pᵀ + b, with gene
//! embeddings G and perturbation embeddings P from the training data's principal components and
//! K fitted by ridge regression on both sides.

use super::eigen::symmetric_eigen;

/// A fitted linear model over the training conditions' pseudobulk profiles.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearFit {
    /// Genes × k: the principal component scores of the genes.
    gene_emb: Vec<Vec<f64>>,
    /// Conditions × k': each training condition's embedding (the control's is zero).
    pert_emb: Vec<Vec<f64>>,
    /// k × k'.
    coef: Vec<Vec<f64>>,
    /// Per gene, the mean change over the training conditions (b).
    center: Vec<f64>,
}

impl LinearFit {
    /// Fits the model to `profiles` (one mean expression profile per training condition, the
    /// control's at `control`) with `k` components and ridge penalty `ridge`:
    ///
    /// - G: the first k principal component scores of the genes × conditions matrix (genes as
    ///   observations; prcomp's `x` in the reference);
    /// - P: the first k principal component scores of the conditions × genes matrix
    ///   (conditions as observations), taken relative to the control's, so the control sits at
    ///   the origin (it is zero in the reference) and P_c = Δ_cᵀ W is the projection of the
    ///   condition's change Δ_c on the top principal axes W: embeddings of shifts add as the
    ///   shifts do;
    /// - Y: each condition's change from the control profile, b its mean over conditions, and
    ///   K = (GᵀG + λI)⁻¹ Gᵀ (Y − b) P (PᵀP + λI)⁻¹.
    ///
    /// `profiles` must be non-empty and of equal length, `control` one of them.
    pub fn fit(profiles: &[Vec<f64>], control: usize, k: usize, ridge: f64) -> LinearFit {
        let n = profiles.len();
        let genes = profiles.first().map_or(0, Vec::len);
        let by_gene: Vec<Vec<f64>> = (0..genes)
            .map(|g| profiles.iter().map(|p| p[g]).collect())
            .collect();
        let gene_emb = pca_scores(&by_gene, k);
        let raw = pca_scores(profiles, k);
        let pert_emb: Vec<Vec<f64>> = raw
            .iter()
            .map(|r| r.iter().zip(&raw[control]).map(|(a, b)| a - b).collect())
            .collect();
        // Changes from the control, centred per gene over the conditions.
        let mut center = vec![0.0f64; genes];
        let change: Vec<Vec<f64>> = (0..genes)
            .map(|g| {
                let row: Vec<f64> = (0..n)
                    .map(|c| profiles[c][g] - profiles[control][g])
                    .collect();
                center[g] = row.iter().sum::<f64>() / n as f64;
                row.iter().map(|v| v - center[g]).collect()
            })
            .collect();
        let ka = gene_emb.first().map_or(0, Vec::len);
        let kb = pert_emb.first().map_or(0, Vec::len);
        // Gᵀ (Y − b) P: k × k'.
        let mut gy = vec![vec![0.0f64; n]; ka];
        for (g, row) in change.iter().enumerate() {
            for (a, acc) in gy.iter_mut().enumerate() {
                let w = gene_emb[g][a];
                for (x, y) in acc.iter_mut().zip(row) {
                    *x += w * y;
                }
            }
        }
        let gyp: Vec<Vec<f64>> = gy
            .iter()
            .map(|r| {
                (0..kb)
                    .map(|b| (0..n).map(|c| r[c] * pert_emb[c][b]).sum())
                    .collect()
            })
            .collect();
        let left = solve_spd(gram(&gene_emb, ka, ridge), &gyp);
        // K = left · (PᵀP + λI)⁻¹ = ((PᵀP + λI)⁻¹ leftᵀ)ᵀ, the matrix being symmetric.
        let coef_t = solve_spd(gram(&pert_emb, kb, ridge), &transpose(&left, kb));
        LinearFit {
            gene_emb,
            coef: transpose(&coef_t, ka),
            pert_emb,
            center,
        }
    }

    /// The embedding of training condition `c` (as in `fit`'s `profiles`).
    pub fn embedding(&self, c: usize) -> &[f64] {
        &self.pert_emb[c]
    }

    /// Predicted change from the control profile for a perturbation embedded at `emb`:
    /// G K emb + b.
    pub fn change(&self, emb: &[f64]) -> Vec<f64> {
        let ke: Vec<f64> = self
            .coef
            .iter()
            .map(|r| r.iter().zip(emb).map(|(a, b)| a * b).sum())
            .collect();
        self.gene_emb
            .iter()
            .zip(&self.center)
            .map(|(g, b)| g.iter().zip(&ke).map(|(x, y)| x * y).sum::<f64>() + b)
            .collect()
    }
}

/// AᵀA + λI for the rows of `a` (each of width k).
fn gram(a: &[Vec<f64>], k: usize, ridge: f64) -> Vec<Vec<f64>> {
    let mut m = vec![vec![0.0f64; k]; k];
    for r in a {
        for i in 0..k {
            for j in 0..k {
                m[i][j] += r[i] * r[j];
            }
        }
    }
    for (i, row) in m.iter_mut().enumerate() {
        row[i] += ridge;
    }
    m
}

/// The transpose of `m` (rows of width `cols`).
fn transpose(m: &[Vec<f64>], cols: usize) -> Vec<Vec<f64>> {
    (0..cols)
        .map(|j| m.iter().map(|r| r[j]).collect())
        .collect()
}

/// Solves M X = R for a symmetric positive definite M (Cholesky); R's rows match M's.
fn solve_spd(m: Vec<Vec<f64>>, r: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let k = m.len();
    let mut l = vec![vec![0.0f64; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = m[i][j] - (0..j).map(|p| l[i][p] * l[j][p]).sum::<f64>();
            l[i][j] = if i == j {
                s.max(f64::MIN_POSITIVE).sqrt()
            } else {
                s / l[j][j]
            };
        }
    }
    let cols = r.first().map_or(0, Vec::len);
    let mut x = r.to_vec();
    for c in 0..cols {
        // L y = r, then Lᵀ x = y.
        let mut v: Vec<f64> = r.iter().map(|row| row[c]).collect();
        for i in 0..k {
            let s: f64 = (0..i).map(|p| l[i][p] * v[p]).sum();
            v[i] = (v[i] - s) / l[i][i];
        }
        for i in (0..k).rev() {
            let s: f64 = (i + 1..k).map(|p| l[p][i] * v[p]).sum();
            v[i] = (v[i] - s) / l[i][i];
        }
        for (row, value) in x.iter_mut().zip(v) {
            row[c] = value;
        }
    }
    x
}

/// The first k principal component scores of the rows of `data` (observations × variables,
/// each variable centred): the leading columns of U·S in the SVD of the centred matrix, as R's
/// `prcomp(data)$x`. k is clipped to min(rows − 1, cols). Computed from the eigen-decomposition
/// of the smaller of XᵀX and XXᵀ; the signs of the columns are arbitrary (the linear model does
/// not depend on them).
pub fn pca_scores(data: &[Vec<f64>], k: usize) -> Vec<Vec<f64>> {
    let rows = data.len();
    let cols = data.first().map_or(0, Vec::len);
    let k = k.min(rows.saturating_sub(1)).min(cols);
    let mut mean = vec![0.0f64; cols];
    for r in data {
        for (m, v) in mean.iter_mut().zip(r) {
            *m += v / rows as f64;
        }
    }
    let xc: Vec<Vec<f64>> = data
        .iter()
        .map(|r| r.iter().zip(&mean).map(|(v, m)| v - m).collect())
        .collect();
    if k == 0 {
        return vec![Vec::new(); rows];
    }
    let top = |values: &[f64]| {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&i, &j| values[j].total_cmp(&values[i]).then(i.cmp(&j)));
        order.truncate(k);
        order
    };
    if cols <= rows {
        let mut c = vec![0.0f64; cols * cols];
        for r in &xc {
            for i in 0..cols {
                for j in 0..cols {
                    c[i * cols + j] += r[i] * r[j];
                }
            }
        }
        let (values, vectors) = unit_rows(symmetric_eigen(c, cols), cols);
        let order = top(&values);
        xc.iter()
            .map(|r| {
                order
                    .iter()
                    .map(|&o| {
                        let v = &vectors[o * cols..(o + 1) * cols];
                        r.iter().zip(v).map(|(a, b)| a * b).sum()
                    })
                    .collect()
            })
            .collect()
    } else {
        let mut g = vec![0.0f64; rows * rows];
        for i in 0..rows {
            for j in i..rows {
                let d: f64 = xc[i].iter().zip(&xc[j]).map(|(a, b)| a * b).sum();
                g[i * rows + j] = d;
                g[j * rows + i] = d;
            }
        }
        let (values, vectors) = unit_rows(symmetric_eigen(g, rows), rows);
        let order = top(&values);
        (0..rows)
            .map(|i| {
                order
                    .iter()
                    .map(|&o| vectors[o * rows + i] * values[o].max(0.0).sqrt())
                    .collect()
            })
            .collect()
    }
}

/// Eigenvectors (rows of width `n`) scaled to unit norm, beside their eigenvalues.
fn unit_rows((values, mut vectors): (Vec<f64>, Vec<f64>), n: usize) -> (Vec<f64>, Vec<f64>) {
    for v in vectors.chunks_mut(n) {
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
    }
    (values, vectors)
}
