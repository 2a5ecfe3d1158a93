# LoanBridge: `make run` (embedded, one process), `make test` (everything), `make up` / `make down` (distributed).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SERVICES := identity intake workflow risk notify reporting
INSTALLED := $(VENV)/.installed

.PHONY: install run test test-unit test-integration test-embedded fuzz chaos up down status lint format clean

$(INSTALLED): constraints.txt requirements-dev.txt libs/common/pyproject.toml libs/demo/pyproject.toml $(wildcard services/*/pyproject.toml)
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -r requirements-dev.txt -e libs/common $(addprefix -e services/,$(SERVICES)) -e libs/demo
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

# Every service's OpenAPI fuzzed in process: 200 valid and 200 invalid requests per operation, every check
# (docs/security.md). `make test` runs the same with 10 of each and the gated checks.
fuzz: $(INSTALLED)
	LOANBRIDGE_FUZZ_EXAMPLES=$${LOANBRIDGE_FUZZ_EXAMPLES:-200} LOANBRIDGE_FUZZ_ALL_CHECKS=1 \
		$(BIN)/python -m pytest -p no:cacheprovider -s tests/security/test_fuzz.py

# Fault runs on a broker and a database of the harness's own, 3-5 minutes each (docs/reliability.md); the same
# whether CI is set or not. `make chaos CHAOS_ARGS="--leads 1000"` scales them down for a quick check.
chaos: $(INSTALLED)
	$(BIN)/python -m pytest tests/chaos -s -p no:cacheprovider $(CHAOS_ARGS)

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
