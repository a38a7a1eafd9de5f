//! 10x Genomics Matrix Market output — `matrix.mtx(.gz)`, `barcodes.tsv(.gz)` and
//! `features.tsv(.gz)` (or the older `genes.tsv`), given as files or as one `.tar(.gz)` — with
//! a metadata table (CSV or TSV) that gives each barcode its condition and covariates.

mod mtx;
mod tar;

use std::io::Read;

use ::csv::ReaderBuilder;
use flate2::read::MultiGzDecoder;

use self::mtx::Mtx;
use super::cells::{Candidate, FormatOptions, Found, Obs, ObsValues, build};
use super::options::validate_options;
use super::{DataError, Dataset, FormatError, LoadOptions, sha256_hex};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Metadata columns that hold the barcode (compared ignoring case); an unnamed first column
/// (how pandas writes an index) counts too.
const BARCODE_COLUMNS: &[&str] = &[
    "barcode",
    "barcodes",
    "cell",
    "cell_barcode",
    "cell_id",
    "obs_names",
    "index",
];

fn tenx_error(file: &str, message: String) -> DataError {
    FormatError::TenX {
        file: file.to_string(),
        message,
    }
    .into()
}

/// Whether the bytes are a tar archive, plain or gzip-compressed (sniffed from the first
/// decompressed block).
pub fn is_archive(bytes: &[u8]) -> bool {
    if bytes.starts_with(&GZIP_MAGIC) {
        let mut head = Vec::with_capacity(512);
        let _ = MultiGzDecoder::new(bytes).take(512).read_to_end(&mut head);
        tar::is_tar(&head)
    } else {
        tar::is_tar(bytes)
    }
}

/// Decompresses gzip input (recognised by its bytes), never past `limit`.
fn maybe_gunzip(name: &str, bytes: Vec<u8>, limit: usize) -> Result<Vec<u8>, DataError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes.as_slice())
        .take((limit as u64).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| tenx_error(name, format!("cannot decompress it: {e}")))?;
    if out.len() > limit {
        return Err(DataError::TooLarge {
            bytes: out.len(),
            limit,
            decompressed: true,
        });
    }
    Ok(out)
}

/// Reads a 10x matrix. `files` are `(name, bytes)`: the three files, or one tar archive of
/// them (plain or gzip); names matter only to tell the three apart, compression is sniffed.
pub fn parse_10x(
    files: Vec<(String, Vec<u8>)>,
    metadata: &[u8],
    opts: &LoadOptions,
    fopts: &FormatOptions,
) -> Result<(Dataset, Found), DataError> {
    validate_options(opts)?;
    let limit = opts.max_bytes;
    let total: usize = files
        .iter()
        .map(|(_, b)| b.len())
        .sum::<usize>()
        .saturating_add(metadata.len());
    if total > limit {
        return Err(DataError::TooLarge {
            bytes: total,
            limit,
            decompressed: false,
        });
    }
    let mut digest_input = Vec::new();
    for (_, b) in &files {
        digest_input.extend_from_slice(sha256_hex(b).as_bytes());
    }
    digest_input.extend_from_slice(sha256_hex(metadata).as_bytes());
    let sha256 = sha256_hex(&digest_input);

    let mut files = files;
    if files.len() == 1 && is_archive(&files[0].1) {
        let (name, bytes) = files.remove(0);
        files = tar::files(&maybe_gunzip(&name, bytes, limit)?)?;
    }
    let mut matrix = None;
    let mut barcodes = None;
    let mut features = None;
    let mut budget = limit;
    for (name, bytes) in files {
        let base = name
            .rsplit('/')
            .next()
            .unwrap_or(&name)
            .to_ascii_lowercase();
        let base = base.strip_suffix(".gz").unwrap_or(&base).to_string();
        let slot = match base.as_str() {
            "matrix.mtx" => &mut matrix,
            "barcodes.tsv" => &mut barcodes,
            "features.tsv" | "genes.tsv" => &mut features,
            _ => continue,
        };
        let text = maybe_gunzip(&name, bytes, budget)?;
        budget = budget.saturating_sub(text.len());
        *slot = Some(text);
    }
    let need = |f: Option<Vec<u8>>, what: &str| {
        f.ok_or_else(|| tenx_error(what, "missing: expected matrix.mtx, barcodes.tsv and features.tsv (or genes.tsv), each optionally .gz".into()))
    };
    let matrix = Mtx::parse(need(matrix, "matrix.mtx")?)?;
    let barcodes = lines(&need(barcodes, "barcodes.tsv")?, "barcodes.tsv", 0)?;
    let genes = lines(&need(features, "features.tsv")?, "features.tsv", 1)?;
    if barcodes.len() != matrix.cells() || genes.len() != matrix.genes() {
        return Err(tenx_error(
            "matrix.mtx",
            format!(
                "it is {} genes × {} cells, but features.tsv names {} genes and barcodes.tsv {} cells",
                matrix.genes(),
                matrix.cells(),
                genes.len(),
                barcodes.len()
            ),
        ));
    }
    let obs = metadata_obs(metadata, &barcodes)?;
    let candidates = [Candidate {
        matrix: Box::new(matrix),
        genes,
        storage: "mtx",
    }];
    build("10x", &obs, &candidates, opts, fopts, sha256)
}

