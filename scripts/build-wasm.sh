#!/usr/bin/env bash
# Builds the page's wasm into pkg/: installs the wasm32 target and the wasm-bindgen CLI at
# exactly the version Cargo.lock pins, then compresses the module for serving.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-unknown-unknown >/dev/null
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
if ! command -v wasm-bindgen >/dev/null || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$version" ]; then
  echo "installing wasm-bindgen-cli $version (one-off, several minutes)"
  cargo install wasm-bindgen-cli --version "$version"
fi

cargo build --lib --profile wasm-release --target wasm32-unknown-unknown
rm -rf pkg
wasm-bindgen --target web --no-typescript --out-dir pkg \
  "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm-release/cellshift.wasm"

if [ "${WASM_OPT:-0}" = "1" ]; then
  # Debian's binaryen is too old for current wasm-bindgen output; the npm package is current.
  (cd tests/e2e && npm install --no-audit --no-fund --silent binaryen@132 >/dev/null)
  node tests/e2e/node_modules/binaryen/bin/wasm-opt -O2 --enable-simd --enable-bulk-memory \
    --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    pkg/cellshift_bg.wasm -o pkg/cellshift_bg.opt.wasm
  mv pkg/cellshift_bg.opt.wasm pkg/cellshift_bg.wasm
fi
gzip -9 -k -f pkg/cellshift_bg.wasm
ls -l pkg/cellshift_bg.wasm pkg/cellshift_bg.wasm.gz | awk '{print $5, $9}'
