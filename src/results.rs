//! What a run produces, as written to `results.json` and drawn on the scoreboard.
//! Field names here are the documented file format: change them only with the README.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The K values of the top-K Jaccard metric.
pub const JACCARD_KS: [usize; 3] = [25, 50, 100];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResults {
    pub cellshift_version: String,
    /// Every setting of the run (checked again when results are read back).
    pub config: crate::config::RunConfig,
    pub data: DataSummary,
    pub split: SplitSummary,
    pub train: TrainSummary,
    /// Keyed by model name (`cvae`, ...), baseline name (`control_mean`, `perturbation_mean`,
    /// `perturbed_mean`, `additive`, `group_shift`, `linear`, `matching_mean`) or `ceiling`
    /// (held-out cells predicting the other half of their condition's: the noise ceiling).
    pub scores: BTreeMap<String, Scores>,
    pub figures: Figures,
}

impl RunResults {
    /// The model these results score.
    pub fn model(&self) -> crate::config::ModelName {
        self.config.model()
    }

    /// The model's seeds and intervals, when it was trained with several seeds.
    pub fn seeds(&self) -> Option<&crate::seeds::SeedSummary> {
        self.scores.get(self.model().name())?.seeds.as_ref()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataSummary {
    pub cells: usize,
    /// Genes in the model panel.
    pub genes: usize,
    /// Gene columns in the file.
    pub genes_in_file: usize,
    /// SHA-256 of the input bytes as read (compressed bytes for `.csv.gz`).
    pub sha256: String,
    pub source: String,
    /// `counts` (non-negative integers) or `continuous`.
    pub values: String,
    pub covariates: Vec<String>,
    /// Cells per condition label.
    pub conditions: BTreeMap<String, usize>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitSummary {
    /// `fraction`, `conditions` or `group`.
    pub kind: String,
    pub train_cells: usize,
    pub val_cells: usize,
    pub test_cells: usize,
    /// Conditions scored on held-out cells.
    pub test_conditions: Vec<String>,
    /// Held-out conditions a model cannot predict, with the reason (never silently skipped).
    pub unpredictable: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainSummary {
    pub epochs: usize,
    pub best_epoch: usize,
    pub stopped_early: bool,
    pub seconds: f64,
    pub backend: String,
    pub history: Vec<EpochRecord>,
    /// Why training ended on a loss that was not finite (the model scored is the one from the
    /// epoch before); absent when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<String>,
}

/// One epoch's named loss terms (per cell, averaged over the epoch).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochRecord {
    pub epoch: usize,
    /// KL weight used in this epoch.
    pub beta: f64,
    pub train: BTreeMap<String, f64>,
    pub val: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Scores {
    pub pooled: ScoreSet,
    pub conditions: BTreeMap<String, ScoreSet>,
    /// Held-out importance-weighted ELBO per cell (nats, K particles); null for baselines and
    /// where no held-out cell can be scored.
    #[serde(default)]
    pub iwelbo: Option<f64>,
    /// Average treatment effects of the model against the data's; null for baselines.
    #[serde(default)]
    pub ate: Option<AteScores>,
    /// Every seed's values and the intervals, when the model was trained with several seeds
    /// (the other fields then hold the means over the seeds); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<crate::seeds::SeedSummary>,
}

/// Pearson r between the model's and the data's average treatment effects
/// (log2(1e4·x/Σx + 1) minus the same for controls) over the held-out conditions × genes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AteScores {
    /// Over every (condition, gene).
    pub r: Option<f64>,
    /// Over the 20 genes with the largest |data ATE| of each condition.
    pub r_top20: Option<f64>,
    /// Conditions scored.
    pub conditions: Vec<String>,
}

/// Scores of one predictor on one condition (or pooled). `None` is written as `null`:
/// the metric is undefined (e.g. the control-mean baseline predicts no shift, so a correlation
/// with it does not exist), never a made-up number.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ScoreSet {
    pub mean_shift_r: Option<f64>,
    /// Keyed by K as a string ("25", "50", "100"); K is clipped to the panel size.
    pub jaccard: BTreeMap<String, Option<f64>>,
    pub energy_distance: Option<f64>,
    /// Mean absolute error of the predicted against the true pseudobulk (mean expression)
    /// profile, over genes; pooled: over every condition × gene.
    #[serde(default)]
    pub mae: Option<f64>,
    #[serde(default)]
    pub systema: SystemaScores,
    #[serde(default)]
    pub de: DeScores,
    #[serde(default)]
    pub discrimination: DiscriminationScores,
    /// Pearson r across held-out conditions between the predicted and the true cells' energy
    /// distance to their matched controls, in the PCA space of `energy_distance` (cell-eval's
    /// `edistance` metric); undefined with fewer than 3 conditions. Pooled only (null per
    /// condition).
    #[serde(default)]
    pub energy_r: Option<f64>,
    /// The baseline-normalised overall score (see `verdict::normalised_score`). Pooled only,
    /// for models and the ceiling (null for baselines, which it is measured against).
    #[serde(default)]
    pub normalised_score: Option<f64>,
    /// Why a metric of a prediction that exists is null here (or what its pooled value leaves
    /// out), keyed by the metric's path: `mae`, `systema.r`, `systema.r_top20`, `de.overlap`,
    /// `de.top20_mse`, `de.top20_sign`, `discrimination.l1`, `discrimination.rank`,
    /// `discrimination.centroid`, `energy_r`, `normalised_score`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notes: BTreeMap<String, String>,
    /// Why this predictor has no prediction here, when it has none.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub undefined: Option<String>,
}

/// One metric of a score set: its `scores.csv` column, and how to read and set it.
pub struct Column {
    pub key: &'static str,
    pub get: fn(&ScoreSet) -> Option<f64>,
    pub set: fn(&mut ScoreSet, Option<f64>),
}

fn jaccard(s: &ScoreSet, k: usize) -> Option<f64> {
    s.jaccard.get(&k.to_string()).copied().flatten()
}

/// Sets J@K where the score set has that K (K is clipped to the panel, the key stays).
fn set_jaccard(s: &mut ScoreSet, k: usize, v: Option<f64>) {
    if let Some(slot) = s.jaccard.get_mut(&k.to_string()) {
        *slot = v;
    }
}

/// The headline metrics lead [`COLUMNS`]; the newer ones follow.
pub const HEADLINE_COLUMNS: usize = 5;

/// Every metric of a score set, in the order of `scores.csv`: the headline metrics (mean-shift
/// r, J@25/50/100, energy distance), then the newer ones. One table for the CSV, the CLI's
/// tables, the seeds' means and the verdict.
pub static COLUMNS: [Column; 16] = [
    Column {
        key: "mean_shift_r",
        get: |s| s.mean_shift_r,
        set: |s, v| s.mean_shift_r = v,
    },
    Column {
        key: "jaccard_25",
        get: |s| jaccard(s, 25),
        set: |s, v| set_jaccard(s, 25, v),
    },
    Column {
        key: "jaccard_50",
        get: |s| jaccard(s, 50),
        set: |s, v| set_jaccard(s, 50, v),
    },
    Column {
        key: "jaccard_100",
        get: |s| jaccard(s, 100),
        set: |s, v| set_jaccard(s, 100, v),
    },
    Column {
        key: "energy_distance",
        get: |s| s.energy_distance,
        set: |s, v| s.energy_distance = v,
    },
    Column {
        key: "mae",
        get: |s| s.mae,
        set: |s, v| s.mae = v,
    },
    Column {
        key: "systema_r",
        get: |s| s.systema.r,
        set: |s, v| s.systema.r = v,
    },
    Column {
        key: "systema_r_top20",
        get: |s| s.systema.r_top20,
        set: |s, v| s.systema.r_top20 = v,
    },
    Column {
        key: "de_overlap",
        get: |s| s.de.overlap,
        set: |s, v| s.de.overlap = v,
    },
    Column {
        key: "de_top20_mse",
        get: |s| s.de.top20_mse,
        set: |s, v| s.de.top20_mse = v,
    },
    Column {
        key: "de_top20_sign",
        get: |s| s.de.top20_sign,
        set: |s, v| s.de.top20_sign = v,
    },
    Column {
        key: "discrimination_l1",
        get: |s| s.discrimination.l1,
        set: |s, v| s.discrimination.l1 = v,
    },
    Column {
        key: "discrimination_rank",
        get: |s| s.discrimination.rank,
        set: |s, v| s.discrimination.rank = v,
    },
    Column {
        key: "centroid_accuracy",
        get: |s| s.discrimination.centroid,
        set: |s, v| s.discrimination.centroid = v,
    },
    Column {
        key: "energy_r",
        get: |s| s.energy_r,
        set: |s, v| s.energy_r = v,
    },
    Column {
        key: "normalised_score",
        get: |s| s.normalised_score,
        set: |s, v| s.normalised_score = v,
    },
];

// The headline Jaccard columns are exactly JACCARD_KS.
const _: () = assert!(JACCARD_KS.len() == 3 && HEADLINE_COLUMNS == 2 + JACCARD_KS.len());

/// The column called `key`.
pub fn column(key: &str) -> Option<&'static Column> {
    COLUMNS.iter().find(|c| c.key == key)
}

impl ScoreSet {
    /// The newer metrics' values, in the order of [`COLUMNS`].
    pub fn newer_values(&self) -> Vec<Option<f64>> {
        COLUMNS[HEADLINE_COLUMNS..]
            .iter()
            .map(|c| (c.get)(self))
            .collect()
    }
}

/// Systema's correlations (Viñas Torné et al., Nature Biotechnology 2025): Pearson r between
/// the predicted and the true profile, both taken against the mean of every perturbed seen cell
/// (the perturbed centroid) instead of the controls, so that what all perturbations share does
/// not count. Pooled: mean over conditions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SystemaScores {
    /// On every gene of the panel.
    pub r: Option<f64>,
    /// On the condition's 20 genes of largest |true shift against the controls|.
    pub r_top20: Option<f64>,
}

