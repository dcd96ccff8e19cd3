# Two commands on a fresh machine: `make run` and `make test` (both install first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
UV_VERSION := 0.13.9

.PHONY: install run demo sim test lint fmt lock bench clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: install  ## live Binance data on the embedded memory store
	$(BIN)/marketcast serve $(ARGS)

demo: install  ## simulated exchange + hub, no network (SPEED=60 makes 1m candles close every second)
	$(BIN)/marketcast demo --speed $(or $(SPEED),1) $(ARGS)

sim: install  ## the simulated Binance exchange alone, on 127.0.0.1:9100
	$(BIN)/marketcast sim $(ARGS)

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

test: lint
	$(BIN)/pytest --cov --cov-report=term $(PYTEST_ARGS)

lock:  ## re-resolve pinned dependencies into requirements.lock (hashes, no URLs)
	$(BIN)/uv lock
	$(BIN)/uv export --frozen --no-emit-project --all-groups --format requirements-txt -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage
