//! What can be wrong with an AnnData (`.h5ad`) or 10x input, one variant per rule; each message
//! names the object, column or cell at fault and what to do about it.

use thiserror::Error;

use super::error::{list, more_hint};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormatError {
    /// Bytes without the HDF5 signature given as `.h5ad`.
    #[error(
        "this is not an HDF5 file (no HDF5 signature in its first bytes), so not an AnnData .h5ad; \
         expected a file written by anndata's write_h5ad"
    )]
    NotHdf5,

    /// An HDF5 file without AnnData's layout.
    #[error("this HDF5 file is not AnnData: {message}")]
    NotAnnData { message: String },

    /// The HDF5 reader refused an object.
    #[error("cannot read `{path}` in the HDF5 file: {message}")]
    Hdf5 { path: String, message: String },

    /// An AnnData element encoding the reader does not know.
    #[error(
        "`{path}` has the AnnData encoding `{encoding}`, which cellshift cannot read (expected \
         {expected})"
    )]
    UnsupportedEncoding {
        path: String,
        encoding: String,
        expected: &'static str,
    },

    /// A compression filter the reader does not have.
    #[error(
        "`{path}` is compressed with {filter}, which cellshift cannot decompress (gzip and LZF \
         can be read); re-save it with gzip, e.g. adata.write_h5ad(path, compression=\"gzip\")"
    )]
    UnsupportedCompression { path: String, filter: String },

    /// The asked condition or covariate column is not in `obs`.
    #[error(
        "the {role} column `{column}` is not among the cell annotations (obs); columns found: {}{}",
        list(found),
        more_hint(found)
    )]
    MissingObsColumn {
        column: String,
        role: &'static str,
        found: Vec<String>,
    },

    /// No column was named and none looks like a condition column.
    #[error(
        "no condition column was found among the cell annotations (obs): none is named like one \
         (condition, perturbation, guide_identity, …) or holds a control label (ctrl, control, \
         non-targeting, NT); name it with --condition-column; columns found: {}{}",
        list(found),
        more_hint(found)
    )]
    NoConditionColumn { found: Vec<String> },

    /// A cell without a value in the condition or a covariate column.
    #[error("cell `{cell}` has no value in column `{column}`; every cell needs one")]
    MissingObsValue { column: String, cell: String },

    /// No label was named and none is a conventional control label.
    #[error(
        "column `{column}` holds no conventional control label (ctrl, control, non-targeting, \
         NT); name the label of control cells with --control-label; labels found: {}{}",
        list(found),
        more_hint(found)
    )]
    NoControlGuess { column: String, found: Vec<String> },

    /// Several conventional control labels.
    #[error(
        "column `{column}` holds several control-like labels ({}); choose the one of control \
         cells with --control-label",
        list(candidates)
    )]
    AmbiguousControl {
        column: String,
        candidates: Vec<String>,
    },

    /// `_` both joins combinations and appears inside names.
    #[error(
        "column `{column}` uses `_` both ways: `{combination}` looks like a combination of two \
         labels found alone, while `{name}` looks like a name holding `_`; choose with \
         --combination _ (join) or --combination none (part of names)"
    )]
    AmbiguousJoiner {
        column: String,
        combination: String,
        name: String,
    },

    /// The asked matrix does not exist.
    #[error("there is no matrix `{name}`; matrices found: {}", list(found))]
    MissingMatrix { name: String, found: Vec<String> },

    /// A matrix whose parts disagree (shape, index pointers, indices).
    #[error("matrix `{matrix}` is malformed: {message}")]
    MatrixShape { matrix: String, message: String },

    /// A negative or non-finite value in the chosen matrix.
    #[error("matrix `{matrix}`, cell `{cell}`, gene `{gene}`: found {value}, which is {problem}")]
    MatrixValue {
        matrix: String,
        cell: String,
        gene: String,
        value: String,
        problem: &'static str,
    },

    /// The negative binomial was asked for on a matrix that is not counts.
    #[error(
        "the negative binomial likelihood needs integer counts, but matrix `{matrix}` holds other \
         values{}; choose a counts matrix with --layer, or --likelihood gaussian",
        if counts.is_empty() { String::new() } else { format!(" (counts are in: {})", list(counts)) }
    )]
    NotCounts { matrix: String, counts: Vec<String> },

    /// A 10x file is missing or malformed.
    #[error("10x input, {file}: {message}")]
    TenX { file: String, message: String },

    /// A barcode of the matrix has no row in the metadata table.
    #[error(
        "barcode `{barcode}` (cell {cell} of the matrix) has no row in the metadata table; every \
         cell needs its condition there"
    )]
    MissingBarcode { barcode: String, cell: usize },
}
