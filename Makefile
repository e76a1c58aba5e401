# Two commands set everything up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYSPARK_PYTHON := $(abspath $(PY))
APT_UPDATED := /tmp/.music-recommender-apt-updated
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: run test fuzz lint typecheck venv engine dev java openblas browser screenshot prepare demo-bundle bench clean help cluster-up cluster-down

help:
	@echo "make run    - set up everything and start the app on http://$(HOST):$(PORT)"
	@echo "make test   - install test dependencies, then lint (ruff), type checks (mypy), the fuzz suite and the test suite"
	@echo "make fuzz   - the fuzz suite alone (tests/fuzz: every reader, >= 10,000 generated inputs, counted per file)"
	@echo "make bench  - run the benchmarks (print ratios)"
	@echo "make demo-bundle - rebuild the committed demo bundle in models/demo"
	@echo "make screenshot - retake docs/screenshot-recommendations.png from the demo bundle"
	@echo "make cluster-up / cluster-down - start / stop a local Spark standalone cluster (spark://127.0.0.1:7077)"

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q -r requirements.txt
	touch $@

# Three layers, each a pinned requirements file: the app (what a hosted app installs), the
# engine on top (pyspark, Kafka), and the dev tools on top of both.
$(VENV)/.installed-engine: requirements-engine.txt $(VENV)/.installed
	$(PIP) install --disable-pip-version-check -q -r requirements-engine.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed-engine
	$(PIP) install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed
engine: $(VENV)/.installed-engine
dev: $(VENV)/.installed-dev

# Debian packages, installed only when missing (apt-get needs root, as on our machines).
define apt_install
	@if [ ! -f $(APT_UPDATED) ]; then apt-get update -qq && touch $(APT_UPDATED); fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null
endef

java:
	@command -v java >/dev/null || { echo "installing a Java runtime (Spark needs one)"; \
	  $(MAKE) --no-print-directory _apt PKGS=openjdk-17-jre-headless; }

# Native BLAS for Spark ML (ALS normal equations); optional, Spark falls back to Java BLAS.
openblas:
	@ldconfig -p | grep -q libopenblas || $(MAKE) --no-print-directory _apt PKGS=libopenblas0-pthread || true

# Chromium for the end-to-end test and the README screenshot; CJK fonts so titles in Japanese,
# Chinese or Korean (plenty in the catalogue) render as text, not boxes.
browser:
	@{ command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; } || \
	  $(MAKE) --no-print-directory _apt PKGS="chromium fonts-noto-color-emoji fonts-noto-cjk"

screenshot: dev browser
	$(PY) scripts/readme_screenshot.py

_apt:
	$(call apt_install,$(PKGS))

prepare: engine java openblas
	$(PY) -m engine prepare

run: prepare
	$(PY) -m streamlit run app.py --server.address $(HOST) --server.port $(PORT) --server.headless true

lint: dev
	$(PY) -m ruff check .

typecheck: dev
	$(PY) -m mypy

# Every test in tests/fuzz/ (a new file there is picked up), run once: here, not again in `test`.
# The summary prints the inputs tried per file; fewer than FUZZ_MIN_INPUTS in all fails the run.
FUZZ_MIN_INPUTS ?= 10000
fuzz: dev
	FUZZ_MIN_INPUTS=$(FUZZ_MIN_INPUTS) $(PY) -m pytest tests/fuzz -q

test: dev java openblas browser lint typecheck fuzz
	$(PY) -m pytest --ignore=tests/fuzz

demo-bundle: engine java
	$(PY) -m engine prepare --demo-bundle

# The scaling study runs its small sizes here; the full one (1M-8M interactions, 2.4M items)
# takes hours on 2 cores: `.venv/bin/python bench/scale.py`.
bench: dev java openblas
	@for f in bench/*.py; do echo "== $$f"; args=; [ "$$f" = bench/scale.py ] && args=--quick; \
	  $(PY) $$f $$args || exit 1; done

# A Spark standalone master + 2 workers from the pip-installed Spark; pid files and logs in .cluster/.
# Then: SPARK_MASTER=spark://127.0.0.1:7077 $(PY) -m engine train
cluster-up: engine java
	PY=$(abspath $(PY)) scripts/cluster.sh up

cluster-down:
	PY=$(abspath $(PY)) scripts/cluster.sh down

clean:
	rm -rf data/parquet data/rejects spark-warehouse .pytest_cache