/// One name per line: the `column`-th tab-separated field (features: the gene symbol), or the
/// first when the line has fewer fields.
fn lines(text: &[u8], file: &str, column: usize) -> Result<Vec<String>, DataError> {
    let text = std::str::from_utf8(text).map_err(|_| tenx_error(file, "not UTF-8 text".into()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            fields
                .get(column)
                .or(fields.first())
                .map_or("", |s| s.trim())
                .to_string()
        })
        .collect())
}

/// The metadata table in barcode order: every other column becomes a text column.
fn metadata_obs(metadata: &[u8], barcodes: &[String]) -> Result<Obs, DataError> {
    let file = "the metadata table";
    let text = maybe_gunzip(file, metadata.to_vec(), super::MAX_INPUT_BYTES)?;
    let first = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let delimiter = if first.contains(&b'\t') { b'\t' } else { b',' };
    let mut reader = ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .from_reader(text.as_slice());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| tenx_error(file, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header.is_empty() {
        return Err(tenx_error(
            file,
            "it is empty: expected a header and one row per barcode".into(),
        ));
    }
    let key = header
        .iter()
        .position(|h| BARCODE_COLUMNS.iter().any(|b| b.eq_ignore_ascii_case(h)))
        .or_else(|| header.first().filter(|h| h.is_empty()).map(|_| 0))
        .unwrap_or(0);
    let mut rows = std::collections::HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| tenx_error(file, format!("line {}: {e}", i + 2)))?;
        let fields: Vec<String> = record.iter().map(|f| f.trim().to_string()).collect();
        let barcode = fields.get(key).cloned().unwrap_or_default();
        if rows.insert(barcode.clone(), fields).is_some() {
            return Err(tenx_error(
                file,
                format!("barcode `{barcode}` has two rows (line {})", i + 2),
            ));
        }
    }
    let mut columns: Vec<(String, ObsValues)> = header
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != key)
        .map(|(_, h)| {
            (
                h.clone(),
                ObsValues::Text(Vec::with_capacity(barcodes.len())),
            )
        })
        .collect();
    for (cell, barcode) in barcodes.iter().enumerate() {
        let row = rows
            .get(barcode)
            .ok_or_else(|| FormatError::MissingBarcode {
                barcode: barcode.clone(),
                cell: cell + 1,
            })?;
        let mut k = 0;
        for (j, value) in row.iter().enumerate() {
            if j == key {
                continue;
            }
            if let Some((_, ObsValues::Text(v))) = columns.get_mut(k) {
                v.push(value.clone());
            }
            k += 1;
        }
    }
    Ok(Obs {
        index: barcodes.to_vec(),
        columns,
    })
}
