# The two commands: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test lint format venv migrate demo lock messages screenshots bench

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

migrate: venv
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_cases

# Web server, Celery worker and Celery beat together; Ctrl-C stops all of them.
run: demo
	PORT=$(PORT) HOST=$(HOST) $(BIN)/honcho start -f Procfile

# The suite spread over the cores, a test file per worker at a time (TEST_WORKERS=0: one process).
TEST_WORKERS ?= auto
test: venv
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-pin every dependency after changing pyproject.toml.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet --upgrade pip
	.lockvenv/bin/pip install --quiet ".[dev]"
	.lockvenv/bin/pip freeze --exclude unionflow > requirements.lock
	rm -rf .lockvenv

# Refresh the zh_Hans catalog after changing user-facing strings, then translate the new
# entries (scripts/fill_translations.py helps) and compile.
messages: venv
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=tests --ignore=var --ignore=docs --no-location --no-obsolete
	msgattrib --untranslated locale/zh_Hans/LC_MESSAGES/django.po | grep -A1 '^msgid' || true
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore=.venv

# Screenshots of the main pages into docs/screenshots/ (needs chromium: apt-get install chromium).
screenshots: venv
	$(BIN)/python scripts/screenshots.py

# Benchmarks against the local PostgreSQL and Redis (not part of `make test`): prints a table
# and writes bench/results.json. See docs/performance.md. wrk drives the API load.
bench: venv
	command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python -m bench
