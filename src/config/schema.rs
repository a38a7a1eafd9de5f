//! The vocabulary of the settings table: what a setting is (`Spec`), how its values parse and
//! which bounds they must respect. The table itself is declared once in [`super::settings`].

use serde::Serialize;

use super::choices::ModelName;

/// How a setting's value is written: decides the page's control and the CLI's parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A whole number.
    Int,
    /// A real number.
    Float,
    /// A real number or nothing (empty: a default derived from other settings).
    OptionalFloat,
    /// One line of text.
    Text,
    /// Several texts (comma-separated on the command line and in links).
    List,
    /// One of a fixed set of names.
    Choice,
}

/// Where a setting belongs: the page groups its fields by room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Room {
    /// How the table is read (condition column, control label, covariates).
    Data,
    /// Which cells are held out, the panel and the seed.
    Split,
    /// The model and its architecture.
    Model,
    /// The optimiser and its schedule.
    Training,
    /// How the trained model is scored.
    Scoring,
}

/// One end of a numeric range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct End {
    pub value: f64,
    pub inclusive: bool,
}

/// The range a numeric setting must lie in (finite always).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bounds {
    pub min: Option<End>,
    pub max: Option<End>,
}

impl Bounds {
    pub const NONE: Bounds = Bounds {
        min: None,
        max: None,
    };

    /// `[min, max]`.
    pub const fn closed(min: f64, max: f64) -> Bounds {
        Bounds {
            min: Some(End {
                value: min,
                inclusive: true,
            }),
            max: Some(End {
                value: max,
                inclusive: true,
            }),
        }
    }

    /// `(min, max)`.
    pub const fn open(min: f64, max: f64) -> Bounds {
        Bounds {
            min: Some(End {
                value: min,
                inclusive: false,
            }),
            max: Some(End {
                value: max,
                inclusive: false,
            }),
        }
    }

    /// `[min, ∞)`.
    pub const fn at_least(min: f64) -> Bounds {
        Bounds {
            min: Some(End {
                value: min,
                inclusive: true,
            }),
            max: None,
        }
    }

    /// `(min, ∞)`.
    pub const fn above(min: f64) -> Bounds {
        Bounds {
            min: Some(End {
                value: min,
                inclusive: false,
            }),
            max: None,
        }
    }

    pub fn contains(&self, x: f64) -> bool {
        let lo = self.min.is_none_or(|e| {
            if e.inclusive {
                x >= e.value
            } else {
                x > e.value
            }
        });
        let hi = self.max.is_none_or(|e| {
            if e.inclusive {
                x <= e.value
            } else {
                x < e.value
            }
        });
        x.is_finite() && lo && hi
    }

    /// The rule in words, e.g. "a whole number from 1 to 512" or "a number above 0 and below 1".
    pub fn describe(&self, kind: Kind) -> String {
        let noun = if kind == Kind::Int {
            "a whole number"
        } else {
            "a number"
        };
        let low = |e: End| {
            format!(
                "{} {}",
                if e.inclusive { "of at least" } else { "above" },
                format_number(e.value)
            )
        };
        let high = |e: End| {
            format!(
                "{} {}",
                if e.inclusive { "at most" } else { "below" },
                format_number(e.value)
            )
        };
        match (self.min, self.max) {
            (Some(a), Some(b)) if a.inclusive && b.inclusive => {
                format!(
                    "{noun} from {} to {}",
                    format_number(a.value),
                    format_number(b.value)
                )
            }
            (Some(a), Some(b)) => format!("{noun} {} and {}", low(a), high(b)),
            (Some(a), None) => format!("{noun} {}", low(a)),
            (None, Some(b)) => format!("{noun} {}", high(b)),
            (None, None) => format!("{noun} (finite)"),
        }
    }
}

/// Numbers in messages: integers without a fraction, others as Rust prints them.
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Which models read a setting; the others ignore it (the page hides it, links leave it out).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Uses {
    All,
    Only(&'static [ModelName]),
}

impl Uses {
    pub fn includes(&self, model: ModelName) -> bool {
        match self {
            Uses::All => true,
            Uses::Only(list) => list.contains(&model),
        }
    }
}

/// A named choice: its value as written, and how the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    /// One sentence for people (empty when the label says enough).
    pub hint: &'static str,
}

/// Everything known about one setting.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The field name in settings, results and links (`batch_size`).
    pub key: &'static str,
    /// The CLI flag without dashes (`batch-size`).
    pub flag: &'static str,
    /// A short label for the page (`Batch size`).
    pub label: &'static str,
    /// The setting as a noun phrase in messages (`the batch size`).
    pub what: &'static str,
    /// One or two sentences: what it does and when to change it.
    pub help: &'static str,
    pub room: Room,
    pub kind: Kind,
    pub bounds: Bounds,
    pub choices: &'static [Choice],
    pub uses: Uses,
    /// Shown under "more settings" on the page.
    pub advanced: bool,
}

/// A type a setting can have: how it is parsed from text (flags, links) and checked.
pub trait SettingValue: Sized {
    const KIND: Kind;
    const CHOICES: &'static [Choice] = &[];
    /// Parses one value; the error says what was expected.
    fn parse(text: &str) -> Result<Self, String>;
    /// The number to check against the setting's bounds, if there is one.
    fn number(&self) -> Option<f64> {
        None
    }
}

impl SettingValue for usize {
    const KIND: Kind = Kind::Int;
    fn parse(text: &str) -> Result<Self, String> {
        parse_whole(text)
            .and_then(|v| usize::try_from(v).map_err(|_| format!("“{text}” is too large")))
    }
    fn number(&self) -> Option<f64> {
        Some(*self as f64)
    }
}

impl SettingValue for u64 {
    const KIND: Kind = Kind::Int;
    fn parse(text: &str) -> Result<Self, String> {
        parse_whole(text)
    }
    fn number(&self) -> Option<f64> {
        Some(*self as f64)
    }
}

/// A non-negative whole number of at most 20 digits (longer text is refused before parsing).
fn parse_whole(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
        let shown: String = t.chars().take(24).collect();
        return Err(format!("expected a whole number ≥ 0, found “{shown}”"));
    }
    t.parse::<u64>().map_err(|_| format!("“{t}” is too large"))
}

impl SettingValue for f64 {
    const KIND: Kind = Kind::Float;
    fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let shown: String = t.chars().take(24).collect();
        if t.len() > 64 {
            return Err(format!("expected a number, found “{shown}…”"));
        }
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("expected a finite number, found “{shown}”")),
        }
    }
    fn number(&self) -> Option<f64> {
        Some(*self)
    }
}

impl SettingValue for Option<f64> {
    const KIND: Kind = Kind::OptionalFloat;
    fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            Ok(None)
        } else {
            f64::parse(text).map(Some)
        }
    }
    fn number(&self) -> Option<f64> {
        *self
    }
}

impl SettingValue for String {
    const KIND: Kind = Kind::Text;
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.trim().to_string())
    }
}

impl SettingValue for Vec<String> {
    const KIND: Kind = Kind::List;
    /// Comma-separated; blanks are dropped.
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect())
    }
}
