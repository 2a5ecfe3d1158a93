# LoanBridge: `make run` (embedded, one process), `make test` (everything), `make up` / `make down` (distributed).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SERVICES := identity intake workflow risk notify reporting
INSTALLED := $(VENV)/.installed

.PHONY: install test test-unit test-integration up down status lint format bench clean

$(INSTALLED): constraints.txt requirements-dev.txt libs/common/pyproject.toml $(wildcard services/*/pyproject.toml)
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -r requirements-dev.txt -e libs/common $(addprefix -e services/,$(SERVICES))
	touch $@

install: $(INSTALLED)

test: $(INSTALLED)
	$(BIN)/python -m pytest

test-unit: $(INSTALLED)
	$(BIN)/python -m pytest libs services

test-integration: $(INSTALLED)
	$(BIN)/python -m pytest tests/integration

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
