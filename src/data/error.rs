//! Everything that can go wrong while reading a dataset, one variant per rule.
//!
//! Messages are meant to be shown to the person who made the file, as is: they say where
//! (1-based file line, the header being line 1; column name and 1-based column index), what
//! was found there and what was expected instead.

use thiserror::Error;

use crate::matrix::SizeError;

/// How many header names or labels a message lists to show what *was* found.
pub(crate) const MAX_LISTED: usize = 10;

/// Longest field value quoted back in a message, in characters.
const MAX_VALUE_CHARS: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DataError {
    /// Zero bytes, or nothing but whitespace.
    #[error("the input is empty: expected a CSV header line followed by one line per cell")]
    Empty,

    /// A header line but not a single data row.
    #[error(
        "the input has a header line but no data rows: expected one line per cell after the header"
    )]
    HeaderOnly,

    /// The header has no column with the condition name.
    #[error(
        "the header (line 1) has no `{column}` column, which is needed to tell control cells from \
         perturbed ones; columns found: {}{}",
        list(found),
        more_hint(found)
    )]
    MissingConditionColumn { column: String, found: Vec<String> },

    /// A requested covariate column is not in the header.
    #[error(
        "the covariate column `{column}` was requested but is not in the header (line 1); columns \
         found: {}{}",
        list(found),
        more_hint(found)
    )]
    MissingCovariate { column: String, found: Vec<String> },

    /// A header field is blank (often a trailing comma).
    #[error(
        "the header (line 1) has an empty name at column {column_index}; every column needs a name \
         (a trailing comma at the end of the lines is a common cause)"
    )]
    EmptyColumnName { column_index: usize },

    /// Nothing is left for genes once the condition and covariate columns are taken.
    #[error(
        "no gene columns: the header only has the condition and covariate columns ({}); expected \
         at least one gene column after them",
        list(used)
    )]
    NoGenes { used: Vec<String> },

    /// Two gene columns share a name.
    #[error(
        "gene `{name}` appears twice in the header (line 1): at column {first_column} and again \
         at column {second_column}; gene names must be unique"
    )]
    DuplicateGene {
        name: String,
        first_column: usize,
        second_column: usize,
    },

    /// The condition or a covariate column name is used by more than one column.
    #[error(
        "column name `{name}` appears twice in the header (line 1): at column {first_column} and \
         again at column {second_column}; the condition and covariate columns must be unambiguous"
    )]
    DuplicateColumn {
        name: String,
        first_column: usize,
        second_column: usize,
    },

    /// The load options contradict themselves (e.g. a covariate named like the condition column).
    #[error("invalid load options: {message}")]
    InvalidOptions { message: String },

    /// A row has a different number of fields than the header.
    #[error(
        "line {line} has {found} fields but the header has {expected}; every line needs exactly \
         one value per column"
    )]
    Ragged {
        line: u64,
        expected: usize,
        found: usize,
    },

    /// A gene value that is not a number (an empty field included).
    #[error(
        "line {line}, column {column_index} (`{column}`): found {}, expected a number{}",
        quoted(value),
        empty_hint(value)
    )]
    NonNumeric {
        line: u64,
        column: String,
        column_index: usize,
        value: String,
    },

    /// NaN, an infinity, or a number too large for 32-bit floats.
    #[error(
        "line {line}, column {column_index} (`{column}`): found {}, expected a finite number \
         (NaN, infinities and values above 3.4e38 are not allowed)",
        quoted(value)
    )]
    NonFinite {
        line: u64,
        column: String,
        column_index: usize,
        value: String,
    },

    /// A gene value below zero.
    #[error(
        "line {line}, column {column_index} (`{column}`): found {}, expected a value of 0 or more \
         (raw counts and log-normalised expression are never negative)",
        quoted(value)
    )]
    Negative {
        line: u64,
        column: String,
        column_index: usize,
        value: String,
    },

    /// A blank condition label.
    #[error(
        "line {line}, column {column_index} (`{column}`): the condition label is empty; expected \
         the control label or a perturbation such as `A` or `A+B`"
    )]
    EmptyCondition {
        line: u64,
        column: String,
        column_index: usize,
    },

    /// A combination label with an empty, repeated or control part, e.g. `A+`, `A+A`.
    #[error(
        "line {line}, column {column_index} (`{column}`): found condition {}, which {reason}; \
         expected perturbations joined by `+`, such as `A+B`",
        quoted(value)
    )]
    BadCondition {
        line: u64,
        column: String,
        column_index: usize,
        value: String,
        reason: String,
    },

    /// A blank covariate value.
    #[error(
        "line {line}, column {column_index} (`{column}`): the covariate value is empty; expected a \
         category name"
    )]
    EmptyCovariate {
        line: u64,
        column: String,
        column_index: usize,
    },

    /// No cell carries the control label.
    #[error(
        "no control cells: no cell has the label `{label}` in column `{column}`; labels found: \
         {}{}",
        list(found),
        more_hint(found)
    )]
    NoControl {
        label: String,
        column: String,
        found: Vec<String>,
    },

    /// Parts given to `Dataset::from_parts` do not fit together.
    #[error("{what}: expected {expected}, found {found}")]
    ShapeMismatch {
        what: String,
        expected: usize,
        found: usize,
    },

    /// The input (or its decompressed text) is larger than the configured limit. `bytes` is
    /// the exact size when it is known up front (bytes in memory, a regular file); input read
    /// as a stream (decompressed text, a pipe, a device) is read no further than `limit + 1`
    /// bytes, and `bytes` is then `limit + 1`.
    #[error(
        "the {} is {}, above the limit of {}",
        if *decompressed { "decompressed CSV text" } else { "input" },
        if *decompressed || *bytes == limit.saturating_add(1) {
            format!("more than {}", size_text(*limit))
        } else {
            size_text(*bytes)
        },
        size_text(*limit)
    )]
    TooLarge {
        bytes: usize,
        limit: usize,
        decompressed: bool,
    },

    /// The header has more columns than the limit (checked before the names are kept).
    #[error(
        "the header (line 1) has {found} columns, above the limit of {limit}; a header this wide \
         is usually a transposed table: expected one column per gene and one line per cell"
    )]
    TooManyColumns { found: usize, limit: usize },

    /// More distinct condition labels than the limit; `value` is the first label past it.
    #[error(
        "column `{column}` (column {column_index}) has more than {limit} distinct condition \
         labels: line {line} brings label number {}, {}; at most {limit} are supported, since \
         each label is modelled and scored on its own (is `{column}` really the condition \
         column?)",
        limit.saturating_add(1),
        quoted(value)
    )]
    TooManyConditions {
        line: u64,
        column: String,
        column_index: usize,
        value: String,
        limit: usize,
    },

    /// More distinct single perturbations (combinations split on `+`) than the limit; `value`
    /// is the first single past it.
    #[error(
        "column `{column}` (column {column_index}) has more than {limit} distinct single \
         perturbations once combinations are split on `+`: line {line} brings perturbation \
         number {}, {}; at most {limit} are supported, since each one is a column of the model \
         input",
        limit.saturating_add(1),
        quoted(value)
    )]
    TooManyPerturbations {
        line: u64,
        column: String,
        column_index: usize,
        value: String,
        limit: usize,
    },

    /// A covariate column with more distinct values than the limit; `value` is the first value
    /// past it.
    #[error(
        "covariate column `{column}` (column {column_index}) has more than {limit} distinct \
         values: line {line} brings value number {}, {}; at most {limit} levels are supported \
         per covariate, since each level is a column of the model input",
        limit.saturating_add(1),
        quoted(value)
    )]
    TooManyLevels {
        line: u64,
        column: String,
        column_index: usize,
        value: String,
        limit: usize,
    },

    /// A covariate column in which more than half of the cells have a value of their own.
    #[error(
        "covariate column `{column}` (column {column_index}) has {levels} distinct values in \
         {cells} cells, more than half as many as there are cells: it looks like an identifier \
         (e.g. a barcode), not a categorical covariate; leave it out of the covariates, or \
         choose a column that groups cells, such as cell type, donor or batch"
    )]
    IdentifierCovariate {
        column: String,
        column_index: usize,
        levels: usize,
        cells: usize,
    },

    /// A table built from the data (the expression values, the model input) whose
    /// cells × columns cannot be held in memory.
    #[error(
        "{what} would be a table of {cells} cells × {columns} columns ({} values of 4 bytes), \
         too large to hold in memory on this platform; use fewer cells or columns",
        *cells as u128 * *columns as u128
    )]
    TableTooLarge {
        what: String,
        cells: usize,
        columns: usize,
    },

    /// Gzip magic bytes, but the stream is corrupt or truncated.
    #[error(
        "the input starts like a gzip file (bytes 1f 8b) but could not be decompressed: {message}"
    )]
    Gzip { message: String },

    /// Bytes that are not UTF-8 text.
    #[error("line {line} is not valid UTF-8 text; save the file with UTF-8 encoding")]
    Encoding { line: u64 },

    /// Any other CSV syntax problem reported by the reader.
    #[error("line {line}: could not read the CSV: {message}")]
    Csv { line: u64, message: String },

    /// The file could not be read.
    #[error("cannot read `{path}`: {message}")]
    Io { path: String, message: String },

    /// An AnnData or 10x input that cannot be read as asked.
    #[error(transparent)]
    Format(#[from] super::FormatError),
}

