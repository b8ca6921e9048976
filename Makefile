# pdqa developer commands. `make ask` and `make test` are the README's two commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUESTION ?= Who wrote the Innovation in Action report?
# The SQuAD 2.0 slices the answer model is trained and validated on (not part of the repository).
SQUAD_DEV ?= ../shared/data/squad2/dev-8-articles.json
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1

.PHONY: setup ask test eval eval-gate train bench

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

# Two gates: the report's blind test split, and a fixed sample of the SQuAD validation articles
# (held out from training) read through the whole pipeline, open corpus.
eval-gate: setup
	$(BIN)/pdqa eval --split test --out eval/out/gold --compare eval/baseline.json
	$(BIN)/pdqa eval --squad $(SQUAD_DEV) --split validation --sample 400 --out eval/out/squad \
		--compare eval/baseline-squad.json

train: $(STAMP)
	$(BIN)/pip install -e '.[train]'
	$(BIN)/pdqa train answerer
