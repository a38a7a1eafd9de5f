//! Host-side evaluation metrics: correlations, top-gene overlap, PCA, energy distance and
//! treatment effects. Everything accumulates in f64 regardless of the f32 storage in `Matrix`,
//! so scores do not drift with the number of cells.

mod correlation;
mod eigen;
mod pca;
mod shift;

pub use self::correlation::{pearson, spearman, top_k_abs, top_k_jaccard};
pub use self::pca::Pca;
pub use self::shift::{ate_log2, energy_distance, mean_shift};
