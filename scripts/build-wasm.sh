#!/usr/bin/env bash
# Builds the page's wasm into pkg/: installs the wasm32 target and the wasm-bindgen CLI at
# exactly the version Cargo.lock pins, then shrinks the module for serving (scripts/wasm-size.mjs):
# removes its debugging sections, optimises it with wasm-opt from npm's binaryen (pinned below;
# installed once into the cargo target directory, outside the sources), and writes
# pkg/cellshift_bg.wasm.gz and .br beside it, with the size after each step in pkg/size.json.
#
#   WASM_OPT_LEVEL=O2   wasm-opt's level (default O1; see below)
#   WASM_OPT=0          skips wasm-opt (a quicker build to try something; not what is published)
#
# Why -O1 (measured on this module; pkg/size.json has the current figures): rustc has already
# optimised the code at opt-level 3. wasm-opt -O1 takes the module from 28.7 to 22.6 MB (brotli
# 2.82 → 2.76 MB, gzip 4.89 → 4.72 MB) with no measurable change in training speed. -O2 and -O3,
# whose extra is mostly binaryen's own inlining, make it 21.9 / 20.8 MB but compress worse
# (brotli 2.98 / 2.99 MB, gzip 4.98 / 4.99 MB), take 4-9 minutes instead of 1.5-2, train no
# faster, and stall the page's main thread during training: the e2e test "the page answers input
# while training" failed 8 runs in 13 with -O2 (longest timer gap 126-511 ms, limit 150) and
# none in 9 with -O1 (59-96 ms).
#
# wasm-opt takes minutes on a changed module (npm's binaryen runs on one core); its output and
# the brotli copy are cached by their input's hash, so an unchanged module is quick.
set -euo pipefail
cd "$(dirname "$0")/.."

BINARYEN_VERSION=132.0.0

rustup target add wasm32-unknown-unknown >/dev/null
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
if ! command -v wasm-bindgen >/dev/null || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$version" ]; then
  echo "installing wasm-bindgen-cli $version (one-off, several minutes)"
  cargo install wasm-bindgen-cli --version "$version"
fi

cargo build --lib --profile wasm-release --target wasm32-unknown-unknown
target_dir="${CARGO_TARGET_DIR:-target}"
raw="$target_dir/wasm32-unknown-unknown/wasm-release/cellshift.wasm"
rm -rf pkg
wasm-bindgen --target web --no-typescript --out-dir pkg "$raw"

opt_args=()
if [ "${WASM_OPT:-1}" != "0" ]; then
  # Debian's binaryen is too old for current wasm-bindgen output; the npm package is current.
  tools="$target_dir/tools/binaryen-$BINARYEN_VERSION"
  wasm_opt="$tools/node_modules/binaryen/bin/wasm-opt"
  if [ ! -f "$wasm_opt" ]; then
    echo "installing binaryen $BINARYEN_VERSION from npm into $tools (one-off)"
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-save --no-package-lock --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION" >/dev/null
  fi
  opt_args=(--wasm-opt "$wasm_opt" --level "${WASM_OPT_LEVEL:-O1}")
else
  echo "WASM_OPT=0: wasm-opt skipped"
fi
node scripts/wasm-size.mjs --raw "$raw" --wasm pkg/cellshift_bg.wasm "${opt_args[@]}" \
  --cache "$target_dir/wasm-size-cache" --json pkg/size.json
