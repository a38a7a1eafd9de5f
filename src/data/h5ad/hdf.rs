//! Small helpers over `hdf5-pure`: typed errors naming the object, AnnData's string
//! attributes, and a check of each dataset's compression before it is read.

use std::collections::HashMap;

use hdf5_pure::{AttrValue, Dataset, File, Group};

use crate::data::options::MAX_INPUT_BYTES;
use crate::data::{DataError, FormatError};

/// Filters the reader can undo: deflate (gzip), shuffle, fletcher32, scale-offset, LZF.
const READABLE_FILTERS: &[u16] = &[1, 2, 3, 6, 32000];

pub(super) fn hdf5_error(path: &str, e: hdf5_pure::Error) -> DataError {
    FormatError::Hdf5 {
        path: path.to_string(),
        message: e.to_string(),
    }
    .into()
}

/// Opens the bytes, refusing anything without the HDF5 signature first.
pub(super) fn open(bytes: Vec<u8>) -> Result<File, DataError> {
    if !hdf5_pure::is_hdf5_bytes(&bytes) {
        return Err(FormatError::NotHdf5.into());
    }
    File::from_bytes(bytes).map_err(|e| hdf5_error("/", e))
}

/// An object's attributes (empty when it has none).
pub(super) fn attrs_of_group(
    g: &Group,
    path: &str,
) -> Result<HashMap<String, AttrValue>, DataError> {
    g.attrs().map_err(|e| hdf5_error(path, e))
}

pub(super) fn attrs_of_dataset(
    d: &Dataset,
    path: &str,
) -> Result<HashMap<String, AttrValue>, DataError> {
    d.attrs().map_err(|e| hdf5_error(path, e))
}

/// A string attribute, whichever string form h5py gave it.
pub(super) fn attr_text(attrs: &HashMap<String, AttrValue>, key: &str) -> Option<String> {
    match attrs.get(key)? {
        AttrValue::String(s) | AttrValue::AsciiString(s) | AttrValue::VarLenString(s) => {
            Some(s.clone())
        }
        AttrValue::StringSized { value, .. } | AttrValue::AsciiStringSized { value, .. } => {
            Some(value.clone())
        }
        AttrValue::StringArray(v)
        | AttrValue::AsciiStringArray(v)
        | AttrValue::VarLenStringArray(v)
        | AttrValue::VarLenAsciiCharArray(v)
            if v.len() == 1 =>
        {
            v.first().cloned()
        }
        _ => None,
    }
}

/// A string-array attribute (`column-order`); an empty numeric array (how h5py writes an empty
/// list) is an empty list.
pub(super) fn attr_texts(attrs: &HashMap<String, AttrValue>, key: &str) -> Option<Vec<String>> {
    match attrs.get(key)? {
        AttrValue::StringArray(v)
        | AttrValue::AsciiStringArray(v)
        | AttrValue::VarLenStringArray(v)
        | AttrValue::VarLenAsciiCharArray(v) => Some(v.clone()),
        AttrValue::StringArraySized { values, .. }
        | AttrValue::AsciiStringArraySized { values, .. } => Some(values.clone()),
        AttrValue::F64Array(v) if v.is_empty() => Some(Vec::new()),
        AttrValue::F32Array(v) if v.is_empty() => Some(Vec::new()),
        other => {
            attr_text(&HashMap::from([(key.to_string(), other.clone())]), key).map(|s| vec![s])
        }
    }
}

/// An integer-array attribute (a sparse matrix's `shape`).
pub(super) fn attr_ints(attrs: &HashMap<String, AttrValue>, key: &str) -> Option<Vec<i64>> {
    match attrs.get(key)? {
        AttrValue::I64Array(v) => Some(v.clone()),
        AttrValue::I32Array(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
        AttrValue::U64Array(v) => v.iter().map(|&x| i64::try_from(x).ok()).collect(),
        AttrValue::U32Array(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
        _ => None,
    }
}

/// Opens a dataset and refuses a compression it cannot undo, naming it.
pub(super) fn dataset(file: &File, path: &str) -> Result<Dataset, DataError> {
    let d = file.dataset(path).map_err(|e| hdf5_error(path, e))?;
    if let Some(&id) = d.filters().iter().find(|id| !READABLE_FILTERS.contains(id)) {
        return Err(FormatError::UnsupportedCompression {
            path: path.to_string(),
            filter: filter_name(id),
        }
        .into());
    }
    Ok(d)
}

/// Registered HDF5 filter names of the compressions met in practice.
fn filter_name(id: u16) -> String {
    let name = match id {
        4 => "SZIP",
        307 => "bzip2",
        32001 => "Blosc",
        32004 => "LZ4",
        32008 => "Bitshuffle",
        32015 => "Zstandard",
        32026 => "Blosc2",
        _ => "",
    };
    if name.is_empty() {
        format!("HDF5 filter {id}")
    } else {
        format!("{name} (HDF5 filter {id})")
    }
}

/// A dataset's dimensions as `usize`.
pub(super) fn shape(d: &Dataset, path: &str) -> Result<Vec<usize>, DataError> {
    let dims = d.shape().map_err(|e| hdf5_error(path, e))?;
    dims.iter()
        .map(|&x| {
            usize::try_from(x).map_err(|_| {
                FormatError::MatrixShape {
                    matrix: path.to_string(),
                    message: format!("dimension {x} is too large"),
                }
                .into()
            })
        })
        .collect()
}

/// The AnnData encoding of a group or dataset (`""` when none is recorded).
pub(super) fn encoding(file: &File, path: &str) -> Result<String, DataError> {
    if let Ok(g) = file.group(path) {
        return Ok(attr_text(&attrs_of_group(&g, path)?, "encoding-type").unwrap_or_default());
    }
    let d = file.dataset(path).map_err(|e| hdf5_error(path, e))?;
    Ok(attr_text(&attrs_of_dataset(&d, path)?, "encoding-type").unwrap_or_default())
}

/// Whether `path` names a group.
pub(super) fn is_group(file: &File, path: &str) -> bool {
    file.group(path).is_ok()
}

/// Whether `path` names a dataset.
pub(super) fn is_dataset(file: &File, path: &str) -> bool {
    file.dataset(path).is_ok()
}

/// A 1-D string dataset (`_index`, categories, a text column).
pub(super) fn strings(file: &File, path: &str) -> Result<Vec<String>, DataError> {
    whole(file, path, 16)?
        .read_string()
        .map_err(|e| hdf5_error(path, e))
}

/// A dataset to be read whole, once its declared size is known to be within what a file may
/// hold: a hostile header can declare more values than any memory has, and the reader would
/// try to allocate them. `bytes_per`: the least memory one value takes once read.
pub(super) fn whole(file: &File, path: &str, bytes_per: usize) -> Result<Dataset, DataError> {
    let d = dataset(file, path)?;
    let values = shape(&d, path)?
        .iter()
        .try_fold(1usize, |n, &x| n.checked_mul(x));
    let bytes = values.and_then(|n| n.checked_mul(bytes_per));
    match bytes {
        Some(b) if b <= MAX_INPUT_BYTES => Ok(d),
        _ => Err(FormatError::MatrixShape {
            matrix: path.to_string(),
            message: format!(
                "it declares {} values, more than the {} MiB a file may hold",
                values.map_or_else(|| "too many".to_string(), |n| n.to_string()),
                MAX_INPUT_BYTES >> 20
            ),
        }
        .into()),
    }
}
