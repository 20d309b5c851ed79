# Developer entry points. GNU make; recipes are indented with tabs.
#
#   make test               install (once), check format and lint (ruff), run tests, conformance and docs
#   make test-slow          the slow cases (marked `slow`: the demo-size LM in 1 and 2 processes)
#   make conformance-deep   conformance/ with 2000 Hypothesis examples per test
#   make demo               train the digits CNN (examples/train_digits.py); reruns resume
#   make demo-lm            train a small transformer LM on a simulated 2x4 device mesh
#                           with sharded checkpoints (examples/train_lm.py); reruns resume
#   make bench              install the seed system (flax) and run the benchmarks
#   make clean              remove caches, build outputs and install stamps
#   make distclean          clean, and remove the virtual environment too

PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python

.PHONY: all install test test-slow conformance-deep demo demo-lm bench clean distclean

all: test

install: $(VENV)/.installed

# The stamp is older than pyproject.toml whenever the dependencies change,
# so the environment is refreshed exactly then.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --upgrade pip
	$(VPY) -m pip install -e '.[test]'
	touch $@

# Formatting and lint first (make stops at the first failure), then what a
# plain `pytest` collects (testpaths and addopts in pyproject.toml) on two
# pytest workers (pytest-xdist; worksteal evens out the slow tail): the CI
# machine has two cores and most tests are single-threaded Python or XLA
# compilation. The Hypothesis profile is conftest.py's default, `ci`, unless
# HYPOTHESIS_PROFILE says otherwise.
test: $(VENV)/.installed
	$(VPY) -m ruff format --check .
	$(VPY) -m ruff check .
	$(VPY) -m pytest -q -n 2 --dist worksteal

test-slow: $(VENV)/.installed
	HYPOTHESIS_PROFILE=ci $(VPY) -m pytest tests conformance -m slow -q

conformance-deep: $(VENV)/.installed
	HYPOTHESIS_PROFILE=deep $(VPY) -m pytest conformance -q

# The demo needs the examples extra (scikit-learn's bundled digits, matplotlib).
$(VENV)/.examples-installed: $(VENV)/.installed pyproject.toml
	$(VPY) -m pip install -e '.[examples]'
	touch $@

demo: $(VENV)/.examples-installed
	$(VPY) examples/train_digits.py

demo-lm: $(VENV)/.examples-installed
	$(VPY) examples/train_lm.py

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(VPY) -m pip install -e '.[bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(VPY) -m benchmarks

# Keeps the venv (the JAX wheels are large); dropping the stamps makes the
# next target reinstall the project into it.
clean:
	rm -rf build dist *.egg-info .pytest_cache .hypothesis
	rm -f $(VENV)/.installed $(VENV)/.bench-installed $(VENV)/.examples-installed
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
