//! A Matrix Market coordinate file as 10x writes it (genes × cells, 1-based, integer or real),
//! kept as text and parsed again on each pass, so only the text is held in memory.

use crate::data::cells::Entries;
use crate::data::{DataError, FormatError};

pub(super) struct Mtx {
    text: Vec<u8>,
    /// Byte offset of the first entry line.
    body: usize,
    genes: usize,
    cells: usize,
    entries: usize,
}

fn bad(line: usize, message: String) -> DataError {
    FormatError::TenX {
        file: "matrix.mtx".into(),
        message: format!("line {line}: {message}"),
    }
    .into()
}

/// An error in the `n`-th entry (1-based), counted after the size line.
fn bad_entry(n: usize, message: String) -> DataError {
    FormatError::TenX {
        file: "matrix.mtx".into(),
        message: format!("entry {n}: {message}"),
    }
    .into()
}

impl Mtx {
    /// Checks the header and the size line; entries are checked as they are visited.
    pub(super) fn parse(text: Vec<u8>) -> Result<Mtx, DataError> {
        let mut pos = 0usize;
        let mut line_no = 0usize;
        let mut header = None;
        let mut size = None;
        while pos < text.len() {
            let end = text[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(text.len(), |k| pos + k);
            let line = std::str::from_utf8(&text[pos..end])
                .map_err(|_| bad(line_no + 1, "not UTF-8 text".into()))?;
            line_no += 1;
            pos = (end + 1).min(text.len());
            if line_no == 1 {
                header = Some(line.to_ascii_lowercase());
                continue;
            }
            if line.starts_with('%') || line.trim().is_empty() {
                continue;
            }
            size = Some(line.to_string());
            break;
        }
        let header = header.unwrap_or_default();
        let words: Vec<&str> = header.split_whitespace().collect();
        if words.first() != Some(&"%%matrixmarket") || words.get(1) != Some(&"matrix") {
            return Err(bad(
                1,
                "expected a `%%MatrixMarket matrix coordinate …` header".into(),
            ));
        }
        if words.get(2) != Some(&"coordinate") {
            return Err(bad(
                1,
                "only the sparse `coordinate` format is read (10x writes it)".into(),
            ));
        }
        if !matches!(words.get(3), Some(&"integer") | Some(&"real"))
            || words.get(4).is_some_and(|s| *s != "general")
        {
            return Err(bad(
                1,
                format!("`{header}`: expected an integer or real, general matrix"),
            ));
        }
        let size = size.ok_or_else(|| {
            bad(
                line_no,
                "the size line (genes cells entries) is missing".into(),
            )
        })?;
        let nums: Vec<usize> = size
            .split_whitespace()
            .map(|s| s.parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad(line_no, format!("`{size}`: expected three whole numbers")))?;
        let [genes, cells, entries] = nums[..] else {
            return Err(bad(
                line_no,
                format!("`{size}`: expected three whole numbers"),
            ));
        };
        let mtx = Mtx {
            text,
            body: pos,
            genes,
            cells,
            entries,
        };
        let mut seen = 0usize;
        mtx.visit(&mut |_, _, _| {
            seen += 1;
            Ok(())
        })?;
        if seen != entries {
            return Err(bad(
                line_no,
                format!("the size line announces {entries} entries but {seen} follow"),
            ));
        }
        Ok(mtx)
    }

    pub(super) fn genes(&self) -> usize {
        self.genes
    }

    pub(super) fn cells(&self) -> usize {
        self.cells
    }
}

impl Entries for Mtx {
    fn name(&self) -> &str {
        "matrix.mtx"
    }

    fn rows(&self) -> usize {
        self.cells
    }

    fn cols(&self) -> usize {
        self.genes
    }

    fn visit(
        &self,
        f: &mut dyn FnMut(usize, usize, f32) -> Result<(), DataError>,
    ) -> Result<(), DataError> {
        let body = self.text.get(self.body..).unwrap_or(&[]);
        let mut count = 0usize;
        for raw in body.split(|&b| b == b'\n') {
            let line = std::str::from_utf8(raw)
                .map_err(|_| bad_entry(count + 1, "not UTF-8 text".into()))?;
            let line = line.trim();
            if line.is_empty() || line.starts_with('%') {
                continue;
            }
            count += 1;
            if count > self.entries {
                return Err(bad_entry(
                    count,
                    format!("more entries than the {} announced", self.entries),
                ));
            }
            let mut it = line.split_whitespace();
            let (Some(g), Some(c), Some(v), None) = (it.next(), it.next(), it.next(), it.next())
            else {
                return Err(bad_entry(
                    count,
                    format!("entry `{line}`: expected `gene cell value`"),
                ));
            };
            let index =
                |s: &str, n: usize| s.parse::<usize>().ok().filter(|&i| (1..=n).contains(&i));
            let (Some(g), Some(c)) = (index(g, self.genes), index(c, self.cells)) else {
                return Err(bad_entry(
                    count,
                    format!(
                        "entry `{line}`: an index is outside 1..{} × 1..{}",
                        self.genes, self.cells
                    ),
                ));
            };
            let v: f32 = v
                .parse()
                .map_err(|_| bad_entry(count, format!("entry `{line}`: `{v}` is not a number")))?;
            f(c - 1, g - 1, v)?;
        }
        Ok(())
    }
}
