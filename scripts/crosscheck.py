"""Cross-check of cellshift's scores against the Virtual Cell Challenge's reference evaluator
(PyPI `cell-eval`) and scipy, on the synthetic sample and on the Kang et al. 2018 holdout.

Run through `make crosscheck` (scripts/crosscheck.sh sets up the virtual environment).

For each dataset the cellshift CLI is run with --export-h5ad. The script then rebuilds, from
the data file and predictions.h5ad, exactly the cells cellshift scored:

* the log-normalised panel, log1p(1e4 * x / sum over panel genes) computed in f64 and stored
  as f32, as cellshift does (checked against every cell in predictions.h5ad);
* the split (held-out cells are the h5ad's `true` cells; every other cell is seen);
* each condition's reference controls, matched controls and the noise-ceiling halves, by
  replaying cellshift's seeded random streams (xoshiro256** seeded by splitmix64, streams
  named by FNV-1a; see src/rng.rs) - checked against the controls in predictions.h5ad.

Predictors cross-checked, per held-out condition and pooled:

* `ceiling`: half of the held-out cells predicting the other half - real cells, so every
  cell-level metric (the DE overlap included) is checked on the same cells cellshift used;
* the deterministic baselines (`control_mean`, `perturbation_mean`, `perturbed_mean`): their
  cells are the matched controls moved by the declared shift (in f32, as cellshift does);
* the trained model: its scored predicted shift is in results.json (figures.shift), so every
  profile-level metric is checked exactly; predictions.h5ad holds the very cells scoring drew
  (one per held-out cell), so its DE overlap is checked on the same cells too.

Definitions matched explicitly (see the comments where each is built):

* Control reference: cellshift takes shifts against the mean of the seen controls of the
  condition's covariate group (weighted by the test cells' groups); cell-eval against the mean
  of the cells labelled control. Both datasets here have one reference pool shared by every
  held-out condition (sample: all seen controls; Kang: the seen CD14+ monocyte controls), so
  the control cells handed to cell-eval are exactly that pool and the two references agree.
* Pseudobulk profile: cellshift scores a predictor's declared mean (reference + predicted
  shift); cell-eval the mean of the predicted cells. For the profile metrics (mae,
  pearson_delta, discrimination_score_l1) cell-eval gets the pool cells moved by the
  predicted shift, whose mean is exactly cellshift's predicted profile.
* DE test: cellshift uses the Wilcoxon rank-sum test, normal approximation, tie-corrected, no
  continuity correction, BH across the panel, FDR < 0.05, log fold change = shift of the mean
  log-normalised expression. cell-eval's own DE engine (pdex) uses a continuity correction and
  log2 fold changes of expm1 geometric means. The matched rows therefore hand cell-eval's
  overlap and direction metrics DE tables computed by scipy with cellshift's settings; a
  separate, unscored row shows cell-eval with its default DE engine.
* Direction of the top DEGs: cellshift's de.top20_sign is GEARS' form (the 20 true genes of
  smallest adjusted p, sign of the predicted shift); cell-eval's de_direction_match looks at all
  significant true genes. The matched row gives de_direction_match a true DE table whose
  significant genes are exactly the top 20.
* Ties in discrimination: cellshift counts a tie half, cell-eval breaks it by argsort order;
  they agree whenever no two distances are equal (checked: such rows would show as DIFF).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
from scipy import stats

from cell_eval._types import DESortBy, PerturbationAnndataPair, initialize_de_comparison
from cell_eval.metrics import DEDirectionMatch, de_overlap_metric, discrimination_score
from cell_eval.metrics import mae as ce_mae
from cell_eval.metrics import pearson_delta as ce_pearson_delta

FDR = 0.05
TOP_DE = 20
SYSTEMA_TOP = 20
TOL = 1e-6  # equal where the definitions match (f32 data, f64 arithmetic on both sides)
DEF_TOL = 1e-9  # scipy vs cellshift's documented formula, in f64
MASK = (1 << 64) - 1


# ---------------------------------------------------------------- cellshift's random streams
def _splitmix64(x: int) -> tuple[int, int]:
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return x, z ^ (z >> 31)


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & MASK


class Rng:
    """src/rng.rs: xoshiro256** seeded by splitmix64; `derive` names a stream by FNV-1a."""

    def __init__(self, seed: int):
        s, x = [], seed & MASK
        for _ in range(4):
            x, z = _splitmix64(x)
            s.append(z)
        self.s = s

    @classmethod
    def derive(cls, seed: int, stream: str) -> "Rng":
        h = 0xCBF29CE484222325
        for b in stream.encode():
            h ^= b
            h = (h * 0x100000001B3) & MASK
        return cls(seed ^ _rotl(h, 17))

    def next_u64(self) -> int:
        s = self.s
        result = (_rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def below(self, n: int) -> int:
        u = (self.next_u64() >> 11) * (1.0 / (1 << 53))
        return min(int(u * n), n - 1)

    def shuffle(self, v: list) -> None:
        for i in range(len(v) - 1, 0, -1):
            j = self.below(i + 1)
            v[i], v[j] = v[j], v[i]


# ---------------------------------------------------------------- data as cellshift sees it
def log_normalise(counts: np.ndarray) -> np.ndarray:
    """src/preprocess.rs log_normalize: per cell log1p(1e4 x / sum x) in f64, stored as f32."""
    x = counts.astype(np.float64)
    total = x.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(total > 0, np.log1p(x * (1e4 / total)), 0.0)
    return out.astype(np.float32)


def read_table(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return pd.read_csv(io.BytesIO(raw), dtype={"condition": str})


def rust_sort_key(s: str) -> bytes:
    return s.encode()  # Rust's BTreeMap orders strings by their bytes


# ---------------------------------------------------------------- statistics (scipy)
def wilcoxon_p(cells: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """scipy's Mann-Whitney U with cellshift's settings: normal approximation, tie-corrected,
    no continuity correction, two-sided. A gene whose pooled values are all equal gets p = 1
    (scipy returns NaN there)."""
    res = stats.mannwhitneyu(
        cells.astype(np.float64), ref.astype(np.float64),
        axis=0, use_continuity=False, alternative="two-sided", method="asymptotic",
    )
    p = np.asarray(res.pvalue, dtype=np.float64)
    return np.where(np.isnan(p), 1.0, p)


def cellshift_formula_p(cells: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The formula documented in src/metrics/stats.rs, written out independently: U from
    mid-ranks, sigma^2 = n1 n2 / 12 ((N+1) - sum(t^3-t)/(N(N-1))), p = erfc(|z|/sqrt 2)."""
    n1, n2 = cells.shape[0], ref.shape[0]
    n = n1 + n2
    out = np.empty(cells.shape[1])
    for g in range(cells.shape[1]):
        pooled = np.concatenate([cells[:, g], ref[:, g]]).astype(np.float64)
        ranks = stats.rankdata(pooled)
        u = ranks[:n1].sum() - n1 * (n1 + 1) / 2
        _, t = np.unique(pooled, return_counts=True)
        var = n1 * n2 / 12 * ((n + 1) - (t**3 - t).sum() / (n * (n - 1)))
        out[g] = 1.0 if var <= 0 else min(1.0, math.erfc(abs((u - n1 * n2 / 2) / math.sqrt(var)) / math.sqrt(2)))
    return out


