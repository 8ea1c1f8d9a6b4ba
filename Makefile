# Sentinel Batch — two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

PYTHON_311 ?= python3.11
UV        ?= uv
VENV      := .venv
TVENV     := .venv-triton
STATE     := .local
STORE     := $(STATE)/model-store
PAIRS     ?= de-en fr-en en-de
# the CPU build of torch ships as a local wheel on our build machines; elsewhere PyPI is used
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)

.PHONY: setup system-deps models stack-up stack-down stack-status demo test test-fast lint bench clean deploy-local bridge chaos

setup: system-deps $(VENV)/.installed $(TVENV)/.installed

# Debian packages the tests and the speech demo use (command:package): espeak-ng speaks and sox mixes,
# pads and splits channels of test recordings made at test time; chromium (headless, driven by
# playwright-core from the npm registry) opens the Prefect UI's run forms as a user sees them; promtool
# evaluates the Prometheus adapter's autoscaling rules on sample series (apt as root, as on the build and
# CI machines; without node/npm the browser tests are skipped and say so).
SYSTEM_TOOLS := espeak-ng:espeak-ng sox:sox chromium:chromium promtool:prometheus
PLAYWRIGHT_CORE := playwright-core@1.65.1
system-deps:
	missing=""; for pair in $(SYSTEM_TOOLS); do command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done
	if [ -n "$$missing" ]; then
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null
	  else echo "install the Debian packages:$$missing (apt-get install$$missing)" >&2; exit 1; fi
	fi
	if command -v npm >/dev/null && [ ! -d "$$(npm root -g)/playwright-core" ]; then
	  npm install -g --silent $(PLAYWRIGHT_CORE) || { echo "npm install -g $(PLAYWRIGHT_CORE) failed" >&2; exit 1; }
	fi

$(VENV)/.installed: pyproject.toml
	command -v $(UV) >/dev/null || $(PYTHON_311) -m pip install -q uv
	[ -x $(VENV)/bin/python ] || $(UV) venv -q --python $(PYTHON_311) $(VENV)
	$(UV) pip install -q --compile-bytecode --python $(VENV)/bin/python -e ".[test,local]"
	touch $@

$(TVENV)/.installed: requirements/triton.txt requirements/models.txt
	command -v $(UV) >/dev/null || $(PYTHON_311) -m pip install -q uv
	[ -x $(TVENV)/bin/python ] || $(UV) venv -q --python $(PYTHON_311) $(TVENV)
	$(UV) pip install -q --compile-bytecode --python $(TVENV)/bin/python $(FIND_LINKS) -r requirements/triton.txt -r requirements/models.txt
	touch $@

models: setup
	for pair in $(PAIRS); do
	  src=$${pair%-*}; tgt=$${pair#*-}
	  [ -f $(STORE)/translate/marian-$$pair/sentinel-model.json ] || \
	    $(TVENV)/bin/python triton/tools/build_tiny_marian.py --src $$src --tgt $$tgt --store $(STORE)
	done
	$(TVENV)/bin/python triton/tools/install_whisper_models.py --store $(STORE)
	$(TVENV)/bin/python triton/tools/install_speaker_model.py --store $(STORE)

stack-up: models
	$(VENV)/bin/sentinel stack up

stack-down:
	[ -x $(VENV)/bin/sentinel ] && $(VENV)/bin/sentinel stack down || true

stack-status:
	$(VENV)/bin/sentinel stack status

demo: stack-up
	$(VENV)/bin/sentinel demo
	$(VENV)/bin/sentinel demo-speech

test: models lint
	$(VENV)/bin/python -m pytest -q -ra $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

test-fast: setup
	$(VENV)/bin/python -m pytest -q -m "not integration" $(PYTEST_ARGS)

# Reliability suite: its own private stack (ports 10xxx, temporary state dir, PostgreSQL database
# sentinel_chaos) with Triton / S3 / flow processes killed, a bad-input corpus, a burst of S3 events
# and a credentials scan -> bench/results/reliability.json and docs/reliability.md. The shared stack
# is never touched. SENTINEL_CHAOS_BURST=100 shortens the upload burst (default 1000, batched by the bridge).
chaos: models
	$(VENV)/bin/python -m pytest -q -ra -m chaos -p no:cacheprovider tests/reliability $(PYTEST_ARGS)

# Everything in docs/benchmarks.md (~15 min on 2 idle cores); BENCH_ARGS="--only scale --sizes 10k,100k" for a part.
bench: stack-up $(VENV)/.bench-installed
	$(VENV)/bin/python bench/run_benchmarks.py $(BENCH_ARGS)

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(UV) pip install -q --compile-bytecode --python $(VENV)/bin/python -e ".[test,local,bench]"
	touch $@

clean: stack-down
	rm -rf $(STATE)

deploy-local: stack-up
	$(VENV)/bin/sentinel deploy-local

# The S3 event bridge against the local store (SeaweedFS has no notifications: polling source).
bridge: stack-up
	set -a; . $(STATE)/stack.env; set +a
	$(VENV)/bin/sentinel bridge --source poll --watch s3://sentinel-demo/inbox/ \
	  --state s3://sentinel-demo/_sentinel/bridge-state.json --suffix .parquet
