//! How a cell's condition and covariates become model inputs: a dosage vector over single
//! perturbations (so `A+B` = A + B and unseen combinations of seen singles can be asked for)
//! followed by one one-hot block per covariate. [`Conditioning`] picks, per model, between that
//! dosage encoding and a one-hot over the condition labels seen in training.

use std::collections::BTreeSet;

use crate::data::{DataError, Dataset};
use crate::matrix::Matrix;

/// Each covariate of `ds` with its distinct levels, sorted.
fn covariate_levels(ds: &Dataset) -> Vec<(String, Vec<String>)> {
    ds.covariate_names
        .iter()
        .zip(&ds.covariates)
        .map(|(name, values)| {
            let levels: BTreeSet<&String> = values.iter().collect();
            (name.clone(), levels.into_iter().cloned().collect())
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    pub perturbations: Vec<String>,
    /// (covariate name, its levels in sorted order).
    pub covariates: Vec<(String, Vec<String>)>,
    control_label: String,
}

impl Design {
    /// The design of `ds`: its single perturbations and the sorted levels of each covariate.
    ///
    /// Fails when the widest encoding of all its cells could not be held in memory: as many
    /// treatment columns as the larger of the single perturbations (dosage) and the condition
    /// labels (one-hot), plus one column per covariate level. [`Design::encode`] and
    /// [`Conditioning::encode`] encode at most the cells of `ds`, so once this check passes
    /// their sizes cannot overflow.
    pub fn from_dataset(ds: &Dataset) -> Result<Self, DataError> {
        let design = Self {
            perturbations: ds.perturbation_names(),
            covariates: covariate_levels(ds),
            control_label: ds.control_label.clone(),
        };
        let labels: BTreeSet<&str> = ds.conditions.iter().map(String::as_str).collect();
        let treatments = design.n_perturbations().max(labels.len());
        let width = treatments.saturating_add(design.n_covariates());
        Matrix::checked_len(ds.n_cells(), width)
            .map_err(|e| DataError::table_too_large("the model input", e))?;
        Ok(design)
    }

    pub fn n_perturbations(&self) -> usize {
        self.perturbations.len()
    }

    pub fn n_covariates(&self) -> usize {
        self.covariates.iter().map(|(_, l)| l.len()).sum()
    }

    pub fn width(&self) -> usize {
        self.n_perturbations() + self.n_covariates()
    }

    /// Singles making up a condition label (none for the control label).
    pub fn members(&self, label: &str) -> Vec<String> {
        if label == self.control_label {
            return Vec::new();
        }
        label
            .split('+')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Encodes `cells` with their own covariates but the condition `label` (their own when None).
    pub fn encode(&self, ds: &Dataset, cells: &[usize], label: Option<&str>) -> Matrix {
        let w = self.width();
        let mut m = Matrix::zeros(cells.len(), w);
        for (r, &cell) in cells.iter().enumerate() {
            let row = m.row_mut(r);
            let cond = label.unwrap_or(&ds.conditions[cell]);
            for p in self.members(cond) {
                if let Some(j) = self.perturbations.iter().position(|q| *q == p) {
                    row[j] += 1.0;
                }
            }
            let mut offset = self.n_perturbations();
            for (ci, (_, levels)) in self.covariates.iter().enumerate() {
                if let Some(j) = levels.iter().position(|l| *l == ds.covariates[ci][cell]) {
                    row[offset + j] = 1.0;
                }
                offset += levels.len();
            }
        }
        m
    }
}

/// How a cell's condition becomes model input.
#[derive(Debug, Clone, PartialEq)]
pub enum Conditioning {
    /// [dosage over single perturbations | covariate one-hot]: `A+B` = A + B.
    Dosage,
    /// [one-hot over the condition labels seen in training | covariate one-hot] (SVAE+).
    OneHot(Vec<String>),
}

impl Conditioning {
    /// Encodes `cells` with their own covariates under `label` (their own condition if None).
    pub fn encode(
        &self,
        design: &Design,
        ds: &Dataset,
        cells: &[usize],
        label: Option<&str>,
    ) -> Matrix {
        let base = design.encode(ds, cells, label);
        let Conditioning::OneHot(labels) = self else {
            return base;
        };
        let np = design.n_perturbations();
        let t = labels.len();
        let mut m = Matrix::zeros(cells.len(), t + base.cols - np);
        for (r, &cell) in cells.iter().enumerate() {
            let cond = label.unwrap_or(&ds.conditions[cell]);
            let row = m.row_mut(r);
            if let Some(j) = labels.iter().position(|l| l == cond) {
                row[j] = 1.0;
            }
            row[t..].copy_from_slice(&base.row(r)[np..]);
        }
        m
    }

    /// Number of treatment columns (before the covariates).
    pub fn n_treatments(&self, design: &Design) -> usize {
        match self {
            Conditioning::Dosage => design.n_perturbations(),
            Conditioning::OneHot(labels) => labels.len(),
        }
    }

    /// Treatment names, one per treatment column.
    pub fn names(&self, design: &Design) -> Vec<String> {
        match self {
            Conditioning::Dosage => design.perturbations.clone(),
            Conditioning::OneHot(labels) => labels.clone(),
        }
    }
}
