#!/usr/bin/env python3
"""Builds the small AnnData (.h5ad) and 10x Matrix Market fixtures under tests/fixtures/h5ad/
with the real writers (anndata, h5py, hdf5plugin, scipy), and dumps what each one holds to
expected.json so the Rust tests can compare cellshift's reader value by value without Python.

Run it in a virtual environment outside the repository:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install anndata scanpy hdf5plugin
    /tmp/venv/bin/python scripts/make-h5ad-fixtures.py            # writes the fixtures
    /tmp/venv/bin/python scripts/make-h5ad-fixtures.py --check-export tests/fixtures/h5ad/export.h5ad

The second form opens an .h5ad exported by cellshift with anndata and writes what anndata
sees beside it (export.anndata.json), which a Rust test compares with cellshift's own reading.
"""

import gzip
import io
import json
import os
import sys
import tarfile

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "h5ad")
SEED = 13


def base(n_per=12, genes=14, labels=("control", "KLF1", "CEBPA", "KLF1+CEBPA")):
    """Integer counts with a visible shift per perturbation, two cell types."""
    rng = np.random.default_rng(SEED)
    conds = np.repeat(labels, n_per)
    n = len(conds)
    mu = rng.gamma(2.0, 2.0, size=genes)
    X = np.zeros((n, genes), dtype=np.float32)
    for i, c in enumerate(conds):
        m = mu.copy()
        if "KLF1" in c:
            m[:3] *= 4
        if "CEBPA" in c:
            m[3:6] *= 4
        X[i] = rng.poisson(m)
    cell_type = np.where(np.arange(n) % 2 == 0, "T", "B")
    genes_names = [f"G{j:02d}" for j in range(genes)]
    cells = [f"cell{i:03d}" for i in range(n)]
    return X, list(conds), list(cell_type), genes_names, cells


def adata(X, conds, cell_type, genes, cells, cond_col="condition", categorical=True):
    obs = pd.DataFrame(index=pd.Index(cells, name=None))
    obs[cond_col] = pd.Categorical(conds) if categorical else np.array(conds, dtype=object)
    obs["cell_type"] = pd.Categorical(cell_type) if categorical else np.array(cell_type, dtype=object)
    obs["n_counts"] = np.asarray(X.sum(1)).ravel().astype(np.float32) if not sp.issparse(X) else np.asarray(X.sum(1)).ravel().astype(np.float32)
    var = pd.DataFrame(index=pd.Index(genes))
    return ad.AnnData(X=X, obs=obs, var=var)


def lognorm(X):
    X = np.asarray(X, dtype=np.float64)
    tot = X.sum(1, keepdims=True)
    tot[tot == 0] = 1
    return np.log1p(1e4 * X / tot).astype(np.float32)


expected = {}


def record(name, matrix, X, conds, cell_type, genes, control, condition_column, covariates=("cell_type",)):
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    expected[name] = {
        "matrix": matrix,
        "genes": genes,
        "conditions": conds,
        "control_label": control,
        "condition_column": condition_column,
        "covariates": {"cell_type": cell_type} if covariates else {},
        "values": [[float(v) for v in row] for row in X],
    }


def write(a, name, **kw):
    path = os.path.join(OUT, name)
    a.write_h5ad(path, **kw)
    return path


