#!/usr/bin/env bash
# Fuzzes the input readers: the CSV/gzip loader, the AnnData reader, the split-file and truth
# readers and settings
# validation with cargo-fuzz (libFuzzer, nightly toolchain, debug assertions and overflow checks
# on, AddressSanitizer), then the page's share-link parser with a node loop (fuzz/link.mjs).
# Targets run one after another for a bounded number of executions each; one summary line per
# target, and a non-zero exit if any target crashed, hung, ran out of memory or panicked.
#
#   FUZZ_RUNS      libFuzzer executions over the five Rust targets (default 10,000,000), shared
#                  by each target's cost: csv 3%, split_file 7%, settings 10%, h5ad 2%, truth 78%, so that
#                  each gets a few minutes on two cores (FUZZ_RUNS_<target> sets one directly)
#   FUZZ_TARGETS   which targets to run (default: csv split_file truth settings h5ad link)
#   FUZZ_LINK_RUNS executions of the share-link loop (default 200,000)
#   FUZZ_TIMEOUT   seconds one input may take before it counts as a hang (default 10)
#
# Builds go to $CARGO_TARGET_DIR/fuzz if CARGO_TARGET_DIR is set, else to fuzz/target: never
# mixed with the main (stable) build. Inputs that fail are written to fuzz/artifacts/<target>/;
# keep each one under tests/fuzz_regressions/<target>/ so that `make test` replays it.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TOTAL_RUNS=${FUZZ_RUNS:-10000000}
LINK_RUNS=${FUZZ_LINK_RUNS:-200000}
TIMEOUT=${FUZZ_TIMEOUT:-10}
TARGETS=${FUZZ_TARGETS:-csv split_file truth settings h5ad link}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/fuzz}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/fuzz/target}"

runs_of() { # target
  local share override
  case $1 in
    csv) share=3 ;;
    split_file) share=7 ;;
    settings) share=10 ;;
    h5ad) share=2 ;;
    *) share=78 ;;
  esac
  override=FUZZ_RUNS_$1
  echo "${!override:-$((TOTAL_RUNS * share / 100))}"
}

max_len() {
  case $1 in
    csv | h5ad) echo 65536 ;;
    split_file | truth) echo 16384 ;;
    *) echo 4096 ;;
  esac
}

needs_libfuzzer=0
for t in $TARGETS; do [ "$t" != link ] && needs_libfuzzer=1; done

if [ $needs_libfuzzer = 1 ]; then
  if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "installing the nightly toolchain"
    rustup toolchain install nightly --profile minimal || exit 1
  fi
  if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo +nightly install cargo-fuzz --locked || exit 1
  fi
fi

