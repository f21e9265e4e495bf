# Two commands set up a fresh clone: `make demo` and `make test`. Each creates .venv and
# installs what it needs first; nothing beyond Python 3.11 is assumed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean bench bench-cache bench-outlook bench-soak bench-live

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11, or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/portgate demo $(ARGS)

test: $(STAMP)
	$(BIN)/pytest $(ARGS)

# Ten minutes of load on loopback (README "Benchmarks"); never part of `make test` or CI.
bench: $(STAMP)
	$(BIN)/python -m bench.run --profile $(ARGS)

bench-cache: $(STAMP)
	$(BIN)/python -m bench.cache_bench $(ARGS)

# A warm outlook next to the queries it is made of, and what a repeated outlook costs the ports.
bench-outlook: $(STAMP)
	$(BIN)/python -m bench.outlook_bench $(ARGS)

# Subscriptions: subscribers held by one gateway, their memory and what they cost the ports;
# messages a second from the hub (bench/results/live.md).
bench-live: $(STAMP)
	$(BIN)/python -m bench.live_bench $(ARGS)

# Ten minutes of well-behaved load on the demo, then the same beside hostile clients: latency,
# RSS, open FDs, status codes (bench/results/soak.md); never part of `make test` or CI.
bench-soak: $(STAMP)
	$(BIN)/python -m bench.soak $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Mutation testing of the modules that carry promises (README "Mutation testing"): a minute or
# a few per module; never part of `make test` or CI. One module:
# make mutate MODULE=gateway/record/redact.py. Report: bench/results/mutation.md.
.PHONY: mutate
mutate: $(STAMP)
	$(BIN)/python -m bench.mutation $(if $(MODULE),--module $(MODULE)) $(ARGS)
