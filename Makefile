# Two commands do all the set-up: `make serve` (the service on the bundled corpus) and `make test`.
# Both create the virtual environment in .venv on first use; `make serve` builds the index when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install serve test eval bench browser clean

$(BIN)/qa: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/qa

serve: $(BIN)/qa
	$(BIN)/qa serve

# Browser tests need Debian's chromium and chromedriver; installed here when missing and we may (root + apt).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "could not install chromium: browser tests will be skipped"; \
	  else echo "chromium/chromedriver missing: browser tests will be skipped"; fi; fi

test: $(BIN)/qa browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

eval: $(BIN)/qa
	$(BIN)/qa build --quiet
	$(BIN)/qa eval --report eval/report
	@echo "--- fresh questions (eval/fresh.jsonl: measured, not tuned on)"
	$(BIN)/qa eval --gold eval/fresh.jsonl --report eval/report/fresh

bench: $(BIN)/qa
	$(BIN)/python bench/run_all.py

clean:
	rm -rf index_store/v* index_store/CURRENT index_store/.lock index_store/.staging-* eval/report .pytest_cache
