# Two commands matter: `make run` and `make test`. Both set up .venv when it is missing or stale.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data/demo
PORT ?= 3000
export MPLBACKEND := Agg

.PHONY: run test lint bench mlflow-ui notebook setup sample train serve clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or run: make PYTHON=python3 ...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

# Generate the demo data once, validate it, train every family, then serve the champions.
run: $(STAMP)
	@test -f $(DATA)/sales.parquet || $(BIN)/daiyun sample $(DATA) --size demo --seed 7
	$(BIN)/daiyun validate $(DATA)
	$(BIN)/daiyun train all --data $(DATA)
	$(BIN)/daiyun serve --port $(PORT) --data $(DATA)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,bench]"  # the forecast peers (statsforecast)
	@test -f $(DATA)/sales.parquet || $(BIN)/daiyun sample $(DATA) --size demo --seed 7
	for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

mlflow-ui: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow/mlflow.db --default-artifact-root mlflow/artifacts --port 5000

notebook: $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[notebook]"
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
