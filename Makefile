# Two commands on a fresh machine: `make run` and `make test` (both install first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
UV_VERSION := 0.13.9

UI_BUILT := src/marketcast/web/static/index.html
UI_SOURCES := web/package.json web/package-lock.json $(wildcard web/*.mjs web/src/*)

.PHONY: install ui run demo sim test lint fmt lock bench soak clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	# Bytecode now, as pip would: with PYTHONDONTWRITEBYTECODE set, every start of the
	# hub would otherwise compile its imports again (about 1 s of a cold start).
	$(BIN)/python -m compileall -q -j 0 src $(VENV)/lib
	touch $(STAMP)

install: $(STAMP)

# The browser app (web/, lightweight-charts from the npm registry). Without npm the hub
# still runs and its page at / says how to build the UI.
$(UI_BUILT): $(UI_SOURCES)
	@if command -v npm >/dev/null 2>&1; then \
		cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build; \
	else \
		echo "npm not found: web UI not built (install Node.js + npm, then: make ui)"; \
	fi

ui: $(UI_BUILT)

run: install ui  ## live Binance data on the embedded memory store
	$(BIN)/marketcast serve $(ARGS)

demo: install ui  ## simulated exchange + hub, no network (SPEED=60 makes 1m candles close every second)
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

test: lint ui
	@if command -v npm >/dev/null 2>&1; then cd web && npm test --silent; fi
	# Two workers (this machine kind has two cores), one test file on one worker; then the
	# short soak alone and untraced: it loads both cores itself (its nodes are processes
	# of their own, so coverage would only slow its simulator).
	$(BIN)/pytest -n 2 --dist loadfile --ignore=tests/soak --cov --cov-report=term $(PYTEST_ARGS)
	$(BIN)/pytest tests/soak $(PYTEST_ARGS)

bench: install  ## short runs of the benchmark scenarios; JSON + summary.md in bench/results/
	$(BIN)/python bench/rest.py --seconds 3 --runs 3
	$(BIN)/python bench/cold_start.py --symbols 10 --latency 0.05 --runs 3
	$(BIN)/python bench/store.py --ops 5000
	$(BIN)/python bench/fanout.py --clients 200 --seconds 3 --push-intervals 0.25 --runs 3 --batch-ms -1
	$(BIN)/python bench/subscribe.py --clients 200 --subscriptions 10 --runs 3
	$(BIN)/python bench/ingest.py --symbols 100 --messages 40000 --runs 3
	$(BIN)/python bench/memory.py --topics 200
	$(BIN)/python bench/report.py

soak: install  ## every fault, killed nodes, ~1000 clients; SOAK_MINUTES=60 for the long one
	$(BIN)/python tests/soak/soak.py --minutes $(or $(SOAK_MINUTES),10) $(ARGS)

lock:  ## re-resolve pinned dependencies into requirements.lock (hashes, no URLs)
	$(BIN)/uv lock
	$(BIN)/uv export --frozen --no-emit-project --all-groups --format requirements-txt -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage web/node_modules src/marketcast/web/static
