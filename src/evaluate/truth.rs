//! What every predictor of one held-out condition is scored against, computed once per
//! condition (its true shift and profile, its differential expression test, its cells in PCA
//! space and their energy distance to the controls), and the scoring of one prediction
//! against it.

use super::{DE_TOP_GENES, ENERGY_MAX_POINTS, SYSTEMA_TOP_GENES};
use crate::matrix::Matrix;
use crate::metrics::{self, DE_FDR, DeTest, Pca, RankReference};

/// Inputs shared by every condition of one evaluation.
pub(super) struct Shared<'a> {
    /// Fitted on true cells; predicted and true cells are compared in its space.
    pub(super) pca: &'a Pca,
    /// The mean profile of every perturbed seen cell (Systema's reference), if there is one.
    pub(super) centroid: Option<&'a [f64]>,
}

/// The held-out cells of one condition (or, for the ceiling, one half of them).
pub(super) struct ConditionTruth {
    /// Mean of the true cells − reference.
    pub(super) shift: Vec<f64>,
    /// Mean of the true cells (the pseudobulk profile).
    pub(super) profile: Vec<f64>,
    reference: Vec<f64>,
    pcs: Matrix,
    /// The matched controls in PCA space.
    control_pcs: Matrix,
    /// Energy distance of the true cells to the matched controls.
    energy_to_control: Option<f64>,
    de: DeTest,
    /// The condition's top DE genes (smallest adjusted p, ties by |shift|).
    top_de: Vec<usize>,
    /// The genes of largest |shift| (Systema's top DE genes).
    top_shift: Vec<usize>,
}

/// One predictor's prediction of one condition, scored against its truth.
pub(super) struct Prediction {
    pub(super) true_shift: Vec<f64>,
    pub(super) pred_shift: Vec<f64>,
    /// Reference + predicted shift: the predicted pseudobulk profile.
    pub(super) pred_profile: Vec<f64>,
    pub(super) energy: Option<f64>,
    /// Energy distance to the matched controls: (predicted cells, true cells).
    pub(super) energy_to_control: (Option<f64>, Option<f64>),
    pub(super) mae: Option<f64>,
    pub(super) systema_r: Result<f64, String>,
    pub(super) systema_r_top20: Result<f64, String>,
    pub(super) de_overlap: Result<f64, String>,
    pub(super) top20_mse: Option<f64>,
    pub(super) top20_sign: Option<f64>,
}

impl ConditionTruth {
    /// `cells`: the true cells (log-normalised panel); `reference`: the mean their shift is
    /// taken against; `control_pcs`: the matched controls in `shared.pca`'s space; `controls`:
    /// the reference controls, ranked for the Wilcoxon test.
    pub(super) fn new(
        cells: &Matrix,
        reference: &[f64],
        control_pcs: &Matrix,
        controls: &RankReference,
        shared: &Shared,
    ) -> Self {
        let shift = metrics::mean_shift(cells, reference);
        let profile = cells.col_means();
        let pcs = shared.pca.transform(cells);
        let de = DeTest::new(cells, controls, shift.clone());
        ConditionTruth {
            energy_to_control: metrics::energy_distance(&pcs, control_pcs, ENERGY_MAX_POINTS),
            top_de: de.top(DE_TOP_GENES),
            top_shift: metrics::top_k_abs(&shift, SYSTEMA_TOP_GENES),
            de,
            shift,
            profile,
            reference: reference.to_vec(),
            pcs,
            control_pcs: control_pcs.clone(),
        }
    }

    /// Scores a prediction: `cells` (log-normalised, one per true cell or so) and its mean
    /// shift `pred_shift` from the same reference.
    pub(super) fn score(
        &self,
        cells: &Matrix,
        pred_shift: Vec<f64>,
        controls: &RankReference,
        shared: &Shared,
    ) -> Prediction {
        let pcs = shared.pca.transform(cells);
        let pred_profile: Vec<f64> = self
            .reference
            .iter()
            .zip(&pred_shift)
            .map(|(r, s)| r + s)
            .collect();
        let cell_lfc = metrics::mean_shift(cells, &self.reference);
        let pred_de = DeTest::new(cells, controls, cell_lfc);
        let (systema_r, systema_r_top20) = self.systema(&pred_shift, shared.centroid);
        Prediction {
            energy: metrics::energy_distance(&self.pcs, &pcs, ENERGY_MAX_POINTS),
            energy_to_control: (
                metrics::energy_distance(&pcs, &self.control_pcs, ENERGY_MAX_POINTS),
                self.energy_to_control,
            ),
            mae: metrics::mean_absolute_error(&self.profile, &pred_profile),
            systema_r,
            systema_r_top20,
            de_overlap: metrics::de_overlap(&self.de, &pred_de, DE_FDR),
            top20_mse: metrics::mse_on(&self.shift, &pred_shift, &self.top_de),
            top20_sign: metrics::sign_accuracy(&self.shift, &pred_shift, &self.top_de),
            true_shift: self.shift.clone(),
            pred_shift,
            pred_profile,
        }
    }

    /// Systema's Pearson r of predicted and true profiles against the perturbed centroid, on
    /// every gene and on the top genes by |true shift|. Both are taken as shifts minus the
    /// centroid's shift from the same reference (the same numbers, but a baseline that predicts
    /// the centroid itself then differs from it by exactly zero, not by rounding).
    fn systema(
        &self,
        pred_shift: &[f64],
        centroid: Option<&[f64]>,
    ) -> (Result<f64, String>, Result<f64, String>) {
        let Some(centroid) = centroid else {
            let why = "no perturbed training cells: Systema's reference does not exist".to_string();
            return (Err(why.clone()), Err(why));
        };
        let centroid_shift: Vec<f64> = centroid
            .iter()
            .zip(&self.reference)
            .map(|(c, r)| c - r)
            .collect();
        let centred =
            |s: &[f64]| -> Vec<f64> { s.iter().zip(&centroid_shift).map(|(a, b)| a - b).collect() };
        let (t, p) = (centred(&self.shift), centred(pred_shift));
        let r = |genes: &mut dyn Iterator<Item = usize>| -> Result<f64, String> {
            let (a, b): (Vec<f64>, Vec<f64>) = genes.map(|g| (t[g], p[g])).unzip();
            metrics::pearson(&a, &b).ok_or_else(|| {
                "the prediction's difference from the perturbed training cells' mean does not vary across genes"
                    .to_string()
            })
        };
        (r(&mut (0..t.len())), r(&mut self.top_shift.iter().copied()))
    }
}
