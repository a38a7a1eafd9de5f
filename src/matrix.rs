//! A small dense row-major matrix: the currency between data loading, preprocessing,
//! baselines and metrics, all of which run on the host (not on the tensor device).

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A matrix shape whose storage cannot be held: `rows × cols` overflows, exceeds the largest
/// allocation the platform allows, or the allocation itself failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error(
    "the table is too large: {rows} rows × {cols} columns ({} values of 4 bytes) cannot be held \
     in memory on this platform",
    value_count(*rows, *cols)
)]
pub struct SizeError {
    pub rows: usize,
    pub cols: usize,
}

/// `rows × cols` as text, exact even when it overflows `usize`.
fn value_count(rows: usize, cols: usize) -> String {
    (rows as u128 * cols as u128).to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    /// Row-major values, `rows * cols` long.
    pub data: Vec<f32>,
}

impl Matrix {
    /// Number of values of a `rows × cols` matrix, if its storage can exist at all: the count
    /// must not overflow `usize` and its size in bytes must stay within `isize::MAX`, the
    /// largest allocation Rust allows (2 GiB on 32-bit targets such as wasm32).
    pub fn checked_len(rows: usize, cols: usize) -> Result<usize, SizeError> {
        rows.checked_mul(cols)
            .filter(|&n| {
                n.checked_mul(std::mem::size_of::<f32>())
                    .is_some_and(|bytes| bytes <= isize::MAX as usize)
            })
            .ok_or(SizeError { rows, cols })
    }

    /// A zero matrix whose shape comes from outside data: refuses a shape that overflows or
    /// cannot be allocated instead of wrapping or aborting.
    pub fn try_zeros(rows: usize, cols: usize) -> Result<Self, SizeError> {
        let len = Self::checked_len(rows, cols)?;
        let mut data = Vec::new();
        data.try_reserve_exact(len)
            .map_err(|_| SizeError { rows, cols })?;
        data.resize(len, 0.0);
        Ok(Self { rows, cols, data })
    }

    /// A zero matrix of a size the caller controls. Panics (rather than wrapping) if
    /// `rows × cols` overflows; use [`Matrix::try_zeros`] for sizes taken from input data.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        let len = rows
            .checked_mul(cols)
            .unwrap_or_else(|| panic!("{}", SizeError { rows, cols }));
        Self {
            rows,
            cols,
            data: vec![0.0; len],
        }
    }

    /// Panics if `data.len() != rows * cols`: callers build `data` themselves.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f32>) -> Self {
        assert_eq!(
            Some(data.len()),
            rows.checked_mul(cols),
            "matrix data does not match its shape"
        );
        Self { rows, cols, data }
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.cols + j]
    }

    /// The rows at `idx`, in that order.
    pub fn select_rows(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            rows: idx.len(),
            cols: self.cols,
            data,
        }
    }

    /// The columns at `idx`, in that order.
    pub fn select_cols(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(self.rows * idx.len());
        for i in 0..self.rows {
            let row = self.row(i);
            data.extend(idx.iter().map(|&j| row[j]));
        }
        Matrix {
            rows: self.rows,
            cols: idx.len(),
            data,
        }
    }

    /// Column means in f64 (accumulated in f64 so large cell counts stay exact enough).
    /// An empty matrix gives zeros.
    pub fn col_means(&self) -> Vec<f64> {
        let mut m = vec![0.0f64; self.cols];
        for i in 0..self.rows {
            for (acc, &v) in m.iter_mut().zip(self.row(i)) {
                *acc += v as f64;
            }
        }
        if self.rows > 0 {
            for v in &mut m {
                *v /= self.rows as f64;
            }
        }
        m
    }

    /// Population column variances in f64.
    pub fn col_vars(&self) -> Vec<f64> {
        let mean = self.col_means();
        let mut var = vec![0.0f64; self.cols];
        for i in 0..self.rows {
            for ((acc, &v), m) in var.iter_mut().zip(self.row(i)).zip(&mean) {
                let d = v as f64 - m;
                *acc += d * d;
            }
        }
        if self.rows > 0 {
            for v in &mut var {
                *v /= self.rows as f64;
            }
        }
        var
    }

    pub fn row_sums(&self) -> Vec<f64> {
        (0..self.rows)
            .map(|i| self.row(i).iter().map(|&v| v as f64).sum())
            .collect()
    }

    /// Stack matrices with the same number of columns on top of each other.
    pub fn vstack(parts: &[&Matrix]) -> Matrix {
        let cols = parts.first().map_or(0, |m| m.cols);
        let mut data = Vec::new();
        let mut rows = 0;
        for m in parts {
            assert_eq!(m.cols, cols, "vstack of matrices with different widths");
            data.extend_from_slice(&m.data);
            rows += m.rows;
        }
        Matrix { rows, cols, data }
    }
}
