//! Host-side preparation: library-size normalisation, the gene panel and standardisation.
//! Everything that learns from data (panel choice, standardisation statistics) sees training
//! cells only, so held-out cells never leak into the model's inputs.

use crate::data::Dataset;
use crate::matrix::Matrix;

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
    let mut out = Matrix::zeros(counts.rows, counts.cols);
    for i in 0..counts.rows {
        let row = counts.row(i);
        let total: f64 = row.iter().map(|&v| v as f64).sum();
        if total > 0.0 {
            let f = SCALE / total;
            // Zeros stay zero: most cells leave most genes undetected.
            for (o, &v) in out.row_mut(i).iter_mut().zip(row) {
                if v != 0.0 {
                    *o = ((v as f64) * f).ln_1p() as f32;
                }
            }
        }
    }
    out
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
