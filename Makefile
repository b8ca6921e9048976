# pdqa developer commands. `make ask` and `make test` are the README's two commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUESTION ?= Who wrote the Innovation in Action report?
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1

.PHONY: setup ask test eval eval-gate bench

# torch==2.13.0 goes first: it is the CPU build on this machine's disk; letting
# sentence-transformers pull torch would download a multi-GB CUDA build instead.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip check
	touch $@

setup: $(STAMP)
	$(BIN)/pdqa index build

ask: setup
	$(BIN)/pdqa ask "$(QUESTION)"

# pytest exits 5 when it collected no test: that is a broken suite, said plainly.
test: $(STAMP)
	@$(BIN)/python -m pytest -q; code=$$?; \
	if [ $$code -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$code

eval: setup
	$(BIN)/pdqa eval --split all --out eval/out

eval-gate: setup
	$(BIN)/pdqa eval --split test --out eval/out --compare eval/baseline.json
