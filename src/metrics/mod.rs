//! Host-side evaluation metrics: correlations, top-gene overlap, PCA, energy distance and
//! treatment effects; differential expression (Wilcoxon rank-sum, Benjamini–Hochberg) and the
//! scores built on it; discrimination among held-out conditions; the linear model baseline's
//! algebra. Everything accumulates in f64 regardless of the f32 storage in `Matrix`, so scores
//! do not drift with the number of cells.

mod correlation;
mod de;
mod discrimination;
mod eigen;
mod linear;
mod pca;
mod shift;
mod stats;

pub use self::correlation::{pearson, spearman, top_k_abs, top_k_jaccard};
pub use self::de::{DE_FDR, DeTest, de_overlap, mse_on, sign_accuracy};
pub use self::discrimination::{
    centroid_accuracy, discrimination_l1, mean_absolute_error, perturbench_rank,
};
pub use self::linear::{LinearFit, pca_scores};
pub use self::pca::Pca;
pub use self::shift::{ate_log2, energy_distance, mean_shift};
pub use self::stats::{RankReference, benjamini_hochberg, normal_two_sided_p, wilcoxon_rank_sum};
