# hedui — one command to run the demo, one to pass the tests.
# `make` creates .venv/ at the repository root and installs the project into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint proto bench clean help

help:
	@echo "make demo   - sandbox + server + one household end to end (embedded SQLite)"
	@echo "make test   - the whole test suite, SQLite and PostgreSQL"
	@echo "make lint   - ruff, mypy --strict, buf lint, import-linter"
	@echo "make proto  - regenerate gen/ from proto/"
	@echo "make bench  - benchmarks (figures and ratios)"

$(STAMP): pyproject.toml adapters/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --editable ./adapters --editable . --group dev
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hedui demo

NODE_EXAMPLE := examples/node/node_modules/.installed

# System packages (Node.js) and the Node example's locked dependencies; CI=true makes a
# missing one fail here instead of skipping its tests.
$(NODE_EXAMPLE): examples/node/package-lock.json
	bash .ci/system-packages.sh
	if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix examples/node --no-audit --no-fund --loglevel=error && touch $@; \
	elif [ "$$CI" = "true" ]; then exit 1; fi

# The system packages are checked on every run (not only when the Node example's stamp is
# stale), so a machine without one of them (SoftHSM2…) installs it or, under CI=true, fails.
test: $(STAMP) $(NODE_EXAMPLE)
	bash .ci/system-packages.sh
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/buf lint
	# Each released API is kept as a buf image; a change that would break its clients fails here.
	$(BIN)/buf breaking proto --against "$$(ls proto/images/hedui-v*.binpb | sort -V | tail -n 1)"
	$(BIN)/lint-imports

proto: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grpc_tools.protoc -Iproto -Ithird_party/googleapis \
		--python_out=gen --mypy_out=gen --grpc_python_out=gen --mypy_grpc_out=gen \
		proto/hedui/v1/*.proto

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
