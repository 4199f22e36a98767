# The two commands a newcomer runs: `make run` and `make test`. Both install what is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The CPU build of torch lies on disk on our machines; a bare "torch" would pull a CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: install run test test-sqlite test-postgres bench clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e '.[examples,dev]'
	touch $(STAMP)

run: install
	scripts/ensure-redis.sh "$${TRAINQ_REDIS_URL:-redis://127.0.0.1:6379/0}"
	$(VENV)/bin/trainq up

test: install
	scripts/run-tests.sh

test-sqlite: install
	scripts/run-tests.sh sqlite

test-postgres: install
	scripts/run-tests.sh postgres

bench: install
	$(PY) scripts/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
