# Two commands do all set-up on a fresh machine with python3: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser java demo test lint lock clean mlflow-ui

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## Debian's chromium and chromium-driver for the sales report's browser tests and screenshots (when missing).
SUDO := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null && echo sudo)
browser:
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		($(SUDO) apt-get update && \
		 $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver)

## Java 17 for PySpark (features.engine spark, the Spark tests), from Debian when no java is on the PATH.
java:
	command -v java >/dev/null || ($(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless)

## Generate the demo data and run the whole DVC pipeline; prints where the outputs are.
demo: install browser java
	test -d .git || git init --quiet
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro
	@echo ""
	@echo "Ranked prospects:  data/scores/runs/latest/report.html (and prospects.csv, .xlsx, .parquet)"
	@echo "Metrics:           reports/metrics.json   ($(BIN)/dvc metrics show)"
	@echo "Plots:             reports/evaluation/plots/  ($(BIN)/dvc plots show)"
	@echo "MLflow UI:         make mlflow-ui, then open http://127.0.0.1:5000"

## Run the whole test suite (CI runs exactly this).
test: install browser java
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n 2 --dist loadgroup

lint: install
	$(BIN)/ruff check .

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db

## Refresh the pinned lock file from the current environment (after changing pyproject.toml).
lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^key-account-potential' > requirements.lock

clean:
	rm -rf data artifacts reports mlflow.db mlartifacts
