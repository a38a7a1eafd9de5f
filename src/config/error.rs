//! One typed error per rule, each naming the setting to blame so that the CLI can point at the
//! flag and the page at the field.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum SettingError {
    /// A number outside its setting's bounds (or not finite).
    #[error("{what} must be {rule} (got {got})")]
    OutOfRange {
        key: &'static str,
        what: &'static str,
        rule: String,
        got: String,
    },
    /// Text that is not a value of the setting's type.
    #[error("{what}: {message}")]
    Parse {
        key: &'static str,
        what: &'static str,
        message: String,
    },
    #[error("{what} must not be empty")]
    Empty {
        key: &'static str,
        what: &'static str,
    },
    #[error("covariate `{0}` is listed twice")]
    DuplicateCovariate(String),
    #[error("`{0}` is the condition column; it cannot also be a covariate")]
    CovariateIsCondition(String),
    #[error("hold out either whole conditions or one covariate group, not both")]
    HoldoutConflict,
    #[error(
        "the held-out group must be written COVARIATE=LEVEL, e.g. cell_type=CD14+Mono (got `{0}`)"
    )]
    GroupSyntax(String),
    #[error("`{0}` is the control label: controls cannot be held out as a condition")]
    ControlHeldOut(String),
    #[error("`{0}` is not a setting")]
    Unknown(String),
}

impl SettingError {
    /// The setting to blame, when one is.
    pub fn key(&self) -> Option<&'static str> {
        match self {
            SettingError::OutOfRange { key, .. }
            | SettingError::Parse { key, .. }
            | SettingError::Empty { key, .. } => Some(key),
            SettingError::DuplicateCovariate(_) | SettingError::CovariateIsCondition(_) => {
                Some("covariates")
            }
            SettingError::HoldoutConflict | SettingError::ControlHeldOut(_) => {
                Some("holdout_conditions")
            }
            SettingError::GroupSyntax(_) => Some("holdout_group"),
            SettingError::Unknown(_) => None,
        }
    }
}
