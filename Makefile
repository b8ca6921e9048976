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
# pip is not --quiet: the install takes minutes, and a silent terminal looks like a hang.
$(STAMP): pyproject.toml
	@echo "Setting up $(VENV): torch, then pdqa and its test extras (a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --progress-bar on torch==2.13.0
	$(BIN)/pip install --progress-bar on -e '.[test]'
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
