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

# compiled kernels (numba) are cached in the checkout, shared by every process of a run,
# unless NUMBA_CACHE_DIR says where (.ci/run keeps them across clean clones). The cache
# is keyed by the content of src/: numba checks only the file of each kernel, and a kernel
# inlines helpers of other files, so an edit to a helper would leave its callers' cached
# code stale. Keys unused for a week are dropped.
KERNEL_CACHE = key=$$(find src -name '*.py' -print0 | LC_ALL=C sort -z | xargs -0 cat | sha1sum | cut -c1-16); \
	if [ -z "$$NUMBA_CACHE_DIR" ]; then \
	  find $(CURDIR)/.numba-cache -mindepth 1 -maxdepth 1 -mtime +7 -exec rm -rf {} + 2>/dev/null; \
	  export NUMBA_CACHE_DIR=$(CURDIR)/.numba-cache/$$key; mkdir -p $$NUMBA_CACHE_DIR; touch $$NUMBA_CACHE_DIR; \
	fi

# the kernels are compiled on the core the test session leaves idle while its first tests
# run (.ci/warm_kernels.py), so a cold cache costs the suite little
test: $(VENV)/.installed-test
	$(KERNEL_CACHE); \
	$(PY) .ci/warm_kernels.py >/dev/null 2>&1 & warm=$$!; \
	$(PY) -m pytest -q; status=$$?; wait $$warm; exit $$status

bench: $(VENV)/.installed
	$(KERNEL_CACHE); \
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
