//! The named choices among settings: models, likelihoods, generation modes.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::schema::{Choice, Kind, SettingValue};
use crate::generate::Mode;
use crate::model::{Likelihood, SamsKind};

/// An enum whose values are the choices of one setting, with each choice's value, label and
/// hint written once.
macro_rules! choice_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[doc = $doc:literal])* $var:ident = $value:literal, $label:literal, $hint:literal;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[doc = $doc])* #[serde(rename = $value)] $var,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$var),*];

            /// The value as written in flags, links and results.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$var => $value,)*
                }
            }
        }

        impl SettingValue for $name {
            const KIND: Kind = Kind::Choice;
            const CHOICES: &'static [Choice] = &[$(Choice { value: $value, label: $label, hint: $hint }),*];
            fn parse(text: &str) -> Result<Self, String> {
                match text.trim() {
                    $($value => Ok($name::$var),)*
                    other => {
                        let shown: String = other.chars().take(40).collect();
                        Err(format!("expected one of {}, found “{shown}”", [$($value),*].join(", ")))
                    }
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

choice_enum! {
    /// The models a run can train.
    ModelName {
        Cvae = "cvae", "cVAE — conditional VAE",
            "Conditional VAE: encodes a control cell and decodes it under the perturbation; a combination is the sum of its single perturbations.";
        Sams = "sams", "SAMS-VAE — sparse mechanism shifts",
            "Learns which latent dimensions each perturbation moves (sparse masks) and by how much; combinations add up. Its posterior links each effect to its mask.";
        SamsMf = "sams-mf", "SAMS-VAE, mean-field guide",
            "SAMS-VAE with a simpler posterior that treats masks and effects independently; usually a little faster, sometimes less sparse.";
        Cpa = "cpa", "CPA-VAE — additive, no masks",
            "Adds one learned shift per perturbation in latent space, without masks (every perturbation may move every dimension).";
        SvaePlus = "svae-plus", "SVAE+ — masks per condition",
            "Sparse masks per whole condition label: it cannot predict a combination it never saw in training (those rows say so).";
    }
}

impl ModelName {
    /// The SAMS-family member this names (None for the cVAE).
    pub fn sams_kind(self) -> Option<SamsKind> {
        match self {
            ModelName::Cvae => None,
            ModelName::Sams => Some(SamsKind::Correlated),
            ModelName::SamsMf => Some(SamsKind::MeanField),
            ModelName::Cpa => Some(SamsKind::Cpa),
            ModelName::SvaePlus => Some(SamsKind::SvaePlus),
        }
    }

    /// True for models that learn latent masks (their results carry a mask figure).
    pub fn has_masks(self) -> bool {
        self.sams_kind().is_some_and(SamsKind::has_masks)
    }
}

choice_enum! {
    /// The decoder's observation model, or `auto` (NB for counts, Gaussian otherwise).
    LikelihoodChoice {
        Auto = "auto", "auto (NB for counts)", "";
        Nb = "nb", "negative binomial", "Counts with the cell's library size and a learned per-gene dispersion.";
        Gaussian = "gaussian", "Gaussian", "Standardised log-normalised values with a learned per-gene scale.";
    }
}

impl LikelihoodChoice {
    /// The likelihood asked for; None: decided by the data.
    pub fn fixed(self) -> Option<Likelihood> {
        match self {
            LikelihoodChoice::Auto => None,
            LikelihoodChoice::Nb => Some(Likelihood::Nb),
            LikelihoodChoice::Gaussian => Some(Likelihood::Gaussian),
        }
    }
}

choice_enum! {
    /// How predicted cells are generated.
    Generation {
        B = "b", "B: encode real control cells", "Encode each control cell and decode it under the perturbation.";
        A = "a", "A: sample the prior", "Sample the latent state from the prior and decode it under the perturbation.";
    }
}

impl Generation {
    pub fn mode(self) -> Mode {
        match self {
            Generation::A => Mode::Prior,
            Generation::B => Mode::Encode,
        }
    }
}

choice_enum! {
    /// How combination labels in AnnData and 10x input join their perturbations.
    Combination {
        Auto = "auto", "auto (from the labels)", "Decide from the labels, and ask when `_` is used both inside names and between them.";
        Plus = "+", "A+B", "Perturbations joined by `+` (GEARS's `A+ctrl` is the single A).";
        Underscore = "_", "A_B", "Perturbations joined by `_`.";
        Pipe = "|", "A|B", "Perturbations joined by `|`.";
        None = "none", "no combinations", "Every label is one perturbation, whatever characters it holds.";
    }
}

impl Combination {
    pub fn joiner(self) -> crate::data::Joiner {
        use crate::data::Joiner;
        match self {
            Combination::Auto => Joiner::Auto,
            Combination::Plus => Joiner::Plus,
            Combination::Underscore => Joiner::Underscore,
            Combination::Pipe => Joiner::Pipe,
            Combination::None => Joiner::None,
        }
    }
}
