# Co-op Data Club. `make run` serves the product; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AXE := node_modules/axe-core/axe.min.js
# `make run PORT=8001 HOST=0.0.0.0` serves elsewhere; emailed links follow the port unless
# COOPCLUB_BASE_URL says otherwise.
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint install demo bench bench-tools clean browser screenshots spamassassin constraints \
	messages

# Translations (app/i18n.py): each language's catalog is compiled to .mo by make, never
# committed. `make messages` re-extracts messages.pot and merges it into every catalog.
CATALOGS := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))

# Every machine installs the same versions: constraints.txt pins them (make constraints).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Re-pins constraints.txt to the newest versions pyproject.toml allows (commit the result).
constraints: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --upgrade \
		--custom-compile-command "make constraints" -o constraints.txt

# axe-core for the browser tests' accessibility checks, pinned by package-lock.json.
$(AXE): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the browser tests will be skipped (or fail with CI=true)"; fi

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@

messages: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k lazy_gettext -o translations/messages.pot \
		--project="Co-op Data Club" --copyright-holder="Co-op Data Club" \
		--add-location=file --sort-output --omit-header .
	$(BIN)/pybabel -q update -i translations/messages.pot -d translations \
		--no-fuzzy-matching --ignore-obsolete

install: $(STAMP) $(CATALOGS)

RUN_ENV = COOPCLUB_BASE_URL="$${COOPCLUB_BASE_URL:-http://127.0.0.1:$(PORT)}"

run: $(STAMP) $(CATALOGS)
	$(RUN_ENV) $(BIN)/coopclub db upgrade
	$(RUN_ENV) $(BIN)/coopclub demo
	$(RUN_ENV) $(BIN)/coopclub serve --host $(HOST) --port $(PORT)

# Debian's Chromium for the browser tests (Playwright's own download is never used).
browser:
	@test -x /usr/bin/chromium || { apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; }

# Debian's SpamAssassin: the tests score every kind of message we send with it (-L).
spamassassin:
	@command -v spamassassin >/dev/null || { apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends spamassassin; }

# The suite mostly waits (subprocesses, SMTP, Chromium, PostgreSQL), so it runs in two
# processes (pytest-xdist), each test file whole in one of them; each process has its own
# database, Redis namespace and SMTP sink. `make test TEST_PROCESSES=0` runs it in one.
# Not `-n auto`: one PostgreSQL and Redis serve them all, and more cores do not add more.
TEST_PROCESSES ?= 2

test: $(STAMP) $(CATALOGS)
	@test -f $(AXE) || $(MAKE) --no-print-directory $(AXE)
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

# Regenerates docs/screenshots/*.png (shown in the README) from the demo in a real browser.
screenshots: $(STAMP) $(CATALOGS)
	@test -f $(AXE) || $(MAKE) --no-print-directory $(AXE)
	$(BIN)/python -m tests.e2e.screenshots

# Debian's postfix brings smtp-sink/smtp-source (the postfix daemon itself stays off),
# wrk drives the signup load. Needs PostgreSQL and Redis on 127.0.0.1 (bench/README.md).
bench-tools:
	@if ! command -v smtp-sink >/dev/null || ! command -v wrk >/dev/null; then \
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix wrk; \
	fi
	@-postfix stop >/dev/null 2>&1; true

bench: $(STAMP) $(CATALOGS) bench-tools
	$(BIN)/python -m bench.send_throughput
	$(BIN)/python -m bench.assemble
	$(BIN)/python -m bench.signup_load
	$(BIN)/python -m bench.signup_cost
	$(BIN)/python -m bench.timing
	$(BIN)/python -m bench.admin_scale
	$(BIN)/python -m bench.directory_search
	@grep -h '"ratio"' bench/results/*.json >/dev/null && echo "results: bench/results/*.json; summary: bench/RESULTS.md"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache node_modules
