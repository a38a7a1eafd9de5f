//! A run's configuration: every setting declared once ([`settings`]), checked once into a
//! [`RunConfig`] — the only thing a [`crate::pipeline::Session`] accepts — and turned from there
//! into what each part of the run needs (the split, the trainer's and the model's options).

pub mod choices;
#[cfg(feature = "cli")]
pub mod cli;
pub mod error;
pub mod estimate;
pub mod schema;
pub mod settings;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use choices::{Combination, Generation, LikelihoodChoice, ModelName};
pub use error::SettingError;
pub use estimate::{Estimate, MEMORY_LIMIT, Shape};
pub use schema::{Bounds, Choice, Kind, Room, Spec, Uses};
pub use settings::{SCHEMA, Settings, spec};

use crate::data::{FormatOptions, LoadOptions};
use crate::model::SamsOptions;
use crate::split::Holdout;
use crate::train::TrainConfig;

/// Settings that passed every rule that needs no data (linfa's checked-hyperparameters idea).
/// Built only by [`Settings::check`]; read-only afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    settings: Settings,
    holdout: Holdout,
    /// Which of the `seeds` replicate runs this is (0: the first, the only one by default).
    replicate: usize,
}

impl Settings {
    /// Every data-free rule, once: each setting the chosen model reads against its bounds,
    /// then the rules between settings.
    pub fn check(self) -> Result<RunConfig, SettingError> {
        for spec in SCHEMA.iter().filter(|s| s.uses.includes(self.model)) {
            if let Some(x) = self.number(spec.key)
                && !spec.bounds.contains(x)
            {
                return Err(SettingError::OutOfRange {
                    key: spec.key,
                    what: spec.what,
                    rule: spec.bounds.describe(spec.kind),
                    got: schema::format_number(x),
                });
            }
        }
        for (key, value) in [
            ("condition_column", &self.condition_column),
            ("control_label", &self.control_label),
        ] {
            if value.trim().is_empty() {
                return Err(SettingError::Empty {
                    key,
                    what: spec(key).map_or(key, |s| s.what),
                });
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in &self.covariates {
            if c == &self.condition_column {
                return Err(SettingError::CovariateIsCondition(c.clone()));
            }
            if !seen.insert(c) {
                return Err(SettingError::DuplicateCovariate(c.clone()));
            }
        }
        let holdout = self.holdout()?;
        Ok(RunConfig {
            settings: self,
            holdout,
            replicate: 0,
        })
    }

    /// Which cells are held out: a covariate group, whole conditions, or (neither given) a
    /// fraction of every perturbed condition.
    fn holdout(&self) -> Result<Holdout, SettingError> {
        let group = self.holdout_group.trim();
        match (group.is_empty(), self.holdout_conditions.is_empty()) {
            (false, false) => Err(SettingError::HoldoutConflict),
            (false, true) => match group.split_once('=') {
                Some((c, l)) if !c.trim().is_empty() && !l.trim().is_empty() => {
                    Ok(Holdout::Group {
                        covariate: c.trim().to_string(),
                        level: l.trim().to_string(),
                    })
                }
                _ => Err(SettingError::GroupSyntax(group.to_string())),
            },
            (true, false) => {
                if let Some(c) = self
                    .holdout_conditions
                    .iter()
                    .find(|c| **c == self.control_label)
                {
                    return Err(SettingError::ControlHeldOut(c.clone()));
                }
                Ok(Holdout::Conditions {
                    conditions: self.holdout_conditions.clone(),
                })
            }
            (true, true) => Ok(Holdout::Fraction {
                fraction: self.holdout_fraction,
            }),
        }
    }
}

impl RunConfig {
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn model(&self) -> ModelName {
        self.settings.model
    }

    /// The seed of everything about the data: the split, matched controls, the ceiling's halves.
    /// Replicates share it, so they are scored on the same cells.
    pub fn seed(&self) -> u64 {
        self.settings.seed
    }

    /// The seed of everything about the model: initial weights, batches, sampled noise,
    /// generated cells. Replicate k uses `seed + k`, so the first replicate is the single run.
    pub fn model_seed(&self) -> u64 {
        let modulus = settings::MAX_SEED as u64 + 1;
        (self.settings.seed % modulus + self.replicate as u64 % modulus) % modulus
    }

    /// Which replicate run this is (0 ..= seeds − 1).
    pub fn replicate(&self) -> usize {
        self.replicate
    }

    /// This configuration's replicate `k`: the same split, the model seed `seed + k`.
    pub fn with_replicate(mut self, k: usize) -> Self {
        self.replicate = k;
        self
    }

    pub fn holdout(&self) -> &Holdout {
        &self.holdout
    }

    /// Replaces the holdout settings by an exact external split (one role per data row).
    pub fn with_split_file(mut self, source: String, assignments: Vec<crate::split::Role>) -> Self {
        self.holdout = Holdout::File {
            source,
            assignments,
        };
        self
    }

    /// How the data table is read.
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            condition_column: self.settings.condition_column.clone(),
            control_label: self.settings.control_label.clone(),
            covariates: self.settings.covariates.clone(),
            ..LoadOptions::default()
        }
    }

