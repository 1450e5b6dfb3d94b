# Two commands on a fresh clone: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DIGEST := $(BIN)/digest
# The sample feed (digest/samples/feed.xml) holds one fixed day: the demo builds that day's edition.
DEMO_DATE := 2025-11-27
# RFC 8058 one-click unsubscribe needs an HTTPS URL in List-Unsubscribe; the demo uses a placeholder host.
# The sample day is replayed as it was, midnight to midnight.
DEMO_ENV := DIGEST_BASE_URL=$${DIGEST_BASE_URL:-https://news.example.com} DIGEST_AUTO_APPROVE=1 DIGEST_EDITION_WINDOW=calendar

.PHONY: demo test lint typecheck pytest bench golden eval messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

demo: $(VENV)/.installed-run
	$(DIGEST) init
	$(DIGEST) subscribers import digest/samples/subscribers.csv --confirmed
	@$(DEMO_ENV) $(DIGEST) send --date $(DEMO_DATE); rc=$$?; \
	  if [ $$rc -ne 0 ] && [ $$rc -ne 3 ]; then exit $$rc; fi
	@echo
	@echo "Messages: $$(find outbox/$(DEMO_DATE) -name '*.eml' | wc -l) .eml files under outbox/$(DEMO_DATE)/"
	@echo "Open one in your mail client, or read it: less outbox/$(DEMO_DATE)/quotidien/1.eml"
	@echo "Preview in a browser: $(DIGEST) preview --date $(DEMO_DATE)   (it prints the address to open)"
	@echo "Statistics: $(DIGEST) stats"

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

# One worker per core (pytest-xdist); each worker has its own PostgreSQL schema.
pytest: $(VENV)/.installed-test
	$(BIN)/pytest -q -n auto

test: lint typecheck pytest

golden: $(VENV)/.installed-test
	$(BIN)/python -m tests.golden

# Score the selection against an editor's annotations of real feeds (tests/data/real; EVAL_DIR=... for another
# set in the same format; EVAL_FLAGS=-v lists each miss).
EVAL_DIR ?= tests/data/real
eval: $(VENV)/.installed-test
	$(BIN)/python -m tests.eval $(EVAL_FLAGS) $(EVAL_DIR)

# Refresh the translation catalogs from the templates; translate the new entries in digest/locale/*/.../digest.po
# (they are compiled when loaded: no build step).
messages: $(VENV)/.installed-test
	$(BIN)/pybabel extract --no-location --omit-header -F babel.cfg -o digest/locale/digest.pot templates digest/render.py digest/web/editor/dashboard.py
	$(BIN)/pybabel update --ignore-obsolete --no-fuzzy-matching -i digest/locale/digest.pot -d digest/locale -D digest

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) outbox digest.db digest.db-* .pytest_cache .mypy_cache .ruff_cache
