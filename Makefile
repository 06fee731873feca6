# Ledgerline: the two-command quick start is `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_DB ?= sqlite:///$(CURDIR)/db.sqlite3

# Local targets may use a generated secret key kept in .secret_key (untracked).
export LEDGERLINE_ENV ?= local

.PHONY: install install-dev demo run worker beat test lint format bench bench-smoke soak soak-ledger clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: install
	DATABASE_URL=$(DEMO_DB) REDIS_URL= DEBUG=1 $(PY) manage.py migrate --noinput
	DATABASE_URL=$(DEMO_DB) REDIS_URL= DEBUG=1 $(PY) manage.py load_demo
	@echo "Ledgerline demo: http://$(HOST):$(PORT)/  (logins printed above; API docs at /api/docs/)"
	DATABASE_URL=$(DEMO_DB) REDIS_URL= DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

run: install
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

worker: install
	$(VENV)/bin/celery -A config worker --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A config beat --loglevel=INFO

test: install-dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install-dev
	$(PY) -m bench $(BENCH_ARGS)

bench-smoke: install-dev
	$(PY) -m bench --smoke

# The long reliability tier: the slow tests (20 seeds of concurrent billing, 50 crash trials, 20,000
# fuzzed API requests, migrations from an empty database), then SOAK_MINUTES of mixed traffic against
# gunicorn + a worker. Needs DATABASE_URL (PostgreSQL) and REDIS_URL.
SOAK_MINUTES ?= 30
SOAK_USERS ?= 8
SOAK_OUT ?= /tmp/ledgerline-soak.json
soak: install-dev
	RELIABILITY_SEEDS=$${RELIABILITY_SEEDS:-1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20} \
	RELIABILITY_CRASH_TRIALS=$${RELIABILITY_CRASH_TRIALS:-50} RELIABILITY_FAULT_TRIALS=$${RELIABILITY_FAULT_TRIALS:-10} \
	RELIABILITY_FUZZ_REQUESTS=$${RELIABILITY_FUZZ_REQUESTS:-20000} LEDGER_STATEFUL_STEPS=$${LEDGER_STATEFUL_STEPS:-200000} \
		$(VENV)/bin/pytest tests/reliability -m "slow or not slow" $(PYTEST_ARGS)
	$(PY) scripts/soak.py --minutes $(SOAK_MINUTES) --users $(SOAK_USERS) --out $(SOAK_OUT)

# The ledger's stateful test alone at soak size (also part of `make soak`).
soak-ledger: install-dev
	LEDGER_STATEFUL_STEPS=$${LEDGER_STATEFUL_STEPS:-200000} \
		$(VENV)/bin/pytest tests/reliability/test_ledger_stateful.py -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
