//! Passes over a stored (often sparse) matrix: a scan that checks every value and sums each
//! cell, the per-gene statistics that pick which genes to keep, and the densification of only
//! those genes — so a sparse file never becomes a dense cells × all-genes table.

use super::Entries;
use crate::data::{DataError, FormatError};
use crate::matrix::Matrix;
use crate::preprocess::SCALE;

/// What one pass over a matrix learned.
#[derive(Debug, Clone)]
pub(crate) struct Scan {
    /// Every stored value is a non-negative integer (within 1e-6).
    pub(crate) is_counts: bool,
    /// Sum of each cell's values (its library size for counts).
    pub(crate) totals: Vec<f64>,
}

/// Checks every value (finite, not negative) and sums each cell; `cells` and `genes` name the
/// rows and columns in errors.
pub(crate) fn scan(m: &dyn Entries, cells: &[String], genes: &[String]) -> Result<Scan, DataError> {
    let name = |names: &[String], i: usize| {
        names
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("#{}", i + 1))
    };
    let mut totals = vec![0.0f64; m.rows()];
    let mut is_counts = true;
    m.visit(&mut |row, col, v| {
        if !v.is_finite() || v < 0.0 {
            return Err(FormatError::MatrixValue {
                matrix: m.name().to_string(),
                cell: name(cells, row),
                gene: name(genes, col),
                value: v.to_string(),
                problem: if v.is_finite() {
                    "negative (scaled or centred data; choose a matrix of counts or log-normalised values)"
                } else {
                    "not a finite number"
                },
            }
            .into());
        }
        is_counts &= (v - v.round()).abs() <= 1e-6;
        if let Some(t) = totals.get_mut(row) {
            *t += f64::from(v);
        }
        Ok(())
    })?;
    Ok(Scan { is_counts, totals })
}

/// The `keep` genes of largest variance over all cells — of log-normalised values for counts
/// (each cell scaled by its own total, as `preprocess` does), of the values as given
/// otherwise — in file order; ties go to the earlier gene. All genes when `keep` covers them.
pub(crate) fn pick_genes(
    m: &dyn Entries,
    scan: &Scan,
    keep: usize,
) -> Result<Vec<usize>, DataError> {
    let n_genes = m.cols();
    if keep >= n_genes {
        return Ok((0..n_genes).collect());
    }
    let mut sum = vec![0.0f64; n_genes];
    let mut sumsq = vec![0.0f64; n_genes];
    m.visit(&mut |row, col, v| {
        let x = if scan.is_counts {
            let total = scan.totals.get(row).copied().unwrap_or(0.0);
            if total > 0.0 {
                (f64::from(v) * SCALE / total).ln_1p()
            } else {
                0.0
            }
        } else {
            f64::from(v)
        };
        if let (Some(s), Some(q)) = (sum.get_mut(col), sumsq.get_mut(col)) {
            *s += x;
            *q += x * x;
        }
        Ok(())
    })?;
    let n = m.rows().max(1) as f64;
    let var: Vec<f64> = sum
        .iter()
        .zip(&sumsq)
        .map(|(s, q)| (q / n - (s / n).powi(2)).max(0.0))
        .collect();
    let mut order: Vec<usize> = (0..n_genes).collect();
    order.sort_by(|&a, &b| var[b].total_cmp(&var[a]).then(a.cmp(&b)));
    order.truncate(keep);
    order.sort_unstable();
    Ok(order)
}

/// The chosen genes of every cell as a dense table (one more pass).
pub(crate) fn densify(m: &dyn Entries, genes: &[usize]) -> Result<Matrix, DataError> {
    let mut column = vec![usize::MAX; m.cols()];
    for (k, &g) in genes.iter().enumerate() {
        if let Some(c) = column.get_mut(g) {
            *c = k;
        }
    }
    let mut out = Matrix::try_zeros(m.rows(), genes.len())
        .map_err(|e| DataError::table_too_large("the expression values", e))?;
    let width = genes.len();
    m.visit(&mut |row, col, v| {
        if let Some(&k) = column.get(col)
            && k != usize::MAX
            && let Some(slot) = out.data.get_mut(row * width + k)
        {
            *slot = v + 0.0;
        }
        Ok(())
    })?;
    Ok(out)
}

/// How many genes fit the dense budget: `budget / cells`, at least `floor` (the panel size
/// asked for), at most every gene.
pub(crate) fn genes_to_keep(cells: usize, genes: usize, budget: usize, floor: usize) -> usize {
    (budget / cells.max(1)).max(floor).min(genes)
}
