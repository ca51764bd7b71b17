# The project's set-up: `make demo` runs the bot on the embedded defaults, `make test` runs the checks.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install native pure demo test lint typecheck pytest bench clean

# The simulated exchange's hot path compiled with mypyc (the mypy project's compiler, installed
# with the dev tools): ~1.4x the events/s of the same Python (docs/simulated-exchange.md). The
# extension modules sit next to their sources and are rebuilt whenever a source changes; the
# package refuses to import stale ones. Without a C compiler the Python sources run as they are.
SIM := src/kalbot/adapters/simulated
NATIVE_MODULES := accounts book events exchange lifecycle markets matching records tape units
NATIVE_SRC := $(foreach m,$(NATIVE_MODULES),$(SIM)/$(m).py)
NATIVE_STAMP := $(SIM)/.native-built

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NATIVE_STAMP): $(STAMP) $(NATIVE_SRC)
	@echo "compiling the simulated exchange with mypyc ($(NATIVE_MODULES))"
	@cd src && ../$(BIN)/mypyc $(NATIVE_SRC:src/%=%) > ../$(VENV)/mypyc.log 2>&1 \
		&& rm -rf build && echo "compiled (log: $(VENV)/mypyc.log)" \
		|| { echo "warning: mypyc failed (see $(VENV)/mypyc.log); the Python sources run instead (with a C compiler: make pure native)"; \
		     rm -rf $(CURDIR)/$(SIM)/*.so $(CURDIR)/src/*__mypyc*.so $(CURDIR)/src/build; }
	@touch $@

native: $(NATIVE_STAMP)

pure:
	rm -rf $(SIM)/*.so src/*__mypyc*.so src/build $(NATIVE_STAMP)

install: $(STAMP) $(NATIVE_STAMP)

demo: $(STAMP) $(NATIVE_STAMP)
	$(BIN)/kalbot demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(NATIVE_STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP) $(NATIVE_STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean: pure
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
