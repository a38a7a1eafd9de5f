#!/usr/bin/env bash
# Every test suite, with whatever each needs installed first. Prints one summary line per suite
# and exits non-zero if any suite failed.
set -uo pipefail
cd "$(dirname "$0")/.."

summary=()
failed=0
record() { # name status seconds
  local line
  if [ "$2" -eq 0 ]; then line="suite $1: passed ($3 s)"; else line="suite $1: FAILED ($3 s)"; failed=1; fi
  summary+=("$line")
  echo "== $line"
}
timed() { # name command...
  local name=$1 start status
  shift
  start=$(date +%s)
  "$@"
  status=$?
  record "$name" "$status" "$(( $(date +%s) - start ))"
}

install_browser() {
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    echo "installing Debian's chromium and chromium-driver"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
}

# 1. Lint: formatting, and clippy with warnings as errors on both targets (the wasm32 build
#    compiles the web layer, which the native one does not).
lint() {
  rustup component add rustfmt clippy >/dev/null 2>&1
  rustup target add wasm32-unknown-unknown >/dev/null
  cargo fmt --check &&
    cargo clippy --features cli --all-targets -- -D warnings &&
    cargo clippy --target wasm32-unknown-unknown --lib --test web -- -D warnings
}
timed lint lint

# 2. Native: unit and integration tests of the engine and the CLI (release: training tests
#    are real training runs).
timed native cargo test --release --features cli

# 3. The page's wasm (also installs the wasm32 target and the pinned wasm-bindgen CLI).
timed wasm-build bash scripts/build-wasm.sh

# 4. The web layer's own tests, in headless Chromium.
install_browser
export CHROMEDRIVER=/usr/bin/chromedriver
# Loading the module and training run on the test page's main thread: allow more than 20 s.
export WASM_BINDGEN_TEST_TIMEOUT=600
timed wasm-browser cargo test --profile wasm-release --target wasm32-unknown-unknown --test web

# 5. End to end: the built page driven by playwright-core in Debian's Chromium.
e2e() {
  (cd tests/e2e && npm ci --no-audit --no-fund --silent) && (cd tests/e2e && npm test)
}
timed e2e e2e

echo
printf '%s\n' "${summary[@]}"
exit $failed
