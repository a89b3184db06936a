# Two commands: `make demo` and `make test`. Each creates the virtualenv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev
OUT ?= trendcast-demo

.PHONY: demo test lint bench-m5 clean

$(VENV)/.installed-$(EXTRAS): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned to the CPU build, so no extra pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

demo: $(VENV)/.installed-$(EXTRAS)
	$(VENV)/bin/trendcast demo --out $(OUT)

test: $(VENV)/.installed-$(EXTRAS)
	$(PY) -m pytest -n 2

lint: $(VENV)/.installed-$(EXTRAS)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench-m5: $(VENV)/.installed-$(EXTRAS)
	$(PY) benchmarks/m5_baselines.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
