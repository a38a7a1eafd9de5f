//! Differentially expressed genes and the scores built on them: the Virtual Cell Challenge's
//! DE overlap, and the mean squared error and direction accuracy on the top DE genes (GEARS).

use super::stats::{RankReference, benjamini_hochberg, wilcoxon_rank_sum};
use crate::matrix::Matrix;

/// The false discovery rate below which a gene is differentially expressed.
pub const DE_FDR: f64 = 0.05;

/// One cell set tested gene by gene against reference controls.
#[derive(Debug, Clone, PartialEq)]
pub struct DeTest {
    /// Benjamini–Hochberg adjusted p-values of the Wilcoxon rank-sum test, per gene.
    pub adjusted: Vec<f64>,
    /// Log fold change per gene: the mean shift of the cells from the reference, which on
    /// log-normalised expression is a (natural) log fold change.
    pub lfc: Vec<f64>,
}

impl DeTest {
    /// Tests `cells` against `reference` (Wilcoxon rank-sum, then BH across the genes);
    /// `lfc` is their shift per gene.
    pub fn new(cells: &Matrix, reference: &RankReference, lfc: Vec<f64>) -> Self {
        let p = wilcoxon_rank_sum(cells, reference);
        DeTest {
            adjusted: benjamini_hochberg(&p),
            lfc,
        }
    }

    /// The genes with an adjusted p-value below `fdr`.
    pub fn degs(&self, fdr: f64) -> Vec<usize> {
        (0..self.adjusted.len())
            .filter(|&g| self.adjusted[g] < fdr)
            .collect()
    }

    /// The `k` most differentially expressed genes: smallest adjusted p-value first, ties by
    /// larger |log fold change|, then by gene order (so the choice is deterministic). `k` is
    /// clipped to the panel; significance is not required.
    pub fn top(&self, k: usize) -> Vec<usize> {
        let abs = |g: usize| {
            let a = self.lfc[g].abs();
            if a.is_nan() { -1.0 } else { a }
        };
        let mut order: Vec<usize> = (0..self.adjusted.len()).collect();
        order.sort_by(|&i, &j| {
            self.adjusted[i]
                .total_cmp(&self.adjusted[j])
                .then(abs(j).total_cmp(&abs(i)))
                .then(i.cmp(&j))
        });
        order.truncate(k);
        order
    }
}

/// The Virtual Cell Challenge's differential expression score (Roohani et al., Cell 2025,
/// "Virtual Cell Challenge"; cell-eval's `overlap_at_N`): with T the true DEGs and P the
/// predicted cells' DEGs (each BH FDR < `fdr`), P is trimmed to its |T| genes of largest
/// |log fold change| when it is larger, and the score is |P ∩ T| / |T|. Undefined (Err, with
/// the reason) when T is empty.
pub fn de_overlap(truth: &DeTest, pred: &DeTest, fdr: f64) -> Result<f64, String> {
    let true_set = truth.degs(fdr);
    if true_set.is_empty() {
        return Err(format!(
            "no gene is differentially expressed in the held-out cells (Wilcoxon rank-sum, BH FDR < {fdr})"
        ));
    }
    let mut pred_set = pred.degs(fdr);
    if pred_set.len() > true_set.len() {
        let abs = |g: usize| {
            let a = pred.lfc[g].abs();
            if a.is_nan() { -1.0 } else { a }
        };
        pred_set.sort_by(|&i, &j| abs(j).total_cmp(&abs(i)).then(i.cmp(&j)));
        pred_set.truncate(true_set.len());
    }
    let shared = pred_set
        .iter()
        .filter(|g| true_set.binary_search(g).is_ok())
        .count();
    Ok(shared as f64 / true_set.len() as f64)
}

/// Mean squared error of the predicted against the true mean shift on `genes` (GEARS, Roohani
/// et al., Nature Biotechnology 2024: MSE on the top 20 DE genes). None for no genes.
pub fn mse_on(true_shift: &[f64], pred_shift: &[f64], genes: &[usize]) -> Option<f64> {
    if genes.is_empty() {
        return None;
    }
    let total: f64 = genes
        .iter()
        .map(|&g| (pred_shift[g] - true_shift[g]).powi(2))
        .sum();
    Some(total / genes.len() as f64)
}

/// The fraction of `genes` whose predicted shift has the sign of the true one, with sign(0) = 0
/// (GEARS' direction-of-change accuracy on the top 20 DE genes: a prediction of no change is
/// right only where the truth does not change either). None for no genes.
pub fn sign_accuracy(true_shift: &[f64], pred_shift: &[f64], genes: &[usize]) -> Option<f64> {
    if genes.is_empty() {
        return None;
    }
    let sign = |v: f64| {
        if v > 0.0 {
            1
        } else if v < 0.0 {
            -1
        } else {
            0
        }
    };
    let right = genes
        .iter()
        .filter(|&&g| sign(pred_shift[g]) == sign(true_shift[g]))
        .count();
    Some(right as f64 / genes.len() as f64)
}
