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
    /// Keyed by model name (`cvae`, ...) or baseline name (`control_mean`, `perturbation_mean`,
    /// `perturbed_mean`, `additive`, `group_shift`).
    pub scores: BTreeMap<String, Scores>,
    pub figures: Figures,
}

impl RunResults {
    /// The model these results score.
    pub fn model(&self) -> crate::config::ModelName {
        self.config.model()
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
    /// Why this predictor has no prediction here, when it has none.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub undefined: Option<String>,
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
/// cells and the reason is in the last column. Written by the `csv` crate, so labels with commas,
/// quotes or line breaks stay one cell.
pub fn scores_csv(r: &RunResults) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let header = [
        "predictor",
        "condition",
        "mean_shift_r",
        "jaccard_25",
        "jaccard_50",
        "jaccard_100",
        "energy_distance",
        "undefined",
    ];
    // Writing into memory cannot fail.
    let _ = w.write_record(header);
    for (name, s) in &r.scores {
        let rows = std::iter::once(("pooled", &s.pooled))
            .chain(s.conditions.iter().map(|(c, v)| (c.as_str(), v)));
        for (cond, set) in rows {
            let j = |k: &str| csv_num(set.jaccard.get(k).copied().flatten());
            let _ = w.write_record([
                csv_text(name),
                csv_text(cond),
                csv_num(set.mean_shift_r),
                j("25"),
                j("50"),
                j("100"),
                csv_num(set.energy_distance),
                csv_text(set.undefined.as_deref().unwrap_or("")),
            ]);
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
