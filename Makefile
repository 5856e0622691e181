# Two commands for a fresh machine with python3 and make:
#   make demo   install the kit into .venv and run the three techniques in the terminal
#   make test   install the test extras into .venv and run every test and notebook
# Each target (re)installs only when pyproject.toml changed, so it also works on an existing .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test system-packages lint format lab notebooks bench install clean help

help:
	@echo "make demo   run the three streaming techniques in the terminal"
	@echo "make test   run the whole test suite, notebooks included (strict nbval); lint first"
	@echo "make lint   ruff (lint and format check) and mypy on streamkit/"
	@echo "make format ruff format and the safe ruff fixes"
	@echo "make lab    open JupyterLab on notebooks/"
	@echo "make notebooks  rebuild notebooks/ from tools/notebooks/ and run them (outputs included)"
	@echo "make bench  run the benchmarks (prints ratios)"
	@echo "make clean  remove .venv and caches"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[test,servers,browser,asgi]'
	@touch $@

# Everything the lessons use: lesson 07 also needs nginx and lesson 09 Chromium, system
# programs that pip cannot install; `make lab` names the package when one is missing.
$(VENV)/.installed-lab: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[lab,servers,asgi,browser]'
	@touch $@

install: $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	$(BIN)/streamkit demo

# nginx and chromium are installed first when this machine allows it (root + apt-get); where
# it does not, the tests that need them skip, naming the package (tools/system_packages.sh).
system-packages:
	@tools/system_packages.sh

test: lint system-packages
	$(BIN)/python -m pytest

# ruff and mypy come with the test extra.
lint: $(VENV)/.installed-test
	$(BIN)/python -m ruff check streamkit pytest_streamkit tests tools benchmarks
	$(BIN)/python -m ruff format --check streamkit pytest_streamkit
	$(BIN)/python -m mypy

format: $(VENV)/.installed-test
	$(BIN)/python -m ruff check --fix streamkit tests tools benchmarks
	$(BIN)/python -m ruff format streamkit

lab: $(VENV)/.installed-lab
	@$(BIN)/python -c "from streamkit.exercises import lesson_unavailable as why; [print('make lab: ' + m) for m in map(why, ('07', '09')) if m]"
	$(BIN)/jupyter lab notebooks/

# Rebuild every notebook from its source in tools/notebooks/ and run it (twice, in one
# kernel: re-run safety); the first run's outputs are written. One lesson: make notebooks NB=03
notebooks: $(VENV)/.installed-test $(VENV)/.installed-lab
	$(BIN)/python tools/build_notebooks.py $(NB)

# Every benchmark runs and prints PASS/FAIL per target; only a crash makes the target fail.
bench: $(VENV)/.installed-test
	@status=0; for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || status=1; done; exit $$status

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
