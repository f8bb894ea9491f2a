# Everything installs itself: `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export QA_DATABASE_URL ?= sqlite:///qa_service.db

.PHONY: setup demo lint test unit integration browser bench clean browser-deps vendor
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	$(BIN)/python -c "from qa_service.asr.model_store import embedded_model_dir; from qa_service.config import get_settings; print('model ready:', embedded_model_dir(get_settings().model_cache_dir))"
	touch $(STAMP)

setup: $(STAMP)

# Scores the samples, then serves the web app and prints its address and fresh demo keys.
demo: setup
	-$(BIN)/qa-service demo --rubrics rubrics --samples samples
	$(BIN)/qa-service serve --demo-keys

# The browser tests drive Debian's Chromium (tests/browser), with a Chinese font so that the
# screenshots are readable; installed here when missing.
browser-deps:
	@(test -x $(CHROMIUM) && fc-list :lang=zh | grep -q .) || \
	  ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium chromium-driver fonts-wqy-microhei)

# ruff (lint, then formatting) and mypy, as configured in pyproject.toml.
lint: setup
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/mypy qa_service

# Lint, then each test layer in order, stopping at the first failure (what CI runs).
test: lint unit integration browser

# One layer each. pytest exits 5 when it collects no test: that fails the target, so
# a layer that lost its tests is an error, not a pass.
unit: setup
	$(BIN)/python -m pytest -q tests/unit

# Two pytest-xdist workers, a file each at a time: most of the layer waits on worker processes,
# servers and databases, so two run in about the time of one and a half (tests/support.py gives
# each its own Redis databases).
integration: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests/integration

browser: setup browser-deps
	$(BIN)/python -m pytest -q tests/browser

# Every figure of the speed and accuracy targets (issue 27's and 24's), each benchmark printing
# its ratio or goal beside it. Hours on a 2-core machine: the PostgreSQL ones load millions of
# rows (BENCH_ROWS); run one line by hand to measure one thing.
BENCH_PG ?= postgresql+psycopg://postgres@127.0.0.1:5432
BENCH_ROWS ?= 5000000
bench: setup
	for corpus in ../shared/corpus/dev ../shared/corpus/dev-paraphrase \
	    corpus/car-insurance-renewal corpus/wealth-care-offer; do \
	  $(BIN)/python benchmarks/asr_overhead.py --corpus $$corpus || exit 1; done
	$(BIN)/python benchmarks/ingest_throughput.py --workers 1 --threads 2
	$(BIN)/python benchmarks/ingest_throughput.py --workers 2 --threads 1 --repeat 2
	$(BIN)/python benchmarks/rule_engine.py
	$(BIN)/python benchmarks/rule_engine.py --no-engine --calls 100000 --db $(BENCH_PG)/qa_bench_rescore_100k --keep
	$(BIN)/python benchmarks/rule_engine.py --no-engine --calls 10000 --cold --db $(BENCH_PG)/qa_bench_rescore_cold --keep
	$(BIN)/python benchmarks/metrics_latency.py --rows $(BENCH_ROWS) --goal 50 --reuse
	$(BIN)/python benchmarks/webapp_under_load.py --rows 1000000 --reuse
	$(BIN)/python benchmarks/search_latency.py
	$(BIN)/python benchmarks/accuracy.py
	$(BIN)/python benchmarks/products.py --cached

# Development only: refresh the vendored front-end libraries from the npm registry
# (the built files and their licences are committed; npm is not needed to run or test).
vendor:
	bash qa_service/api/web/vendor.sh

clean:
	rm -rf $(VENV) qa_service.db .pytest_cache .mypy_cache .ruff_cache
