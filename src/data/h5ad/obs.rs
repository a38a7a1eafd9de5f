//! AnnData dataframes (`obs`, `var`, `raw/var`) as anndata ≥ 0.8 writes them: a group with an
//! `_index` attribute naming the index dataset and a `column-order` attribute, each column a
//! string or numeric dataset or a group (categorical, nullable integer or boolean).

use hdf5_pure::{DType, File};

use super::hdf::{
    attr_text, attr_texts, attrs_of_group, dataset, encoding, hdf5_error, is_dataset, is_group,
    strings, whole,
};
use crate::data::cells::{Obs, ObsValues};
use crate::data::{DataError, FormatError};

/// Reads a dataframe's index and every column; `with_columns` false reads the index alone.
pub(super) fn dataframe(file: &File, path: &str, with_columns: bool) -> Result<Obs, DataError> {
    if is_dataset(file, path) {
        return Err(FormatError::NotAnnData {
            message: format!(
                "`{path}` is a compound table, the layout of anndata before 0.7; open the file \
                 with anndata and write it again (adata.write_h5ad) to update it"
            ),
        }
        .into());
    }
    let group = file.group(path).map_err(|_| FormatError::NotAnnData {
        message: format!("it has no `{path}` group"),
    })?;
    let attrs = attrs_of_group(&group, path)?;
    let index_name = attr_text(&attrs, "_index").unwrap_or_else(|| "_index".to_string());
    let index = strings(file, &format!("{path}/{index_name}"))?;
    let mut obs = Obs {
        index,
        columns: Vec::new(),
    };
    if !with_columns {
        return Ok(obs);
    }
    let order = match attr_texts(&attrs, "column-order") {
        Some(o) => o,
        None => {
            let mut names = group.datasets().map_err(|e| hdf5_error(path, e))?;
            names.extend(group.groups().map_err(|e| hdf5_error(path, e))?);
            names.retain(|n| *n != index_name && !n.starts_with("__"));
            names
        }
    };
    for name in order {
        let values = column(file, &format!("{path}/{name}"), obs.index.len())?;
        obs.columns.push((name, values));
    }
    Ok(obs)
}

/// One dataframe column.
fn column(file: &File, path: &str, cells: usize) -> Result<ObsValues, DataError> {
    let enc = encoding(file, path)?;
    let values = if is_group(file, path) {
        match enc.as_str() {
            "categorical" => ObsValues::Categorical {
                codes: ints(file, &format!("{path}/codes"))?,
                categories: texts_of(file, &format!("{path}/categories"))?,
            },
            "nullable-integer" | "nullable-boolean" => {
                let values = numbers(file, &format!("{path}/values"))?;
                let mask = ints(file, &format!("{path}/mask"))?;
                ObsValues::Numbers(
                    values
                        .into_iter()
                        .zip(mask.into_iter().chain(std::iter::repeat(0)))
                        .map(|(v, m)| if m != 0 { f64::NAN } else { v })
                        .collect(),
                )
            }
            "nullable-string-array" => {
                let values = strings(file, &format!("{path}/values"))?;
                let mask = ints(file, &format!("{path}/mask"))?;
                ObsValues::Text(
                    values
                        .into_iter()
                        .zip(mask.into_iter().chain(std::iter::repeat(0)))
                        .map(|(v, m)| if m != 0 { String::new() } else { v })
                        .collect(),
                )
            }
            other => {
                return Err(FormatError::UnsupportedEncoding {
                    path: path.to_string(),
                    encoding: other.to_string(),
                    expected: "categorical, string-array, array, nullable-integer or nullable-boolean",
                }
                .into());
            }
        }
    } else {
        let d = whole(file, path, 8)?;
        match d.dtype().map_err(|e| hdf5_error(path, e))? {
            DType::String | DType::VariableLengthString => ObsValues::Text(strings(file, path)?),
            DType::Enum(names) => {
                let codes = d.read_i64().map_err(|e| hdf5_error(path, e))?;
                ObsValues::Categorical {
                    codes,
                    categories: names,
                }
            }
            _ => ObsValues::Numbers(numbers(file, path)?),
        }
    };
    let len = match &values {
        ObsValues::Categorical { codes, .. } => codes.len(),
        ObsValues::Text(v) => v.len(),
        ObsValues::Numbers(v) => v.len(),
    };
    if len != cells {
        return Err(FormatError::NotAnnData {
            message: format!("column `{path}` has {len} values for {cells} cells"),
        }
        .into());
    }
    Ok(values)
}

/// Categories: strings, or numbers written as text.
fn texts_of(file: &File, path: &str) -> Result<Vec<String>, DataError> {
    let d = dataset(file, path)?;
    match d.dtype().map_err(|e| hdf5_error(path, e))? {
        DType::String | DType::VariableLengthString => strings(file, path),
        _ => Ok(numbers(file, path)?
            .into_iter()
            .map(|x| {
                if x.fract() == 0.0 && x.abs() < 1e15 {
                    format!("{}", x as i64)
                } else {
                    x.to_string()
                }
            })
            .collect()),
    }
}

fn ints(file: &File, path: &str) -> Result<Vec<i64>, DataError> {
    whole(file, path, 8)?
        .read_i64()
        .map_err(|e| hdf5_error(path, e))
}

fn numbers(file: &File, path: &str) -> Result<Vec<f64>, DataError> {
    whole(file, path, 8)?
        .read_f64()
        .map_err(|e| hdf5_error(path, e))
}
