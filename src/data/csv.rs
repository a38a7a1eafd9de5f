//! Parsing CSV bytes (plain or gzip-compressed) into a [`Dataset`].

use std::fs::File;
use std::io::Read;
use std::path::Path;

use ::csv::{ByteRecord, ReaderBuilder, Trim};
use flate2::read::MultiGzDecoder;

use super::options::validate_options;
use super::validate::{
    Layout, Tally, ValueProblem, check_columns, finish, is_integer, normalise_condition,
};
use super::{DataError, Dataset, LoadOptions, sha256_hex};
use crate::matrix::Matrix;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const UTF8_BOM: [u8; 3] = [0xef, 0xbb, 0xbf];

/// Reads a file and parses it with [`parse_csv`], never holding more than `opts.max_bytes + 1`
/// bytes of it. A regular file larger than the limit is rejected from its size before any of it
/// is read; anything else (a pipe, `/dev/stdin`, a device) is read up to one byte past the
/// limit and rejected there.
pub fn load_path(path: &Path, opts: &LoadOptions) -> Result<Dataset, DataError> {
    validate_options(opts)?;
    let io_error = |e: std::io::Error| DataError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let limit = opts.max_bytes;
    let too_large = |bytes: usize| DataError::TooLarge {
        bytes,
        limit,
        decompressed: false,
    };
    let file = File::open(path).map_err(io_error)?;
    let meta = file.metadata().map_err(io_error)?;
    let mut bytes = Vec::new();
    if meta.is_file() {
        let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
        if len > limit {
            return Err(too_large(len));
        }
        bytes.reserve_exact(len);
    }
    // Bounded in every case: a pipe or a device has no size to check up front, and a regular
    // file may grow after its size was read.
    file.take((limit as u64).saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() > limit {
        return Err(too_large(bytes.len()));
    }
    parse_csv(&bytes, opts)
}

/// Parses a cells × genes CSV (optionally gzip-compressed, recognised by its magic bytes) into
/// a [`Dataset`]. A UTF-8 byte-order mark, CRLF line endings, quoted fields and whitespace
/// around fields are accepted; blank lines are skipped. Every other irregularity is an error.
pub fn parse_csv(bytes: &[u8], opts: &LoadOptions) -> Result<Dataset, DataError> {
    validate_options(opts)?;
    if bytes.len() > opts.max_bytes {
        return Err(DataError::TooLarge {
            bytes: bytes.len(),
            limit: opts.max_bytes,
            decompressed: false,
        });
    }
    let sha256 = sha256_hex(bytes);
    let decompressed;
    let text: &[u8] = if bytes.starts_with(&GZIP_MAGIC) {
        decompressed = gunzip(bytes, opts.max_bytes)?;
        &decompressed
    } else {
        bytes
    };
    let text = text.strip_prefix(&UTF8_BOM).unwrap_or(text);
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err(DataError::Empty);
    }

    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(Trim::All)
        .from_reader(text);
    let mut record = ByteRecord::new();

    let mut lines_seen = LineCounter::new(text);

    // Header: the first non-blank record.
    let header_line = loop {
        if !read_record(&mut reader, &mut record, &mut lines_seen)? {
            return Err(DataError::Empty);
        }
        if !is_blank(&record) {
            break lines_seen.line_of(&record);
        }
    };
    check_columns(record.len(), opts)?;
    let mut header = Vec::with_capacity(record.len());
    for field in &record {
        header.push(utf8(field, header_line)?.to_string());
    }
    let layout = Layout::from_header(&header, opts)?;
    let n_cols = header.len();
    let control = opts.control_label.trim();
    let cond_name = header[layout.condition].as_str();
    let n_genes = layout.genes.len();
    let mut tally = Tally::new(&header, &layout, control, opts);

    let mut lines: Vec<u64> = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    let mut covariates: Vec<Vec<String>> = vec![Vec::new(); layout.covariates.len()];
    let mut data: Vec<f32> = Vec::new();
    let mut is_counts = true;
    while read_record(&mut reader, &mut record, &mut lines_seen)? {
        if is_blank(&record) {
            continue;
        }
        let line = lines_seen.line_of(&record);
        if record.len() != n_cols {
            return Err(DataError::Ragged {
                line,
                expected: n_cols,
                found: record.len(),
            });
        }
        let field = |i: usize| record.get(i).unwrap_or(b"");

        let cell = conditions.len();
        let label = utf8(field(layout.condition), line)?;
        let label = normalise_condition(label, control, line, cond_name, layout.condition + 1)?;
        tally.condition(&label, line)?;
        conditions.push(label);
        for (k, &c) in layout.covariates.iter().enumerate() {
            let value = utf8(field(c), line)?;
            if value.is_empty() {
                return Err(DataError::EmptyCovariate {
                    line,
                    column: header[c].clone(),
                    column_index: c + 1,
                });
            }
            tally.covariate(k, value, line, cell)?;
            covariates[k].push(value.to_string());
        }
        data.try_reserve(n_genes)
            .map_err(|_| DataError::TableTooLarge {
                what: "the expression values".to_string(),
                cells: cell + 1,
                columns: n_genes,
            })?;
        for &g in &layout.genes {
            let raw = field(g);
            match parse_value(raw) {
                Ok(v) => {
                    is_counts &= is_integer(v);
                    data.push(v);
                }
                Err(Some(problem)) => {
                    let value = utf8(raw, line)?;
                    return Err(problem.into_error(line, &header[g], g + 1, value));
                }
                Err(None) => return Err(DataError::Encoding { line }),
            }
        }
        lines.push(line);
    }
    if conditions.is_empty() {
        return Err(DataError::HeaderOnly);
    }

    let n_cells = conditions.len();
    tally.finish(n_cells)?;
    let ds = Dataset {
        genes: layout.genes.iter().map(|&g| header[g].clone()).collect(),
        values: Matrix {
            rows: n_cells,
            cols: n_genes,
            data,
        },
        conditions,
        condition_column: cond_name.to_string(),
        control_label: control.to_string(),
        covariate_names: layout
            .covariates
            .iter()
            .map(|&c| header[c].clone())
            .collect(),
        covariates,
        is_counts,
        sha256,
        warnings: Vec::new(),
    };
    finish(ds, &lines, opts.min_cells_per_condition)
}

