//! AnnData matrices read a window at a time: dense 2-D datasets by row windows, CSR and CSC
//! groups (`data`, `indices`, `indptr` and a `shape` attribute) by windows of stored entries.

use hdf5_pure::{Dataset, File};

use super::hdf::{
    attr_ints, attr_text, attrs_of_group, dataset, hdf5_error, is_group, shape, whole,
};
use crate::data::cells::Entries;
use crate::data::{DataError, FormatError};

/// Values read per window (about 4 MB of `f32`).
const WINDOW: usize = 1 << 20;

/// Stored entries of a sparse matrix kept in memory after the first pass (8 bytes each, so
/// at most 128 MB), so the later passes do not decompress the file again.
const CACHED_ENTRIES: u64 = 16 << 20;

/// A matrix in the file.
pub(super) enum Stored {
    Dense {
        name: String,
        data: Dataset,
        rows: usize,
        cols: usize,
    },
    /// `by_row`: CSR (index pointers per cell); else CSC (per gene).
    Sparse {
        name: String,
        by_row: bool,
        data: Dataset,
        indices: Dataset,
        indptr: Vec<u64>,
        rows: usize,
        cols: usize,
        /// `(data, indices)` once read, when small enough to keep.
        cache: std::cell::OnceCell<(Vec<f32>, Vec<u32>)>,
    },
}

impl Stored {
    /// Opens the matrix at `path`; nothing but the index pointers is read yet.
    pub(super) fn open(file: &File, path: &str) -> Result<Stored, DataError> {
        let bad = |message: String| -> DataError {
            FormatError::MatrixShape {
                matrix: path.to_string(),
                message,
            }
            .into()
        };
        if !is_group(file, path) {
            let data = dataset(file, path)?;
            let dims = shape(&data, path)?;
            let [rows, cols] = dims[..] else {
                return Err(bad(format!("it has {} dimensions, expected 2", dims.len())));
            };
            return Ok(Stored::Dense {
                name: path.to_string(),
                data,
                rows,
                cols,
            });
        }
        let g = file.group(path).map_err(|e| hdf5_error(path, e))?;
        let attrs = attrs_of_group(&g, path)?;
        let enc = attr_text(&attrs, "encoding-type").unwrap_or_default();
        let by_row = match enc.as_str() {
            "csr_matrix" => true,
            "csc_matrix" => false,
            other => {
                return Err(FormatError::UnsupportedEncoding {
                    path: path.to_string(),
                    encoding: other.to_string(),
                    expected: "array, csr_matrix or csc_matrix",
                }
                .into());
            }
        };
        let dims = attr_ints(&attrs, "shape").unwrap_or_default();
        let [rows, cols] = dims[..] else {
            return Err(bad("its `shape` attribute is not two integers".into()));
        };
        let (Ok(rows), Ok(cols)) = (usize::try_from(rows), usize::try_from(cols)) else {
            return Err(bad(format!("its shape {rows} × {cols} is negative")));
        };
        let data = dataset(file, &format!("{path}/data"))?;
        let indices = dataset(file, &format!("{path}/indices"))?;
        let ptr_path = format!("{path}/indptr");
        let indptr_raw = whole(file, &ptr_path, 8)?
            .read_i64()
            .map_err(|e| hdf5_error(&ptr_path, e))?;
        let major = if by_row { rows } else { cols };
        if indptr_raw.len() != major.saturating_add(1) {
            return Err(bad(format!(
                "indptr has {} entries, expected {} (one more than its {})",
                indptr_raw.len(),
                major.saturating_add(1),
                if by_row { "rows" } else { "columns" }
            )));
        }
        let mut indptr = Vec::with_capacity(indptr_raw.len());
        let mut last = 0u64;
        for &p in &indptr_raw {
            let p = u64::try_from(p).map_err(|_| bad(format!("indptr holds {p}")))?;
            if p < last {
                return Err(bad("indptr decreases".into()));
            }
            last = p;
            indptr.push(p);
        }
        let nnz = shape(&data, path)?.first().copied().unwrap_or(0);
        let n_idx = shape(&indices, path)?.first().copied().unwrap_or(0);
        if nnz as u64 != last || n_idx as u64 != last {
            return Err(bad(format!(
                "data has {nnz} and indices {n_idx} entries, but indptr ends at {last}"
            )));
        }
        Ok(Stored::Sparse {
            name: path.to_string(),
            by_row,
            data,
            indices,
            indptr,
            rows,
            cols,
            cache: std::cell::OnceCell::new(),
        })
    }