def bh(p: np.ndarray) -> np.ndarray:
    return stats.false_discovery_control(p, method="bh")


def bh_by_hand(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg step-up, written out: min over j >= i of p_(j) m / j, capped at 1."""
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(scaled[::-1])[::-1].clip(max=1.0)
    out = np.empty(m)
    out[order] = adj
    return out


def top_de(adj: np.ndarray, lfc: np.ndarray, k: int) -> list[int]:
    """src/metrics/de.rs DeTest::top: smallest adjusted p, ties by larger |lfc|, then index."""
    return sorted(range(adj.size), key=lambda g: (adj[g], -abs(lfc[g]), g))[:k]


def top_abs(v: np.ndarray, k: int) -> list[int]:
    return sorted(range(v.size), key=lambda g: (-abs(v[g]), g))[:k]


# ---------------------------------------------------------------- cell-eval wrappers
def _adata(blocks: list[tuple[str, np.ndarray]], genes: list[str]) -> ad.AnnData:
    x = np.vstack([b for _, b in blocks]).astype(np.float64)
    labels = np.concatenate([[lab] * b.shape[0] for lab, b in blocks])
    a = ad.AnnData(X=x, obs=pd.DataFrame({"condition": labels}, index=[f"c{i}" for i in range(x.shape[0])]))
    a.var_names = genes
    return a


def _de_frame(rows: dict[str, tuple[np.ndarray, np.ndarray]], genes: list[str]) -> pl.DataFrame:
    """A DE table in cell-eval's layout from (adjusted p, lfc) per condition. `p_value` is
    filled with the adjusted p (cell-eval reads only `fdr` and the fold change)."""
    frames = []
    for label, (adj, lfc) in rows.items():
        frames.append(pl.DataFrame({
            "target": [label] * len(genes), "feature": genes,
            "log2_fold_change": lfc, "p_value": adj, "fdr": adj,
        }))
    return pl.concat(frames)


# ---------------------------------------------------------------- one dataset
def run_cli(binary: str, args: list[str]) -> None:
    print("$", binary, " ".join(args), flush=True)
    subprocess.run([binary, *args], check=True)


def check_dataset(name: str, binary: str, data_args: list[str], data_file: Path, out: Path,
                  train_args: list[str]) -> dict:
    run_cli(binary, ["train", *data_args, "--out", str(out), "--export-h5ad", "--quiet", *train_args])
    res = json.loads((out / "results.json").read_text())
    cfg = res["config"]
    seed = int(cfg["seed"])
    h5 = ad.read_h5ad(out / "predictions.h5ad")
    genes = [str(g) for g in h5.var_names]
    obs = h5.obs
    src = obs["source"].astype(str).to_numpy()
    X = np.asarray(h5.X, dtype=np.float32)

    table = read_table(data_file)
    cond_col, ctrl_label = cfg["condition_column"], cfg["control_label"]
    conditions = table[cond_col].astype(str).to_numpy()
    covs = list(cfg["covariates"])
    lognorm = log_normalise(table[genes].to_numpy())
    is_ctrl = conditions == ctrl_label

    # The exported data cells must be exactly the rows we rebuilt.
    data_rows = np.array([int(n[4:]) for n, s in zip(obs.index, src) if s != "predicted"])
    lognorm_diff = float(np.abs(lognorm[data_rows] - X[src != "predicted"]).max())
    assert lognorm_diff <= 1e-6, f"{name}: log-normalisation differs from the export by {lognorm_diff}"

    true_mask = src == "true"
    test = [int(n[4:]) for n in obs.index[true_mask]]  # plan order, each plan's test order
    test_set = set(test)
    seen = [i for i in range(len(table)) if i not in test_set]
    expected_seen = res["split"]["train_cells"] + res["split"]["val_cells"]
    assert len(seen) == expected_seen, f"{name}: {len(seen)} seen cells, results.json says {expected_seen}"

    # Session::plans (src/evaluate/plans.rs), replayed.
    key = (lambda i: tuple(str(table[c].iloc[i]) for c in covs)) if covs else (lambda i: ())
    controls = [i for i in seen if is_ctrl[i]]
    pools: dict[tuple, list[int]] = {}
    for i in controls:
        pools.setdefault(key(i), []).append(i)
    rng = Rng.derive(seed, "matching")
    for k in sorted(pools, key=lambda t: [rust_sort_key(s) for s in t]):
        rng.shuffle(pools[k])
    by_label: dict[str, list[int]] = {}
    for i in test:
        if not is_ctrl[i]:
            by_label.setdefault(conditions[i], []).append(i)
    labels = sorted(by_label, key=rust_sort_key)
    cursor: dict[tuple, int] = {}
    plans = []
    for label in labels:
        cells = by_label[label]
        sources, sizes = [], {}
        for i in cells:
            k = key(i) if key(i) in pools else ()
            pool = pools.get(k, controls)
            c = cursor.get(k, 0)
            sources.append(pool[c % len(pool)])
            cursor[k] = c + 1
            sizes[k] = sizes.get(k, 0) + 1
        pool_all, weights = [], []
        for k in sorted(sizes, key=lambda t: [rust_sort_key(s) for s in t]):
            pool = pools.get(k, controls)
            pool_all += pool
            weights += [sizes[k] / len(cells) / len(pool)] * len(pool)
        w = np.array(weights)
        reference = (w[:, None] * lognorm[pool_all].astype(np.float64)).sum(axis=0)
        plans.append(dict(label=label, test=cells, sources=sources, pool=pool_all, reference=reference))
    exported_controls = {int(n[4:]) for n, s in zip(obs.index, src) if s == "control"}
    replayed = {s for p in plans for s in p["sources"]}
    assert replayed == exported_controls, f"{name}: replayed matched controls differ from the export"
    shared_pool = all(sorted(p["pool"]) == sorted(plans[0]["pool"]) for p in plans)
    assert shared_pool, f"{name}: conditions use different control pools; cell-eval has one control set"
    pool = plans[0]["pool"]
    pool_cells = lognorm[pool]
    reference = plans[0]["reference"]
    assert np.allclose(reference, pool_cells.astype(np.float64).mean(axis=0), rtol=0, atol=1e-12)

    seen_arr = np.array(seen)
    perturbed_seen = seen_arr[~is_ctrl[seen_arr]]
    centroid = lognorm[perturbed_seen].astype(np.float64).mean(axis=0) if perturbed_seen.size else None

    # Predictors: per condition (truth cells, predicted cells for DE or None, predicted shift).
    halves = Rng.derive(seed, "ceiling")
    predictors: dict[str, dict[str, tuple]] = {"ceiling": {}}
    model = cfg["model"]
    fig = res["figures"]["shift"]
    model_labels = [p["label"] for p in plans if p["label"] not in res["split"].get("unpredictable", {})]
    model_shift = np.array(fig["pred_shift"]).reshape(len(model_labels), len(genes)) if fig.get("pred_shift") else None
    export_pred = {lab: X[(src == "predicted") & (obs["condition"].astype(str).to_numpy() == lab)] for lab in labels}
    for b in ("control_mean", "perturbation_mean", "perturbed_mean", model):
        predictors[b] = {}
    for p in plans:
        label, ref = p["label"], p["reference"]
        truth_cells = lognorm[p["test"]]
        cells = list(p["test"])
        halves.shuffle(cells)
        h = len(cells) // 2
        pred_half, truth_half = lognorm[cells[:h]], lognorm[cells[h:]]
        predictors["ceiling"][label] = (truth_half, pred_half, pred_half.astype(np.float64).mean(axis=0) - ref)
        src_cells = lognorm[p["sources"]]
        for b in ("control_mean", "perturbation_mean", "perturbed_mean"):
            if b == "control_mean":
                shift = np.zeros(len(genes))
            elif b == "perturbation_mean":
                own = seen_arr[conditions[seen_arr] == label]
                if own.size == 0:
                    continue
                shift = lognorm[own].astype(np.float64).mean(axis=0) - ref
            else:
                if centroid is None:
                    continue
                shift = centroid - ref
            # predict.rs baseline_cells: matched controls + shift, added in f32.
            predictors[b][label] = (truth_cells, src_cells + shift.astype(np.float32), shift)
        if model_shift is not None and label in model_labels:
            # predictions.h5ad holds the very cells scoring drew (the generation stream replayed).
            cells_pred = export_pred.get(label)
            cells_pred = cells_pred if cells_pred is not None and cells_pred.shape[0] else None
            predictors[model][label] = (truth_cells, cells_pred, model_shift[model_labels.index(label)])

    rows = []

    def add(predictor, metric, scope, cs, ref_value, source, tol, status=None, note=""):
        cs = None if cs is None else float(cs)
        rv = None if ref_value is None or (isinstance(ref_value, float) and math.isnan(ref_value)) else float(ref_value)
        diff = None if cs is None or rv is None else abs(cs - rv)
        if status is None:
            if cs is None and rv is None:
                status = "OK"
            elif diff is None:
                status = "DIFF"
            else:
                status = "OK" if diff <= tol else "DIFF"
        rows.append(dict(dataset=name, predictor=predictor, metric=metric, scope=scope, cellshift=cs,
                         reference=rv, source=source, abs_diff=diff, tolerance=tol, status=status, note=note))

    # The definition of the test itself: scipy vs cellshift's formula, true cells vs controls.
    worst_p = worst_adj = 0.0
    for p in plans:
        a = wilcoxon_p(lognorm[p["test"]], pool_cells)
        b = cellshift_formula_p(lognorm[p["test"]], pool_cells)
        worst_p = max(worst_p, float(np.abs(a - b).max()))
        worst_adj = max(worst_adj, float(np.abs(bh(a) - bh_by_hand(a)).max()))
    # (This checks the definition; that the compiled code follows it is what the DE overlap
    # and top-20 rows below show: identical DEG sets and top-gene rankings.)
    add("-", "max |p scipy - p cellshift formula|", "max over genes x conditions", worst_p, 0.0, "scipy", DEF_TOL)
    add("-", "max |BH scipy - BH step-up|", "max over genes x conditions", worst_adj, 0.0, "scipy", DEF_TOL)

    scores = res["scores"]
    sort_abs = DESortBy.ABS_LOG2_FOLD_CHANGE
    for pname, per in predictors.items():
        if not per or pname not in scores:
            continue
        sc = scores[pname]
        labs = [lab for lab in labels if lab in per]
        truth_blocks = [(lab, per[lab][0]) for lab in labs]
        # Profile metrics: pool cells moved by the predicted shift (mean = reference + shift).
        prof_blocks = [(lab, pool_cells.astype(np.float64) + per[lab][2]) for lab in labs]
        real = _adata(truth_blocks + [(ctrl_label, pool_cells)], genes)
        pred = _adata(prof_blocks + [(ctrl_label, pool_cells)], genes)
        pair = PerturbationAnndataPair(real=real, pred=pred, pert_col="condition", control_pert=ctrl_label)
        ce = {"mae": ce_mae(pair), "pearson_delta": ce_pearson_delta(pair)}
        if len(labs) >= 2:
            ce["discrimination_l1"] = discrimination_score(pair, metric="l1", exclude_target_gene=True)

        # DE tables with cellshift's settings (scipy), for cell-eval's overlap and direction.
        real_de, pred_de, top_de_rows, pred_shift_rows = {}, {}, {}, {}
        extra = {}
        for lab in labs:
            truth_cells, pred_cells, shift = per[lab]
            t_lfc = truth_cells.astype(np.float64).mean(axis=0) - reference
            t_adj = bh(wilcoxon_p(truth_cells, pool_cells))
            real_de[lab] = (t_adj, t_lfc)
            top = top_de(t_adj, t_lfc, TOP_DE)
            mark = np.ones(len(genes))
            mark[top] = 0.0  # only the top 20 count as significant: GEARS' gene set
            top_de_rows[lab] = (mark, t_lfc)
            pred_shift_rows[lab] = (np.ones(len(genes)), shift)
            if pred_cells is not None:
                p_lfc = pred_cells.astype(np.float64).mean(axis=0) - reference
                pred_de[lab] = (bh(wilcoxon_p(pred_cells, pool_cells)), p_lfc)
            # Not in cell-eval: numpy/scipy forms of cellshift's own definitions.
            e = {}
            e["de.top20_mse"] = float(np.mean((shift[top] - t_lfc[top]) ** 2))
            if centroid is not None:
                cshift = centroid - reference
                tt, pp = t_lfc - cshift, shift - cshift
                e["systema.r"] = float(stats.pearsonr(tt, pp)[0]) if np.ptp(pp) > 0 else None
                st = top_abs(t_lfc, SYSTEMA_TOP)
                e["systema.r_top20"] = float(stats.pearsonr(tt[st], pp[st])[0]) if np.ptp(pp[st]) > 0 else None
            extra[lab] = e
        dirn = DEDirectionMatch(fdr_threshold=FDR)(initialize_de_comparison(
            _de_frame(top_de_rows, genes), _de_frame(pred_shift_rows, genes)))
        if pred_de:
            cmp = initialize_de_comparison(_de_frame(real_de, genes), _de_frame(pred_de, genes))
            ce["de.overlap"] = de_overlap_metric(cmp, k=None, metric="overlap", fdr_threshold=FDR, sort_by=sort_abs)

        def cs_val(lab, path):
            node = sc["conditions"][lab] if lab else sc["pooled"]
            for part in path.split("."):
                node = None if node is None else node.get(part)
            return node

        metric_map = [("mae", "mae", "cell-eval mae"), ("mean_shift_r", "pearson_delta", "cell-eval pearson_delta"),
                      ("discrimination.l1", "discrimination_l1", "cell-eval discrimination_score_l1"),
                      ("de.overlap", "de.overlap", "cell-eval overlap_at_N (scipy DE)")]
        for cs_path, ce_key, source in metric_map:
            if ce_key not in ce:
                continue
            vals = ce[ce_key]
            for lab in labs:
                cs = cs_val(lab, cs_path)
                rv = vals.get(lab)
                note = ""
                if cs_path == "de.overlap" and cs is None:
                    note = "cellshift: undefined without true DEGs; cell-eval: 0"
                    add(pname, cs_path, lab, cs, rv, source, TOL, status="OK" if rv == 0.0 else "DIFF", note=note)
                    continue
                add(pname, cs_path, lab, cs, rv, source, TOL)
            # Pooled as cellshift pools: pearson over all condition x gene pairs, else means.
            if cs_path == "mean_shift_r":
                t = np.concatenate([real_de[lab][1] for lab in labs])
                q = np.concatenate([per[lab][2] for lab in labs])
                pooled = float(stats.pearsonr(t, q)[0]) if np.ptp(q) > 0 else None
                add(pname, cs_path, "pooled", cs_val(None, cs_path), pooled, "scipy pearsonr (pooled pairs)", TOL)
            else:
                defined = [vals[lab] for lab in labs if not (cs_path == "de.overlap" and cs_val(lab, cs_path) is None)]
                add(pname, cs_path, "pooled", cs_val(None, cs_path), float(np.mean(defined)) if defined else None,
                    source + " (mean)", TOL)
        for lab in labs:
            add(pname, "de.top20_sign", lab, cs_val(lab, "de.top20_sign"), dirn.get(lab),
                "cell-eval de_direction_match (top-20 genes)", TOL)
        add(pname, "de.top20_sign", "pooled", cs_val(None, "de.top20_sign"),
            float(np.mean([dirn[lab] for lab in labs])), "cell-eval de_direction_match (mean)", TOL)
        for key_ in ("de.top20_mse", "systema.r", "systema.r_top20"):
            vals = {lab: extra[lab].get(key_) for lab in labs}
            if all(v is None for v in vals.values()):
                continue
            for lab in labs:
                add(pname, key_, lab, cs_val(lab, key_), vals[lab], "numpy/scipy", TOL)
            defined = [v for v in vals.values() if v is not None]
            add(pname, key_, "pooled", cs_val(None, key_), float(np.mean(defined)) if defined else None,
                "numpy/scipy (mean)", TOL)


    # cell-eval's own DE engine (pdex) on the ceiling's cells: a different test, shown unscored.
    try:
        from pdex import pdex as run_pdex
        per = predictors["ceiling"]
        labs = [lab for lab in labels if lab in per]
        frames = {}
        for which, idx in (("real", 0), ("pred", 1)):
            a = _adata([(lab, per[lab][idx]) for lab in labs] + [(ctrl_label, pool_cells)], genes)
            frames[which] = run_pdex(a, groupby="condition", mode="ref", reference=ctrl_label,
                                     is_log1p=True, epsilon=0.0, threads=0)
        cmp = initialize_de_comparison(frames["real"], frames["pred"])
        ov = de_overlap_metric(cmp, k=None, metric="overlap", fdr_threshold=FDR, sort_by=sort_abs)
        add("ceiling", "de.overlap", "pooled", scores["ceiling"]["pooled"]["de"]["overlap"],
            float(np.mean([ov[lab] for lab in labs])), "cell-eval overlap_at_N (its pdex DE)", TOL, status="DEF",
            note="pdex: continuity correction, log2 fold change of expm1 geometric means")
    except Exception as err:  # noqa: BLE001 - an informational row only
        print(f"{name}: cell-eval's default DE engine could not run: {err}", file=sys.stderr)

    return {"dataset": name, "conditions": labels, "reference_cells": len(pool),
            "lognorm_max_diff": lognorm_diff, "rows": rows}


def fmt(v):
    return "null" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cellshift", required=True)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--kang", required=True, type=Path, help="the bundled Kang CSV(.gz)")
    ap.add_argument("--json", default=Path("crosscheck.json"), type=Path)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    sample_csv = args.work / "sample.csv"
    run_cli(args.cellshift, ["sample", "--out", str(sample_csv)])  # the same data as --sample
    budget = ["--iwelbo-particles", "10", "--ate-samples", "100"]
    results = [
        check_dataset("sample", args.cellshift, ["--sample"], sample_csv, args.work / "sample",
                      ["--epochs", "30", *budget]),
        check_dataset("kang2018", args.cellshift, ["--dataset", "kang2018"], args.kang, args.work / "kang2018",
                      ["--epochs", "30", *budget]),
    ]
    rows = [r for d in results for r in d["rows"]]
    header = f"{'dataset':9} {'predictor':18} {'metric':42} {'cellshift':>11} {'reference':>11} {'abs diff':>9} {'tol':>6}  status  reference"
    print(header)
    print("-" * len(header))
    for r in rows:
        if r["scope"] not in ("pooled", "max over genes x conditions"):
            continue
        print(f"{r['dataset']:9} {r['predictor']:18} {r['metric']:42} {fmt(r['cellshift']):>11} {fmt(r['reference']):>11} "
              f"{fmt(r['abs_diff']):>9} {r['tolerance']:>6.0e}  {r['status']:6}  {r['source']}"
              + (f"  [{r['note']}]" if r["note"] else ""))
    per_cond = [r for r in rows if r["scope"] not in ("pooled", "max over genes x conditions")]
    worst = max((r["abs_diff"] for r in per_cond if r["abs_diff"] is not None), default=0.0)
    diffs = [r for r in rows if r["status"] == "DIFF"]
    print(f"\nper-condition rows: {len(per_cond)} compared, largest abs diff {worst:.3g}, "
          f"{sum(r['status'] == 'DIFF' for r in per_cond)} beyond tolerance")
    for r in diffs:
        print(f"DIFF: {r['dataset']} {r['predictor']} {r['metric']} [{r['scope']}]: cellshift {fmt(r['cellshift'])}, "
              f"{r['source']} {fmt(r['reference'])}")
    args.json.write_text(json.dumps({"datasets": results, "differences": len(diffs)}, indent=1))
    print(f"wrote {args.json}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
