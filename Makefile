# Two commands do all set-up on a fresh machine:
#   make demo   builds the page's wasm and serves it on http://127.0.0.1:$(PORT)/
#   make test   runs every test suite (native, wasm in headless Chromium, end-to-end)
# make site writes the page as a static site into site/ (see scripts/site.mjs).
PORT ?= 8080

.PHONY: demo test pkg cli bench clean fuzz site crosscheck

demo: pkg
	PORT=$(PORT) node www/serve.mjs

pkg:
	bash scripts/build-wasm.sh

# The static site (any host, any sub-path, offline after the first visit) in site/.
site: pkg
	node scripts/site.mjs --out site

cli:
	cargo build --release --features cli

test:
	bash scripts/test.sh

# Native figures, then the built page's in headless Chromium, into bench.json (see README).
bench: pkg
	cargo run --release --features cli --bin cellshift-bench -- bench.json
	cd tests/e2e && npm ci --no-audit --no-fund --silent
	node scripts/bench-page.mjs bench.json

# cellshift's scores beside PyPI's cell-eval and scipy on the sample and the Kang holdout
# (installs cell-eval in a virtual environment outside the repository; writes crosscheck.json).
crosscheck:
	bash scripts/crosscheck.sh

# Bounded fuzzing of the input readers (FUZZ_RUNS executions per target; see the script).
fuzz:
	bash scripts/fuzz.sh

clean:
	rm -rf pkg site target tests/e2e/node_modules tests/e2e/screenshots