    pub(super) fn storage(&self) -> &'static str {
        match self {
            Stored::Dense { .. } => "dense",
            Stored::Sparse { by_row: true, .. } => "csr",
            Stored::Sparse { by_row: false, .. } => "csc",
        }
    }
}

impl Entries for Stored {
    fn name(&self) -> &str {
        match self {
            Stored::Dense { name, .. } | Stored::Sparse { name, .. } => name,
        }
    }

    fn rows(&self) -> usize {
        match self {
            Stored::Dense { rows, .. } | Stored::Sparse { rows, .. } => *rows,
        }
    }

    fn cols(&self) -> usize {
        match self {
            Stored::Dense { cols, .. } | Stored::Sparse { cols, .. } => *cols,
        }
    }

    fn visit(
        &self,
        f: &mut dyn FnMut(usize, usize, f32) -> Result<(), DataError>,
    ) -> Result<(), DataError> {
        match self {
            Stored::Dense {
                name,
                data,
                rows,
                cols,
            } => {
                let step = (WINDOW / (*cols).max(1)).max(1);
                let mut start = 0usize;
                while start < *rows {
                    let n = step.min(rows - start);
                    let block = data
                        .read_f32_rows(start as u64, n as u64)
                        .map_err(|e| hdf5_error(name, e))?;
                    if block.len() != n * cols {
                        return Err(FormatError::MatrixShape {
                            matrix: name.clone(),
                            message: format!(
                                "rows {start}.. hold {} values, expected {}",
                                block.len(),
                                n * cols
                            ),
                        }
                        .into());
                    }
                    for (k, &v) in block.iter().enumerate() {
                        f(start + k / cols, k % cols, v)?;
                    }
                    start += n;
                }
                Ok(())
            }
            Stored::Sparse {
                name,
                by_row,
                data,
                indices,
                indptr,
                rows,
                cols,
                cache,
            } => {
                let minor_len = if *by_row { *cols } else { *rows };
                let nnz = indptr.last().copied().unwrap_or(0);
                let bad_index = |j: i64, at: u64| -> DataError {
                    FormatError::MatrixShape {
                        matrix: name.clone(),
                        message: format!("index {j} at entry {at} is outside 0..{minor_len}"),
                    }
                    .into()
                };
                let mut emit = |major: usize, minor: usize, v: f32| {
                    if *by_row {
                        f(major, minor, v)
                    } else {
                        f(minor, major, v)
                    }
                };
                if let Some((vals, idx)) = cache.get() {
                    let mut major = 0usize;
                    for (at, (&v, &j)) in vals.iter().zip(idx).enumerate() {
                        while indptr.get(major + 1).is_some_and(|&end| end <= at as u64) {
                            major += 1;
                        }
                        emit(major, j as usize, v)?;
                    }
                    return Ok(());
                }
                let keep = nnz <= CACHED_ENTRIES && u32::try_from(minor_len).is_ok();
                let (mut all_vals, mut all_idx) = (Vec::new(), Vec::new());
                let mut major = 0usize;
                let mut pos = 0u64;
                while pos < nnz {
                    let n = (WINDOW as u64).min(nnz - pos);
                    let vals = data
                        .read_f32_rows(pos, n)
                        .map_err(|e| hdf5_error(name, e))?;
                    let idx = indices
                        .read_i64_rows(pos, n)
                        .map_err(|e| hdf5_error(name, e))?;
                    if vals.len() as u64 != n || idx.len() as u64 != n {
                        return Err(FormatError::MatrixShape {
                            matrix: name.clone(),
                            message: format!("entries {pos}.. could not all be read"),
                        }
                        .into());
                    }
                    for (k, (&v, &j)) in vals.iter().zip(&idx).enumerate() {
                        let at = pos + k as u64;
                        while indptr.get(major + 1).is_some_and(|&end| end <= at) {
                            major += 1;
                        }
                        let minor = usize::try_from(j)
                            .ok()
                            .filter(|&j| j < minor_len)
                            .ok_or_else(|| bad_index(j, at))?;
                        emit(major, minor, v)?;
                        if keep {
                            all_vals.push(v);
                            all_idx.push(minor as u32);
                        }
                    }
                    pos += n;
                }
                if keep {
                    let _ = cache.set((all_vals, all_idx));
                }
                Ok(())
            }
        }
    }
}
