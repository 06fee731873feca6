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

.PHONY: install install-dev demo run worker beat test lint format bench bench-smoke clean

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

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
