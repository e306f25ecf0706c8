# Context IQ: `make run` serves the product on embedded defaults, `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv frontend lint bench clean

$(STAMP): pyproject.toml
	@echo "==> creating virtual environment in $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@echo "==> installing Python dependencies (first time: a minute or two)"
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

venv: $(STAMP)

frontend:
	@bash scripts/build-frontend.sh

run: venv frontend
	@$(BIN)/contextiq serve --bootstrap

test: venv
	@bash scripts/test.sh

lint: venv  # ruff and mypy
	@$(BIN)/ruff check src tests bench
	@$(BIN)/ruff format --check src tests bench
	@$(BIN)/mypy

bench: venv
	@$(BIN)/python bench/serve.py

clean:
	rm -rf $(VENV) data frontend/node_modules frontend/dist src/contextiq/static
