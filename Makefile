# LoanBridge: `make run` (embedded, one process), `make test` (everything), `make up` / `make down` (distributed).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SERVICES := identity intake workflow risk notify reporting
INSTALLED := $(VENV)/.installed

.PHONY: install run test test-unit test-integration test-embedded up down status lint format clean

$(INSTALLED): constraints.txt requirements-dev.txt libs/common/pyproject.toml $(wildcard services/*/pyproject.toml)
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -r requirements-dev.txt -e libs/common $(addprefix -e services/,$(SERVICES))
	touch $@

install: $(INSTALLED)

run: $(INSTALLED)
	$(BIN)/loanbridge run --port $${PORT:-8000}

test: $(INSTALLED)
	$(BIN)/python -m pytest

test-unit: $(INSTALLED)
	$(BIN)/python -m pytest libs services

test-integration: $(INSTALLED)
	$(BIN)/python -m pytest tests/integration

test-embedded: $(INSTALLED)
	$(BIN)/python -m pytest tests/embedded

up: $(INSTALLED)
	$(BIN)/loanbridge up

down: $(INSTALLED)
	$(BIN)/loanbridge down

status: $(INSTALLED)
	$(BIN)/loanbridge status

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy libs/common/loanbridge/common

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var
