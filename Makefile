# Two commands do all set-up on a fresh machine:
#   make demo   builds the page's wasm and serves it on http://127.0.0.1:$(PORT)/
#   make test   runs every test suite (native, wasm in headless Chromium, end-to-end)
PORT ?= 8080

.PHONY: demo test pkg cli bench clean fuzz

demo: pkg
	PORT=$(PORT) node www/serve.mjs

pkg:
	bash scripts/build-wasm.sh

cli:
	cargo build --release --features cli

test:
	bash scripts/test.sh

bench:
	cargo run --release --features cli --bin cellshift-bench -- bench.json

# Bounded fuzzing of the input readers (FUZZ_RUNS executions per target; see the script).
fuzz:
	bash scripts/fuzz.sh

clean:
	rm -rf pkg target tests/e2e/node_modules tests/e2e/screenshots
