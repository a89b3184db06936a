# Two commands: `make demo` and `make test`. Each creates the virtualenv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev
OUT ?= trendcast-demo

.PHONY: demo test lint bench-env bench-m5 bench-m5-engine bench-online-retail browser clean

$(VENV)/.installed-$(EXTRAS): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned to the CPU build, so no extra pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

demo: $(VENV)/.installed-$(EXTRAS)
	$(VENV)/bin/trendcast demo --out $(OUT)

test: $(VENV)/.installed-$(EXTRAS) browser
	$(PY) -m pytest -n 2

# Debian's Chromium renders the HTML pages in the browser tests.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: browser tests need Debian's chromium: sudo apt-get install chromium"; fi; }

lint: $(VENV)/.installed-$(EXTRAS)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Benchmarks run in their own environment, beside the peer libraries they compare against.
BENCH_VENV := .venv-bench
BENCH_PY := $(BENCH_VENV)/bin/python

$(BENCH_VENV)/.installed: pyproject.toml benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install --quiet --upgrade pip
	$(BENCH_PY) -m pip install --quiet -e . -r benchmarks/requirements.txt
	touch $@

bench-env: $(BENCH_VENV)/.installed

bench-m5: bench-env
	$(BENCH_PY) benchmarks/m5_baselines.py

bench-m5-engine: bench-env
	$(BENCH_PY) benchmarks/m5_engine.py

bench-online-retail: bench-env
	$(BENCH_PY) benchmarks/online_retail_engine.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(OUT) .pytest_cache
