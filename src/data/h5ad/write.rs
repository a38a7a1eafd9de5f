//! Writes a small AnnData file (anndata ≥ 0.8 layout) with `hdf5-pure`: dense `X`, optional
//! `layers/counts`, and `obs` / `var` dataframes of text columns — what scanpy needs to open
//! predictions beside the data they were made for.

use hdf5_pure::{AttrValue, FileBuilder};

use crate::data::{DataError, FormatError};
use crate::matrix::Matrix;

fn text(s: &str) -> AttrValue {
    AttrValue::VarLenString(s.to_string())
}

/// An AnnData file of `x` (cells × genes) with optional `counts`, cell names and text columns.
pub fn write_h5ad(
    x: &Matrix,
    counts: Option<&Matrix>,
    cell_names: &[String],
    genes: &[String],
    obs: &[(String, Vec<String>)],
) -> Result<Vec<u8>, DataError> {
    let bad = |message: String| -> DataError {
        FormatError::MatrixShape {
            matrix: "X".into(),
            message,
        }
        .into()
    };
    if x.rows != cell_names.len() || x.cols != genes.len() {
        return Err(bad(format!(
            "{} × {} values for {} cells and {} genes",
            x.rows,
            x.cols,
            cell_names.len(),
            genes.len()
        )));
    }
    if let Some(c) = counts
        && (c.rows, c.cols) != (x.rows, x.cols)
    {
        return Err(bad("the counts differ in shape from X".into()));
    }
    if let Some((name, _)) = obs.iter().find(|(_, v)| v.len() != x.rows) {
        return Err(bad(format!("obs column `{name}` has the wrong length")));
    }
    let shape = [x.rows as u64, x.cols as u64];
    let mut b = FileBuilder::new();
    b.set_attr("encoding-type", text("anndata"));
    b.set_attr("encoding-version", text("0.1.0"));
    b.create_dataset("X")
        .with_f32_data(&x.data)
        .with_shape(&shape)
        .set_attr("encoding-type", text("array"))
        .set_attr("encoding-version", text("0.2.0"));

    let mut layers = b.create_group("layers");
    layers.set_attr("encoding-type", text("dict"));
    layers.set_attr("encoding-version", text("0.1.0"));
    if let Some(c) = counts {
        layers
            .create_dataset("counts")
            .with_f32_data(&c.data)
            .with_shape(&shape)
            .set_attr("encoding-type", text("array"))
            .set_attr("encoding-version", text("0.2.0"));
    }
    b.add_group(layers.finish());

    for (group, index, columns) in [("obs", cell_names, obs), ("var", genes, &[][..])] {
        let mut g = b.create_group(group);
        g.set_attr("_index", text("_index"));
        g.set_attr(
            "column-order",
            AttrValue::VarLenStringArray(columns.iter().map(|(n, _)| n.clone()).collect()),
        );
        g.set_attr("encoding-type", text("dataframe"));
        g.set_attr("encoding-version", text("0.2.0"));
        let names: Vec<&str> = index.iter().map(String::as_str).collect();
        g.create_dataset("_index")
            .with_vlen_strings(&names)
            .set_attr("encoding-type", text("string-array"))
            .set_attr("encoding-version", text("0.2.0"));
        for (name, values) in columns {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            g.create_dataset(name)
                .with_vlen_strings(&values)
                .set_attr("encoding-type", text("string-array"))
                .set_attr("encoding-version", text("0.2.0"));
        }
        b.add_group(g.finish());
    }
    for group in ["obsm", "varm", "obsp", "varp", "uns"] {
        let mut g = b.create_group(group);
        g.set_attr("encoding-type", text("dict"));
        g.set_attr("encoding-version", text("0.1.0"));
        b.add_group(g.finish());
    }
    b.finish().map_err(|e| {
        FormatError::Hdf5 {
            path: "/".into(),
            message: e.to_string(),
        }
        .into()
    })
}
