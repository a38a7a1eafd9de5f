//! The regular files of a tar archive (ustar, with GNU long names and pax headers skipped):
//! enough for a `.tar.gz` of a 10x folder, without a dependency.

use crate::data::{DataError, FormatError};

const BLOCK: usize = 512;

/// Whether the bytes are a tar archive (the `ustar` magic of the first header).
pub(super) fn is_tar(bytes: &[u8]) -> bool {
    bytes.get(257..262) == Some(b"ustar")
}

fn bad(message: String) -> DataError {
    FormatError::TenX {
        file: "the tar archive".into(),
        message,
    }
    .into()
}

/// `(path, contents)` of every regular file.
pub(super) fn files(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, DataError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut long_name: Option<String> = None;
    while let Some(header) = bytes.get(pos..pos + BLOCK) {
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let field = |a: usize, b: usize| {
            let f = &header[a..b];
            let end = f.iter().position(|&x| x == 0).unwrap_or(f.len());
            String::from_utf8_lossy(&f[..end]).into_owned()
        };
        let size_text = field(124, 136);
        let size = usize::from_str_radix(size_text.trim(), 8)
            .map_err(|_| bad(format!("a header at byte {pos} has the size `{size_text}`")))?;
        let start = pos + BLOCK;
        let data = start
            .checked_add(size)
            .and_then(|end| bytes.get(start..end))
            .ok_or_else(|| {
                bad(format!(
                    "the entry at byte {pos} runs past the end of the archive"
                ))
            })?;
        let name = match long_name.take() {
            Some(n) => n,
            None => {
                let prefix = field(345, 500);
                let name = field(0, 100);
                if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                }
            }
        };
        match header[156] {
            b'0' | 0 => out.push((name, data.to_vec())),
            b'L' => {
                let end = data.iter().position(|&x| x == 0).unwrap_or(data.len());
                long_name = Some(String::from_utf8_lossy(&data[..end]).into_owned());
            }
            _ => {}
        }
        pos = start + size.div_ceil(BLOCK) * BLOCK;
    }
    Ok(out)
}