    /// How an AnnData or 10x input is read: the matrix and joiner asked for, and at least the
    /// panel's worth of genes kept dense.
    pub fn format_options(&self) -> FormatOptions {
        FormatOptions {
            layer: self.settings.layer.trim().to_string(),
            joiner: self.settings.combination.joiner(),
            min_genes: self.settings.genes,
            ..FormatOptions::default()
        }
    }

    /// The trainer's options.
    pub fn train(&self) -> TrainConfig {
        let s = &self.settings;
        TrainConfig {
            epochs: s.epochs,
            batch_size: s.batch_size,
            lr: s.lr,
            weight_decay: s.weight_decay,
            kl_warmup: s.kl_warmup,
            beta: s.beta,
            grad_clip: s.grad_clip,
            patience: s.patience,
            seed: self.model_seed(),
        }
    }

    /// The epoch the masks start at: after `align_epochs` unmasked epochs, or halfway through
    /// a run too short for that (see [`RunConfig::notes`]).
    pub fn align_epochs(&self) -> usize {
        self.settings.align_epochs.min(self.settings.epochs / 2)
    }

    /// The SAMS family's options.
    pub fn sams(&self) -> SamsOptions {
        let s = &self.settings;
        SamsOptions {
            mask_prior: s.mask_prior,
            particles: s.particles,
            iwelbo_particles: s.iwelbo_particles,
            global_lr: s.global_lr,
            mask_init_logit: s.mask_init_logit,
            embedding_prior_scale: s.embedding_prior_scale,
            temperature: s.temperature,
            svae_beta: s.svae_beta,
            ate_samples: s.ate_samples,
            align_epochs: self.align_epochs(),
        }
    }

    /// What the run does differently from what the settings say, in words.
    pub fn notes(&self) -> Vec<String> {
        let s = &self.settings;
        let mut notes = Vec::new();
        if s.model.has_masks() && self.align_epochs() < s.align_epochs {
            notes.push(format!(
                "the masks start at epoch {}, halfway through the {}-epoch budget, not after {} unmasked epochs",
                self.align_epochs(),
                s.epochs,
                s.align_epochs
            ));
        }
        notes
    }
}

/// `results.json`'s `config`: the settings, flat, plus the external split when one was used
/// and the replicate when it is not the first.
#[derive(Serialize, Deserialize)]
struct Record {
    #[serde(flatten)]
    settings: Settings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    split_file: Option<Holdout>,
    #[serde(default, skip_serializing_if = "is_zero")]
    replicate: usize,
}

fn is_zero(k: &usize) -> bool {
    *k == 0
}

impl Serialize for RunConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let split_file = matches!(self.holdout, Holdout::File { .. }).then(|| self.holdout.clone());
        Record {
            settings: self.settings.clone(),
            split_file,
            replicate: self.replicate,
        }
        .serialize(s)
    }
}

/// A stored config is checked again as it is read: a file cannot smuggle in what flags could not.
impl<'de> Deserialize<'de> for RunConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = Record::deserialize(d)?;
        let cfg = r.settings.check().map_err(serde::de::Error::custom)?;
        if r.replicate >= cfg.settings.seeds {
            return Err(serde::de::Error::custom(format!(
                "replicate {} of a run with {} seed(s)",
                r.replicate, cfg.settings.seeds
            )));
        }
        let cfg = cfg.with_replicate(r.replicate);
        Ok(match r.split_file {
            Some(Holdout::File {
                source,
                assignments,
            }) => cfg.with_split_file(source, assignments),
            _ => cfg,
        })
    }
}
