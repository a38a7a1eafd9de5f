//! Host-side preparation: library-size normalisation, the gene panel and standardisation.
//! Everything that learns from data (panel choice, standardisation statistics) sees training
//! cells only, so held-out cells never leak into the model's inputs.

use crate::data::Dataset;
use crate::matrix::Matrix;
use crate::shards::run_shards;

/// Counts are scaled to this many per cell before log1p (the usual 1e4).
pub const SCALE: f64 = 1e4;

/// The data as the model and the metrics see it, restricted to the gene panel.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Indices of the panel genes in the file's gene columns, in file order.
    pub panel: Vec<usize>,
    pub panel_names: Vec<String>,
    /// Raw panel counts; `None` for continuous input. [cells, panel]
    pub counts: Option<Matrix>,
    /// log1p(1e4 · x / panel library) for counts, the values as given otherwise. [cells, panel]
    pub lognorm: Matrix,
    /// Panel library size per cell (≥ 1 so its log is finite; 1 for continuous input).
    pub library: Vec<f32>,
    /// Per-gene standardisation from training cells.
    pub mean: Vec<f32>,
    pub sd: Vec<f32>,
    /// (lognorm - mean) / sd, the encoder's input. [cells, panel]
    pub x_std: Matrix,
}

/// log1p(SCALE · x / Σx) per row; rows that sum to zero stay zero.
pub fn log_normalize(counts: &Matrix) -> Matrix {
    log_normalize_on(counts, 1)
}

/// Rows log-normalised together by [`log_normalize_on`]: the unit of its parallel work.
const LOG_NORMALIZE_BLOCK: usize = 256;

/// [`log_normalize`] on up to `threads` threads, in blocks of rows: the same values. Scoring
/// log-normalises every generated cell, which was a sixth of its time on one thread.
pub fn log_normalize_on(counts: &Matrix, threads: usize) -> Matrix {
    let (rows, cols) = (counts.rows, counts.cols);
    if cols == 0 {
        return Matrix::zeros(rows, cols);
    }
    let parts = run_shards(rows.div_ceil(LOG_NORMALIZE_BLOCK), threads, |b| {
        let first = b * LOG_NORMALIZE_BLOCK;
        let last = (first + LOG_NORMALIZE_BLOCK).min(rows);
        let mut out = vec![0.0f32; (last - first) * cols];
        for (i, o) in (first..last).zip(out.chunks_mut(cols)) {
            log_normalize_row(counts.row(i), o);
        }
        out
    });
    Matrix::from_vec(rows, cols, parts.concat())
}

/// One row of [`log_normalize`] into `out` (zeros, as long as the row).
fn log_normalize_row(row: &[f32], out: &mut [f32]) {
    let total: f64 = row.iter().map(|&v| v as f64).sum();
    if total > 0.0 {
        let f = SCALE / total;
        // Zeros stay zero: most cells leave most genes undetected.
        for (o, &v) in out.iter_mut().zip(row) {
            if v != 0.0 {
                *o = ((v as f64) * f).ln_1p() as f32;
            }
        }
    }
}

/// The `n` genes with the largest variance of log-normalised expression over the training
/// cells, returned in file order. Ties go to the earlier column so the choice is deterministic.
pub fn select_panel(lognorm_all_genes: &Matrix, train: &[usize], n: usize) -> Vec<usize> {
    let train_m = lognorm_all_genes.select_rows(train);
    let var = train_m.col_vars();
    let mut order: Vec<usize> = (0..var.len()).collect();
    order.sort_by(|&a, &b| {
        var[b]
            .partial_cmp(&var[a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let mut panel: Vec<usize> = order.into_iter().take(n.min(var.len())).collect();
    panel.sort_unstable();
    panel
}

pub fn prepare(ds: &Dataset, train: &[usize], n_genes: usize) -> Prepared {
    let (panel, counts, lognorm, library) = if ds.is_counts {
        let full_lognorm = log_normalize(&ds.values);
        let panel = select_panel(&full_lognorm, train, n_genes);
        let counts = ds.values.select_cols(&panel);
        let lognorm = log_normalize(&counts);
        let library = counts
            .row_sums()
            .into_iter()
            .map(|s| s.max(1.0) as f32)
            .collect();
        (panel, Some(counts), lognorm, library)
    } else {
        let panel = select_panel(&ds.values, train, n_genes);
        let lognorm = ds.values.select_cols(&panel);
        let library = vec![1.0; ds.values.rows];
        (panel, None, lognorm, library)
    };
    let (mean, sd) = standardisation(&lognorm.select_rows(train));
    let x_std = standardise(&lognorm, &mean, &sd);
    let panel_names = panel.iter().map(|&g| ds.genes[g].clone()).collect();
    Prepared {
        panel,
        panel_names,
        counts,
        lognorm,
        library,
        mean,
        sd,
        x_std,
    }
}

/// Mean and standard deviation per gene; a constant gene gets sd 1 so it maps to zero.
pub fn standardisation(train: &Matrix) -> (Vec<f32>, Vec<f32>) {
    let mean = train.col_means();
    let var = train.col_vars();
    let sd = var
        .iter()
        .map(|&v| if v > 1e-12 { v.sqrt() as f32 } else { 1.0 })
        .collect();
    (mean.into_iter().map(|m| m as f32).collect(), sd)
}

pub fn standardise(m: &Matrix, mean: &[f32], sd: &[f32]) -> Matrix {
    let mut out = m.clone();
    for i in 0..out.rows {
        for ((v, mu), s) in out.row_mut(i).iter_mut().zip(mean).zip(sd) {
            *v = (*v - mu) / s;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks of rows on any number of threads give the values of one pass: log1p of each
    /// count scaled to 1e4 per cell, zeros and empty cells left at zero.
    #[test]
    fn log_normalize_is_the_same_on_any_thread_count() {
        let (rows, cols) = (3 * LOG_NORMALIZE_BLOCK + 17, 5);
        let data: Vec<f32> = (0..rows * cols)
            .map(|i| {
                if i % 7 == 0 || i / cols == 3 {
                    0.0
                } else {
                    (i % 13) as f32
                }
            })
            .collect();
        let counts = Matrix::from_vec(rows, cols, data);
        let one = log_normalize(&counts);
        let row = counts.row(1);
        let total: f64 = row.iter().map(|&v| v as f64).sum();
        for (o, &v) in one.row(1).iter().zip(row) {
            assert_eq!(*o, ((v as f64) * SCALE / total).ln_1p() as f32);
        }
        assert!(
            one.row(3).iter().all(|&v| v == 0.0),
            "an empty cell stays zero"
        );
        for threads in [2, 3] {
            assert_eq!(log_normalize_on(&counts, threads).data, one.data);
        }
        assert_eq!(log_normalize_on(&Matrix::zeros(4, 0), 2).rows, 4);
    }
}
