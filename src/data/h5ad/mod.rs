//! AnnData `.h5ad` files (anndata ≥ 0.8 layout) through the pure-Rust `hdf5-pure` reader, so
//! the page and the CLI read them the same way: `obs` for conditions and covariates, `var`'s
//! index for gene names, and the counts from `X`, a layer or `raw/X` — dense, CSR or CSC,
//! uncompressed, gzip or LZF.

mod hdf;
mod matrix;
mod obs;
mod write;

use hdf5_pure::File;

pub use self::write::write_h5ad;

use self::matrix::Stored;
use super::cells::{Candidate, FormatOptions, Found, build};
use super::options::validate_options;
use super::{DataError, Dataset, FormatError, LoadOptions, sha256_hex};

/// Whether the bytes start with the HDF5 signature (an `.h5ad` is an HDF5 file).
pub fn is_hdf5(bytes: &[u8]) -> bool {
    hdf5_pure::is_hdf5_bytes(bytes)
}

/// Reads an AnnData file into a [`Dataset`], with what was found and guessed in it.
pub fn parse_h5ad(
    bytes: Vec<u8>,
    opts: &LoadOptions,
    fopts: &FormatOptions,
) -> Result<(Dataset, Found), DataError> {
    validate_options(opts)?;
    if bytes.len() > opts.max_bytes {
        return Err(DataError::TooLarge {
            bytes: bytes.len(),
            limit: opts.max_bytes,
            decompressed: false,
        });
    }
    let sha256 = sha256_hex(&bytes);
    let file = hdf::open(bytes)?;
    if !hdf::is_group(&file, "obs") && !hdf::is_dataset(&file, "obs") {
        return Err(FormatError::NotAnnData {
            message: "it has no `obs` (the cell annotations); expected a file written by \
                      anndata's write_h5ad"
                .into(),
        }
        .into());
    }
    let obs = obs::dataframe(&file, "obs", true)?;
    let genes = obs::dataframe(&file, "var", false)?.index;
    let mut candidates = Vec::new();
    if hdf::is_group(&file, "X") || hdf::is_dataset(&file, "X") {
        candidates.push(candidate(&file, "X", &genes)?);
    }
    for layer in layer_names(&file)? {
        candidates.push(candidate(&file, &format!("layers/{layer}"), &genes)?);
    }
    if hdf::is_group(&file, "raw/X") || hdf::is_dataset(&file, "raw/X") {
        let raw_genes = obs::dataframe(&file, "raw/var", false)?.index;
        candidates.push(candidate(&file, "raw/X", &raw_genes)?);
    }
    if candidates.is_empty() {
        return Err(FormatError::NotAnnData {
            message: "it has no matrix: neither `X`, a layer nor `raw/X`".into(),
        }
        .into());
    }
    build("h5ad", &obs, &candidates, opts, fopts, sha256)
}

fn candidate<'a>(file: &'a File, path: &str, genes: &[String]) -> Result<Candidate<'a>, DataError> {
    let stored = Stored::open(file, path)?;
    let storage = stored.storage();
    Ok(Candidate {
        matrix: Box::new(stored),
        genes: genes.to_vec(),
        storage,
    })
}

/// The members of `layers`, sorted.
fn layer_names(file: &File) -> Result<Vec<String>, DataError> {
    let Ok(g) = file.group("layers") else {
        return Ok(Vec::new());
    };
    let mut names = g.datasets().map_err(|e| hdf::hdf5_error("layers", e))?;
    names.extend(g.groups().map_err(|e| hdf::hdf5_error("layers", e))?);
    names.sort();
    Ok(names)
}
