# thesis-workbench. The two commands of the quick start are `make demo` and `make test`;
# both create the virtual environment .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# `pytest --nbval` runs the tests and regression-tests the notebooks (settings in
# notebooks/conftest.py). Tests are spread over PYTEST_WORKERS processes a file at a time; the
# notebooks run in order on one worker (conftest.py schedules them). `make test` uses one
# worker more than a 2-core machine has: the SLURM tests mostly wait for their jobs, and the
# notebooks' kernels for their starts. The fast tier keeps two.
PYTEST_WORKERS ?= 3
FAST_WORKERS ?= 2

.PHONY: help install demo test test-fast notebooks lint lab clean-venv

help:
	@echo "make demo   - install into .venv and run the main job on the embedded demo data"
	@echo "make test   - install into .venv and run the test suite (pytest + nbval)"
	@echo "make test-fast - the fast tier a developer runs after each change (no slow tests, no notebooks)"
	@echo "make notebooks - re-execute the committed notebooks 01-07 as the regression test runs them"
	@echo "make lab    - register a Jupyter kernel for .venv and start JupyterLab"
	@echo "make lint   - ruff"

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(INSTALLED)

install: $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/thesis demo

test: $(INSTALLED)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --nbval

test-fast: $(INSTALLED)
	$(BIN)/python -m pytest -n $(FAST_WORKERS) --dist loadfile -m "not slow" tests

notebooks: $(INSTALLED)
	$(BIN)/python notebooks/rerun.py

lint: $(INSTALLED)
	$(BIN)/ruff check thesis_lib tests benchmarks

lab: $(INSTALLED)
	$(BIN)/python -m ipykernel install --user --name thesis-workbench --display-name "Python (thesis-workbench)"
	$(BIN)/jupyter lab --notebook-dir=notebooks

clean-venv:
	rm -rf $(VENV)
