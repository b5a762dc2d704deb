# streetlens — the two commands a user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501

.PHONY: run test install demo browser clean-venv

# (Re)install when pyproject.toml changes; creating the venv only when missing.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The embedded default: built once (about 4.5 minutes on a 2-core CPU with the Places365 run and the reliability check; offline), reused afterwards.
demo: $(STAMP)
	@$(BIN)/python -c "import sys; from analysis.train.runs import list_runs; sys.exit(not list_runs())" || $(BIN)/streetlens demo

# Headless Chromium for the browser tests (Debian package; playwright drives it).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests …"; \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	  { echo "could not install chromium: install it (e.g. apt-get install chromium) and rerun"; exit 1; }; }

# The architecture contract (import-linter's layers, in pyproject.toml), then the tests.
test: $(STAMP) browser
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

run: demo
	$(BIN)/streamlit run dashboard/app.py --server.port $(PORT)

clean-venv:
	rm -rf $(VENV)