# Seeds: the hand-picked ones (fuzz/seeds/, read only), the saved regressions (read only) and,
# copied into the working corpus, the real inputs: the end-to-end fixtures and the first 20
# rows of the shared datasets when they are there.
seed_corpus() {
  local t=$1 corpus=$ROOT/fuzz/corpus/$1 shared=$ROOT/../shared/data
  mkdir -p "$corpus"
  case $t in
    csv)
      cp "$ROOT"/tests/e2e/fixtures/*.csv "$corpus"/ 2>/dev/null
      for f in kang2018_pbmc_ifnb synth_sparse_additive; do
        [ -f "$shared/$f.csv" ] && head -n 21 "$shared/$f.csv" >"$corpus/$f.head.csv"
      done
      ;;
    split_file)
      # The first byte is the number of data rows.
      [ -f "$shared/synth_sparse_additive.split.csv" ] &&
        { printf '\024'; head -n 21 "$shared/synth_sparse_additive.split.csv"; } >"$corpus/synth_sparse_additive.split.head"
      ;;
    truth)
      [ -f "$shared/synth_sparse_additive.truth.json" ] && cp "$shared/synth_sparse_additive.truth.json" "$corpus"/
      ;;
  esac
}

mkdir -p "$ROOT/fuzz/logs"
summary=()
failed=0
total=0
start_all=$(date +%s)

if [ $needs_libfuzzer = 1 ]; then
  echo "building the fuzz targets (cargo +nightly fuzz build, into $CARGO_TARGET_DIR)"
  if ! cargo +nightly fuzz build; then
    echo "fuzz: the fuzz targets did not build"
    exit 1
  fi
fi

for t in $TARGETS; do
  log=$ROOT/fuzz/logs/$t.log
  start=$(date +%s)
  if [ "$t" = link ]; then
    node "$ROOT/fuzz/link.mjs" --runs "$LINK_RUNS" --corpus "$ROOT/fuzz/seeds/link" \
      --corpus "$ROOT/tests/fuzz_regressions/link" >"$log" 2>&1
    status=$?
    line=$(grep '^fuzz link:' "$log" | tail -n 1)
    [ -n "$line" ] || line="fuzz link: did not finish (exit $status)"
    [ $status -eq 0 ] || { failed=1; line="$line; see $log"; }
    summary+=("$line")
    echo "$line"
    grep '^  ' "$log"
    continue
  fi

  seed_corpus "$t"
  mkdir -p "$ROOT/fuzz/artifacts/$t"
  bin=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/$t
  libfuzzer=(-max_len="$(max_len "$t")" -timeout="$TIMEOUT" -rss_limit_mb=2048)

  # The saved inputs first, all in one process; if that fails, one process each (a crash ends
  # a libFuzzer process): those that still fail are reported, the others join the corpus.
  saved=()
  for f in "$ROOT/tests/fuzz_regressions/$t"/*; do [ -f "$f" ] && saved+=("$f"); done
  still=()
  if [ ${#saved[@]} -gt 0 ] && ! "$bin" "${libfuzzer[@]}" -artifact_prefix="$ROOT/fuzz/artifacts/$t/" "${saved[@]}" >"$log" 2>&1; then
    for f in "${saved[@]}"; do
      if ! "$bin" "${libfuzzer[@]}" -artifact_prefix="$ROOT/fuzz/artifacts/$t/" "$f" >"$log" 2>&1; then
        what=$(grep -m1 -oE 'panicked at [^:]+:[0-9]+:[0-9]+|timeout after [0-9]+ seconds|out-of-memory|ERROR: AddressSanitizer: [a-z-]+|deadly signal' "$log")
        still+=("tests/fuzz_regressions/$t/$(basename "$f") (${what:-failed})")
        cp "$log" "$ROOT/fuzz/logs/$t.saved-$(basename "$f").log"
      fi
    done
  fi
  for f in "${saved[@]}"; do
    case " ${still[*]} " in *"/$(basename "$f") ("*) ;; *) cp "$f" "$ROOT/fuzz/corpus/$t/" ;; esac
  done
  replayed=${#saved[@]}

  dict=()
  [ -f "$ROOT/fuzz/dicts/$t.dict" ] && dict=(-dict="$ROOT/fuzz/dicts/$t.dict")
  cargo +nightly fuzz run "$t" "$ROOT/fuzz/corpus/$t" "$ROOT/fuzz/seeds/$t" -- \
    -runs="$(runs_of "$t")" "${libfuzzer[@]}" -print_final_stats=1 "${dict[@]}" >"$log" 2>&1
  status=$?
  secs=$(($(date +%s) - start))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  runs=${runs:-0}
  total=$((total + runs))
  if [ $status -eq 0 ]; then
    line="fuzz $t: $runs runs, 0 crashes ($secs s)"
  else
    failed=1
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    what=$(grep -m1 -oE 'panicked at [^:]+:[0-9]+:[0-9]+|timeout after [0-9]+ seconds|out-of-memory|ERROR: AddressSanitizer: [a-z-]+|deadly signal' "$log")
    line="fuzz $t: $runs runs, 1 crash (${what:-exit $status}): ${artifact:-no artifact}; see $log"
  fi
  line="$line; saved inputs: $replayed replayed, ${#still[@]} failing"
  if [ ${#still[@]} -gt 0 ]; then
    failed=1
    line="$line: ${still[*]}"
  fi
  summary+=("$line")
  echo "$line"
done

echo
printf '%s\n' "${summary[@]}"
echo "fuzz: $total libFuzzer executions in $(($(date +%s) - start_all)) s"
exit $failed
