VENV ?= .venv
PY := $(VENV)/bin/python
PRESET ?= dealer_groups

.PHONY: run test bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dashboard]"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/firesale run $(PRESET)
	@echo "firesale is installed in $(VENV): run 'source $(VENV)/bin/activate' to put it on your PATH"

# compiled kernels (numba) are cached in the checkout, shared by every test process,
# unless NUMBA_CACHE_DIR says where (.ci/run keeps them across clean clones); they are
# compiled on the core the test session leaves idle while its first tests run
# (.ci/warm_kernels.py), so a cold cache costs the suite little
test: $(VENV)/.installed-test
	export NUMBA_CACHE_DIR=$${NUMBA_CACHE_DIR:-$(CURDIR)/.numba-cache}; \
	$(PY) .ci/warm_kernels.py >/dev/null 2>&1 & warm=$$!; \
	$(PY) -m pytest -q; status=$$?; wait $$warm; exit $$status

bench: $(VENV)/.installed
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