/// Scores on differentially expressed genes (Wilcoxon rank-sum against the reference controls,
/// Benjamini–Hochberg FDR < 0.05). Pooled: mean over conditions where defined.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeScores {
    /// The Virtual Cell Challenge's DE score: |predicted DEGs ∩ true DEGs| / |true DEGs|, the
    /// predicted set trimmed to |true DEGs| genes by |log fold change| when larger.
    pub overlap: Option<f64>,
    /// Mean squared error of the predicted against the true mean shift on the 20 true DEGs
    /// of smallest adjusted p (GEARS).
    pub top20_mse: Option<f64>,
    /// Fraction of those 20 genes whose shift the prediction gets the sign of (GEARS).
    pub top20_sign: Option<f64>,
}

/// Whether a prediction singles out its own condition among all held-out conditions.
/// Pooled: mean over conditions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DiscriminationScores {
    /// Virtual Cell Challenge: 1 − rank/N of the right true profile by L1 distance (1 best).
    pub l1: Option<f64>,
    /// PerturBench: normalised rank of the condition's own prediction by cosine similarity of
    /// shifts (0 best, 0.5 random).
    pub rank: Option<f64>,
    /// Systema's centroid accuracy: the fraction of other true profiles farther away than the
    /// right one (1 best, 0.5 random).
    pub centroid: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Figures {
    pub shift: ShiftFigure,
    pub pca: PcaFigure,
    /// Posterior mask probabilities (SAMS-VAE, SVAE+); null for models without masks.
    #[serde(default)]
    pub masks: Option<MaskFigure>,
}

