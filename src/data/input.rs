//! Any supported input, told apart by its bytes rather than its name: AnnData (the HDF5
//! signature), a 10x folder or a tar archive of one (with its metadata table), or CSV.

use std::io::Read;
use std::path::Path;

use super::{
    DataError, Dataset, FormatOptions, Found, LoadOptions, is_archive, is_hdf5, parse_10x,
    parse_csv, parse_h5ad,
};

/// Reads at most `limit` bytes of a file, refusing a larger one.
fn read_bounded(path: &Path, limit: usize) -> Result<Vec<u8>, DataError> {
    let io = |e: std::io::Error| DataError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > limit as u64 {
        return Err(DataError::TooLarge {
            bytes: usize::try_from(len).unwrap_or(usize::MAX),
            limit,
            decompressed: false,
        });
    }
    let mut bytes = Vec::new();
    file.take((limit as u64).saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > limit {
        return Err(DataError::TooLarge {
            bytes: bytes.len(),
            limit,
            decompressed: false,
        });
    }
    Ok(bytes)
}

/// Reads `path` in whichever format its bytes are: an `.h5ad`, a 10x folder or archive (then
/// `metadata` is required), or CSV / CSV.gz. `Found` is `None` for CSV, which has no guesses.
pub fn load_input(
    path: &Path,
    metadata: Option<&Path>,
    opts: &LoadOptions,
    fopts: &FormatOptions,
) -> Result<(Dataset, Option<Found>), DataError> {
    let limit = opts.max_bytes;
    let need_metadata = || -> Result<Vec<u8>, DataError> {
        match metadata {
            Some(m) => read_bounded(m, limit),
            None => Err(super::FormatError::TenX {
                file: path.display().to_string(),
                message: "a 10x matrix has no conditions of its own: give a metadata table \
                          keyed by barcode with --metadata"
                    .into(),
            }
            .into()),
        }
    };
    if path.is_dir() {
        let mut files = Vec::new();
        let entries = std::fs::read_dir(path).map_err(|e| DataError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        for entry in entries.flatten() {
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let base = name.strip_suffix(".gz").unwrap_or(&name);
            if p.is_file()
                && matches!(
                    base,
                    "matrix.mtx" | "barcodes.tsv" | "features.tsv" | "genes.tsv"
                )
            {
                files.push((name, read_bounded(&p, limit)?));
            }
        }
        let meta = need_metadata()?;
        let (ds, found) = parse_10x(files, &meta, opts, fopts)?;
        return Ok((ds, Some(found)));
    }
    let bytes = read_bounded(path, limit)?;
    let named_h5ad = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("h5ad"));
    if is_hdf5(&bytes) || named_h5ad {
        let (ds, found) = parse_h5ad(bytes, opts, fopts)?;
        return Ok((ds, Some(found)));
    }
    if is_archive(&bytes) {
        let meta = need_metadata()?;
        let name = path.display().to_string();
        let (ds, found) = parse_10x(vec![(name, bytes)], &meta, opts, fopts)?;
        return Ok((ds, Some(found)));
    }
    Ok((parse_csv(&bytes, opts)?, None))
}
