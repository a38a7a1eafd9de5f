//! Loading a cells × genes table into a [`Dataset`]: from CSV (below), from AnnData `.h5ad`
//! ([`parse_h5ad`]) or 10x Matrix Market ([`parse_10x`]), or whichever the bytes are
//! ([`load_input`]). The last two report what they found and guessed in a [`Found`].
//!
//! The file has one row per cell. A `condition` column (the name is configurable) holds the
//! control label (`control` by default) for control cells, `A` for a single perturbation and
//! `A+B` for a combination. Optional categorical covariate columns (e.g. `cell_type`) are picked
//! by the caller; every other column is a gene, holding raw counts or non-negative
//! log-normalised values. Gzip-compressed input is recognised by its magic bytes.
//!
//! The core works on bytes ([`parse_csv`]) so it runs unchanged in the browser; [`load_path`]
//! is a convenience for the command line. Every rule the input must follow has its own
//! [`DataError`] variant, whose message points at the line and column at fault.

mod cells;
mod csv;
mod dataset;
mod error;
mod format_error;
mod h5ad;
mod input;
mod options;
mod tenx;
mod validate;

pub use self::cells::{
    CONTROL_LABELS, FormatOptions, Found, Joiner, MAX_DENSE_VALUES, MatrixInfo, ObsInfo,
    is_control_like,
};
pub use self::csv::{load_path, parse_csv};
pub use self::dataset::Dataset;
pub(crate) use self::dataset::sha256_hex;
pub use self::error::DataError;
pub use self::format_error::FormatError;
pub use self::h5ad::{is_hdf5, parse_h5ad, write_h5ad};
pub use self::input::load_input;
pub use self::options::{
    IDENTIFIER_MIN_CELLS, LoadOptions, MAX_COLUMNS, MAX_CONDITIONS, MAX_COVARIATE_LEVELS,
    MAX_INPUT_BYTES, MAX_PERTURBATIONS,
};
pub use self::tenx::{is_archive, parse_10x};
