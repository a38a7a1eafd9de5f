#!/usr/bin/env bash
# Cross-checks cellshift's scores against PyPI's cell-eval and scipy (see scripts/crosscheck.py).
# Downloads from PyPI on first use, so it is not part of `make test`. The virtual environment
# lives outside the repository; the CLI is the release build (make cli).
#   CELLSHIFT=path/to/cellshift  the binary (default: $CARGO_TARGET_DIR or target, release)
#   CROSSCHECK_VENV=dir          the virtual environment (default: ~/.cache/cellshift/venv-crosscheck)
# Writes crosscheck.json in the repository root; exits non-zero on an unexplained difference.
set -euo pipefail
cd "$(dirname "$0")/.."

CELL_EVAL_VERSION=0.8.2
venv=${CROSSCHECK_VENV:-$HOME/.cache/cellshift/venv-crosscheck}
bin=${CELLSHIFT:-${CARGO_TARGET_DIR:-target}/release/cellshift}
if [ ! -x "$bin" ]; then
  echo "no cellshift binary at $bin: run make cli (or set CELLSHIFT)" >&2
  exit 2
fi
if ! "$bin" train --help | grep -q -- --export-h5ad; then
  echo "$bin has no --export-h5ad: rebuild it with make cli" >&2
  exit 2
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('cell-eval') != '$CELL_EVAL_VERSION')" 2>/dev/null; then
  "$venv/bin/pip" install --quiet "cell-eval==$CELL_EVAL_VERSION" scipy anndata
fi
export TQDM_DISABLE=1  # cell-eval's progress bars
work=$(mktemp -d "${TMPDIR:-/tmp}/cellshift-crosscheck.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" scripts/crosscheck.py --cellshift "$bin" --work "$work" \
  --kang assets/kang2018_pbmc_ifnb.csv.gz --json crosscheck.json 2> >(grep -v "Running parallel differential" >&2)