/// Decompresses gzip input (all members), stopping as soon as the output exceeds `limit`.
fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(limit));
    let cap = (limit as u64).saturating_add(1);
    MultiGzDecoder::new(bytes)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| DataError::Gzip {
            message: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(DataError::TooLarge {
            bytes: out.len(),
            limit,
            decompressed: true,
        });
    }
    Ok(out)
}

/// Reads the next record; `Ok(false)` at the end of input.
fn read_record(
    reader: &mut ::csv::Reader<&[u8]>,
    record: &mut ByteRecord,
    lines: &mut LineCounter,
) -> Result<bool, DataError> {
    reader.read_byte_record(record).map_err(|e| {
        let line = lines.line_at(e.position().map_or(0, ::csv::Position::byte));
        match e.kind() {
            ::csv::ErrorKind::Utf8 { .. } => DataError::Encoding { line },
            _ => DataError::Csv {
                line,
                message: e.to_string(),
            },
        }
    })
}

/// Turns byte offsets into 1-based file lines.
///
/// The line numbers kept by the CSV reader do not count the empty lines it skips, so lines
/// are counted here from the byte offsets instead. Offsets only move forward, so the counting
/// is incremental and the whole text is scanned once.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the first byte of `record`.
    fn line_of(&mut self, record: &ByteRecord) -> u64 {
        let byte = record
            .position()
            .map_or(self.offset as u64, ::csv::Position::byte);
        self.line_at(byte)
    }

    /// The line holding the byte at `byte`, after skipping any line breaks there (a record
    /// never starts with one, but its recorded start may precede the empty lines skipped).
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut target = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while target < self.text.len() && matches!(self.text[target], b'\r' | b'\n') {
            target += 1;
        }
        if target > self.offset {
            let newlines = self.text[self.offset..target]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.line += newlines as u64;
            self.offset = target;
        }
        self.line
    }
}

/// A line holding nothing but whitespace (the reader already skips truly empty lines).
fn is_blank(record: &ByteRecord) -> bool {
    record.len() == 1 && record.get(0).is_some_and(<[u8]>::is_empty)
}

fn utf8(field: &[u8], line: u64) -> Result<&str, DataError> {
    std::str::from_utf8(field).map_err(|_| DataError::Encoding { line })
}

/// Parses one gene value. `Err(None)` means the bytes are not UTF-8.
fn parse_value(raw: &[u8]) -> Result<f32, Option<ValueProblem>> {
    // Fast path: short runs of ASCII digits (the bulk of a counts matrix) are exact integers.
    if !raw.is_empty() && raw.len() <= 15 && raw.iter().all(u8::is_ascii_digit) {
        let n = raw
            .iter()
            .fold(0u64, |acc, &b| acc * 10 + u64::from(b - b'0'));
        return Ok(n as f32);
    }
    let text = std::str::from_utf8(raw).map_err(|_| None)?;
    let v: f32 = text.parse().map_err(|_| Some(ValueProblem::NonNumeric))?;
    if !v.is_finite() {
        Err(Some(ValueProblem::NonFinite))
    } else if v < 0.0 {
        Err(Some(ValueProblem::Negative))
    } else {
        Ok(v + 0.0) // turns -0.0 into 0.0
    }
}
