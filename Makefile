# Everything installs itself: `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export QA_DATABASE_URL ?= sqlite:///qa_service.db

.PHONY: setup demo test unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	$(BIN)/python -c "from qa_service.model_store import embedded_model_dir; from qa_service.config import get_settings; print('model ready:', embedded_model_dir(get_settings().model_cache_dir))"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/qa-service demo --rubrics rubrics --samples samples

test: setup
	$(BIN)/python -m pytest -q tests

unit: setup
	$(BIN)/python -m pytest -q tests/unit

bench: setup
	$(BIN)/python benchmarks/asr_overhead.py
	$(BIN)/python benchmarks/rule_engine.py
	$(BIN)/python benchmarks/accuracy.py

clean:
	rm -rf $(VENV) qa_service.db .pytest_cache