impl DataError {
    /// The error for a table (`what`) whose shape [`SizeError`] refused.
    pub(crate) fn table_too_large(what: &str, e: SizeError) -> DataError {
        DataError::TableTooLarge {
            what: what.to_string(),
            cells: e.rows,
            columns: e.cols,
        }
    }
}

/// Shortens a field value for an error message (long values are cut, with an ellipsis).
pub(crate) fn clip_value(value: &str) -> String {
    if value.chars().count() <= MAX_VALUE_CHARS {
        value.to_string()
    } else {
        let mut s: String = value.chars().take(MAX_VALUE_CHARS).collect();
        s.push('…');
        s
    }
}

/// The first few names, cloned: one more than a message lists, so it can tell there are more.
pub(crate) fn first_few<S: AsRef<str>>(names: &[S]) -> Vec<String> {
    names
        .iter()
        .take(MAX_LISTED + 1)
        .map(|s| s.as_ref().to_string())
        .collect()
}

fn quoted(value: &str) -> String {
    format!("{value:?}")
}

pub(crate) fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    names
        .iter()
        .take(MAX_LISTED)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn more_hint(names: &[String]) -> &'static str {
    if names.len() > MAX_LISTED {
        ", …"
    } else {
        ""
    }
}

fn empty_hint(value: &str) -> &'static str {
    if value.is_empty() {
        " (an empty field is not read as zero; write 0 if the value is zero)"
    } else {
        ""
    }
}

/// A size for people: MiB from one MiB up (whole when exact), bytes below.
fn size_text(bytes: usize) -> String {
    const MIB: usize = 1 << 20;
    if bytes < MIB {
        format!("{bytes} bytes")
    } else if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}