/// Latent dims × perturbations heatmap of posterior mask probabilities, with the true sparse
/// structure beside it when it is known (simulated data).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MaskFigure {
    pub model: String,
    /// Row labels: perturbations (SVAE+: condition labels).
    pub perturbations: Vec<String>,
    /// P(mask = 1) per perturbation and learned latent dim. [perturbations][latent]
    pub probs: Vec<Vec<f64>>,
    /// Learned dims in display order (lined up with the true dims when the truth is known).
    pub order: Vec<usize>,
    /// True effect per perturbation and true latent dim (0: inactive), rows as `perturbations`.
    pub truth: Option<Vec<Vec<f64>>>,
    /// Mean number of dims with P > 0.5 per perturbation.
    pub mean_active: f64,
    /// The same for the truth.
    pub true_mean_active: Option<f64>,
    /// Spearman correlation of pairwise mask overlaps, learned vs true (independent of how the
    /// learned dims are ordered).
    pub overlap_spearman: Option<f64>,
    /// The epoch the masks start at, while they have not yet (every mask is then on).
    #[serde(default)]
    pub masks_start_at: Option<usize>,
}

/// Per-(condition, gene) mean shifts against control for the headline model.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShiftFigure {
    pub model: String,
    pub true_shift: Vec<f64>,
    pub pred_shift: Vec<f64>,
    pub r: Option<f64>,
}

/// First two principal components, fitted on true cells (control + true perturbed).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PcaFigure {
    pub model: String,
    pub explained_variance_ratio: Vec<f64>,
    pub control: Vec<[f32; 2]>,
    pub truth: Vec<[f32; 2]>,
    pub predicted: Vec<[f32; 2]>,
}

fn csv_num(v: Option<f64>) -> String {
    v.map_or_else(String::new, |x| format!("{x}"))
}

/// A text cell as a spreadsheet will read it: one that starts like a formula (`=`, `+`, `-`,
/// `@`, or a tab or carriage return before one) gets a leading apostrophe, so a condition label
/// can never run as a formula when the file is opened.
fn csv_text(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// The scores as CSV, one row per predictor × (pooled | condition); undefined values are empty
/// cells, why a metric is null is in `notes` (`metric: reason; …`) and why a predictor has no
/// prediction at all in the last column, `undefined`. Written by the `csv` crate, so labels with commas,
/// quotes or line breaks stay one cell.
pub fn scores_csv(r: &RunResults) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let header = ["predictor", "condition"]
        .into_iter()
        .chain(COLUMNS.iter().map(|c| c.key))
        .chain(["notes", "undefined"]);
    // Writing into memory cannot fail.
    let _ = w.write_record(header);
    for (name, s) in &r.scores {
        let rows = std::iter::once(("pooled", &s.pooled))
            .chain(s.conditions.iter().map(|(c, v)| (c.as_str(), v)));
        for (cond, set) in rows {
            let notes: Vec<String> = set.notes.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            let record = [csv_text(name), csv_text(cond)]
                .into_iter()
                .chain(COLUMNS.iter().map(|c| csv_num((c.get)(set))))
                .chain([
                    csv_text(&notes.join("; ")),
                    csv_text(set.undefined.as_deref().unwrap_or("")),
                ]);
            let _ = w.write_record(record);
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