def main():
    os.makedirs(OUT, exist_ok=True)
    X, conds, ct, genes, cells = base()

    # 1. Dense counts, gzip, categorical obs; the same table as CSV for the equivalence test.
    write(adata(X, conds, ct, genes, cells), "dense_gzip.h5ad", compression="gzip")
    record("dense_gzip.h5ad", "X", X, conds, ct, genes, "control", "condition")
    with open(os.path.join(OUT, "dense.csv"), "w") as f:
        f.write(",".join(["condition", "cell_type"] + genes) + "\n")
        for i in range(len(conds)):
            f.write(",".join([conds[i], ct[i]] + [str(int(v)) for v in X[i]]) + "\n")

    # 2. CSR, uncompressed, plain string obs columns, condition column named `perturbation`.
    write(adata(sp.csr_matrix(X), conds, ct, genes, cells, cond_col="perturbation", categorical=False), "csr_strings.h5ad",
          convert_strings_to_categoricals=False)
    record("csr_strings.h5ad", "X", X, conds, ct, genes, "control", "perturbation")

    # 3. CSC, gzip.
    write(adata(sp.csc_matrix(X), conds, ct, genes, cells), "csc_gzip.h5ad", compression="gzip")
    record("csc_gzip.h5ad", "X", X, conds, ct, genes, "control", "condition")

    # 4. X log-normalised, integer counts in layers/counts (CSR): the counts layer is preferred.
    a = adata(lognorm(X), conds, ct, genes, cells)
    a.layers["counts"] = sp.csr_matrix(X)
    write(a, "layers.h5ad", compression="gzip")
    record("layers.h5ad", "layers/counts", X, conds, ct, genes, "control", "condition")

    # 5. raw/X holds counts over more genes than X (X: a log-normalised subset).
    extra = np.random.default_rng(SEED + 1).poisson(1.0, size=(X.shape[0], 2)).astype(np.float32)
    Xfull = np.hstack([X, extra])
    genes_full = genes + ["EXTRA1", "EXTRA2"]
    a = adata(Xfull, conds, ct, genes_full, cells)
    a.raw = a
    a = a[:, :10].copy()
    a.X = lognorm(a.X)
    write(a, "raw.h5ad", compression="gzip")
    record("raw.h5ad", "raw/X", Xfull, conds, ct, genes_full, "control", "condition")

    # 6. GEARS-style labels: ctrl, A+ctrl for singles, A+B for combinations.
    gears = [{"control": "ctrl", "KLF1": "KLF1+ctrl", "CEBPA": "ctrl+CEBPA"}.get(c, c) for c in conds]
    write(adata(sp.csr_matrix(X), gears, ct, genes, cells), "gears.h5ad")
    record("gears.h5ad", "X", X, [{"control": "ctrl"}.get(c, c) for c in conds], ct, genes, "ctrl", "condition")

    # 7. `_` joins combinations (both parts are singles in the file), NT controls.
    under = [{"control": "NT", "KLF1+CEBPA": "KLF1_CEBPA"}.get(c, c) for c in conds]
    write(adata(sp.csr_matrix(X), under, ct, genes, cells, cond_col="guide_identity"), "underscore.h5ad")
    record("underscore.h5ad", "X", X, [{"control": "NT"}.get(c, c) for c in conds], ct, genes, "NT", "guide_identity")

    # 8. `_` inside names and as a join: ambiguous, the reader must ask.
    amb = [
        {"control": "non-targeting", "KLF1+CEBPA": "KLF1_CEBPA" if i % 2 == 0 else "CEBPA_g2"}.get(c, c)
        for i, c in enumerate(conds)
    ]
    write(adata(sp.csr_matrix(X), amb, ct, genes, cells), "ambiguous.h5ad")

    # 9. LZF (h5py's own filter) and Blosc (hdf5plugin) compression.
    write(adata(X, conds, ct, genes, cells), "lzf.h5ad", compression="lzf")
    record("lzf.h5ad", "X", X, conds, ct, genes, "control", "condition")
    try:
        import hdf5plugin
        path = os.path.join(OUT, "blosc.h5ad")
        write(adata(X, conds, ct, genes, cells), "blosc.h5ad")
        with h5py.File(path, "r+") as f:
            del f["X"]
            f.create_dataset("X", data=X, chunks=(8, 14), **hdf5plugin.Blosc())
            f["X"].attrs["encoding-type"] = "array"
            f["X"].attrs["encoding-version"] = "0.2.0"
    except ImportError:
        print("hdf5plugin missing: blosc.h5ad not written", file=sys.stderr)

    # 10. Not AnnData: an HDF5 file without obs / X. Log-normalised only (for the NB error).
    with h5py.File(os.path.join(OUT, "plain.h5"), "w") as f:
        f.create_dataset("values", data=np.arange(6.0))
    write(adata(lognorm(X), conds, ct, genes, cells), "lognorm_only.h5ad")
    record("lognorm_only.h5ad", "X", lognorm(X), conds, ct, genes, "control", "condition")

    # 10b. An encoding the reader does not know, and the pre-0.7 layout (obs a compound table).
    path = os.path.join(OUT, "unknown_encoding.h5ad")
    write(adata(sp.csr_matrix(X), conds, ct, genes, cells), "unknown_encoding.h5ad")
    with h5py.File(path, "r+") as f:
        f["X"].attrs["encoding-type"] = "awkward-array"
    with h5py.File(os.path.join(OUT, "legacy.h5ad"), "w") as f:
        table = np.array([(c.encode(), i) for i, c in enumerate(cells)], dtype=[("index", "S8"), ("n", "<i4")])
        f.create_dataset("obs", data=table)
        f.create_dataset("X", data=X)

    # 11. A slice of scanpy's bundled PBMC file (an older anndata layout), re-written by anndata.
    try:
        import scanpy as sc
        p = sc.datasets.pbmc68k_reduced()
        s = p[:40, :30].copy()
        s.raw = None
        s.X = np.asarray(p.raw.X[:40, :30].toarray(), dtype=np.float32)
        s.obs = s.obs[["bulk_labels", "phase", "n_genes"]]
        s.var = s.var[[]]
        s.uns = {}
        s.obsm = {}
        s.varm = {}
        s.obsp = {}
        write(s, "pbmc68k_slice.h5ad", compression="gzip")
        expected["pbmc68k_slice.h5ad"] = {
            "genes": list(s.var_names),
            "obs_bulk_labels": list(map(str, s.obs["bulk_labels"])),
            "obs_phase": list(map(str, s.obs["phase"])),
            "values": [[float(v) for v in row] for row in s.X],
        }
    except Exception as e:  # noqa: BLE001 - the slice is optional
        print(f"pbmc68k slice skipped: {e}", file=sys.stderr)

    # 12. 10x: matrix.mtx.gz (genes × cells) + barcodes + features, and the same as .tar.gz,
    # plus the older uncompressed genes.tsv layout; a metadata CSV keyed by barcode.
    tenx = os.path.join(OUT, "tenx")
    os.makedirs(tenx, exist_ok=True)
    barcodes = [f"AAAC{i:04d}-1" for i in range(len(conds))]
    mtx = io.BytesIO()
    scipy.io.mmwrite(mtx, sp.coo_matrix(X.T.astype(np.int64)), field="integer")
    files = {
        "matrix.mtx.gz": gzip.compress(mtx.getvalue(), mtime=0),
        "barcodes.tsv.gz": gzip.compress(("\n".join(barcodes) + "\n").encode(), mtime=0),
        "features.tsv.gz": gzip.compress(
            "".join(f"ENSG{j:05d}\t{g}\tGene Expression\n" for j, g in enumerate(genes)).encode(), mtime=0
        ),
    }
    for name, data in files.items():
        with open(os.path.join(tenx, name), "wb") as f:
            f.write(data)
    # Metadata rows in another order than the barcodes, to prove they are matched by barcode.
    order = list(reversed(range(len(conds))))
    with open(os.path.join(OUT, "tenx_metadata.csv"), "w") as f:
        f.write("barcode,perturbation,cell_type\n")
        for i in order:
            f.write(f"{barcodes[i]},{conds[i]},{ct[i]}\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(f"filtered_feature_bc_matrix/{name}")
            info.size = len(data)
            info.mtime = 0
            t.addfile(info, io.BytesIO(data))
    with open(os.path.join(OUT, "tenx.tar.gz"), "wb") as f:
        f.write(gzip.compress(buf.getvalue(), mtime=0))
    v2 = os.path.join(OUT, "tenx_v2")
    os.makedirs(v2, exist_ok=True)
    with open(os.path.join(v2, "matrix.mtx"), "wb") as f:
        f.write(mtx.getvalue())
    with open(os.path.join(v2, "barcodes.tsv"), "w") as f:
        f.write("\n".join(barcodes) + "\n")
    with open(os.path.join(v2, "genes.tsv"), "w") as f:
        f.write("".join(f"ENSG{j:05d}\t{g}\n" for j, g in enumerate(genes)))
    record("tenx", "matrix.mtx", X, conds, ct, genes, "control", "perturbation")
    expected["tenx"]["barcodes"] = barcodes

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


def check_export(path):
    """Opens an export with anndata and records what it sees."""
    a = ad.read_h5ad(path)
    seen = {
        "n_obs": a.n_obs,
        "n_vars": a.n_vars,
        "var_names": list(a.var_names),
        "obs_columns": list(a.obs.columns),
        "obs": {c: list(map(str, a.obs[c])) for c in a.obs.columns},
        "X_sum": float(np.asarray(a.X, dtype=np.float64).sum()),
        "X_first_row": [float(v) for v in np.asarray(a.X)[0]],
        "layers": list(a.layers.keys()),
        "counts_sum": float(np.asarray(a.layers["counts"], dtype=np.float64).sum()) if "counts" in a.layers else None,
    }
    out = os.path.splitext(path)[0] + ".anndata.json"
    with open(out, "w") as f:
        json.dump(seen, f, indent=1)
        f.write("\n")
    print(f"anndata opened {path}: {a}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check-export":
        check_export(sys.argv[2])
    else:
        main()
