# Two commands set everything up: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8080
STAMP  := $(VENV)/.installed

.PHONY: run test install bench soak clean test-services

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Migrations, roles, admin and catalog; the demo data (cases, knowledge, the sample street network, a sweep;
# a second run adds nothing); then serve.
# `civic serve` prints the URL, the admin login and the demo logins right before it starts.
# The notification worker (`civic notify run`) runs in the background while the server does,
# and is stopped when the server stops (Ctrl-C included).
run: $(STAMP)
	$(BIN)/civic init
	$(BIN)/civic demo
	$(BIN)/civic knowledge import config/knowledge-sample.toml
	$(BIN)/civic fieldservice demo
	$(BIN)/civic fema demo
	$(BIN)/civic notify run & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; trap 'exit 130' INT TERM; \
	$(BIN)/civic serve --port $(PORT)

# The whole suite, on SQLite and PostgreSQL: `make test PYTEST_ARGS="-k demo -x"` for a part.
# Two workers (whole files each: a file's tests share their module fixtures); TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
test: $(STAMP) test-services
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# What the tests start privately, from Debian's packages: Dovecot (IMAP, the e-mail channel's tests) and
# Chromium (the browser tests, driven by Playwright; never a downloaded browser).
# Installed only when missing; the package's own service is not needed (the tests run their own instance).
test-services:
	@[ -x /usr/bin/chromium ] || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (the browser tests)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y --no-install-recommends chromium >/dev/null \
	      || { apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null; } \
	      || echo "could not install chromium: the browser tests will be skipped (they fail under CI=true)"; \
	  else \
	    echo "apt-get is not available: install Chromium yourself, or the browser tests are skipped (they fail under CI=true)"; \
	  fi; \
	}
	@[ -x /usr/sbin/dovecot ] || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing dovecot-imapd (the IMAP server of the e-mail channel's tests)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y --no-install-recommends dovecot-imapd >/dev/null \
	      || { apt-get update >/dev/null && apt-get install -y --no-install-recommends dovecot-imapd >/dev/null; } \
	      || echo "could not install dovecot-imapd: the e-mail channel's tests will be skipped (they fail under CI=true)"; \
	  else \
	    echo "apt-get is not available: install Dovecot (dovecot-imapd) yourself, or the e-mail channel's tests are skipped (they fail under CI=true)"; \
	  fi; \
	}

# The performance measures of issue 11 against gunicorn (2 workers) on SQLite (var/bench/) and PostgreSQL (schema
# civic_bench; skipped when no server answers): one table per engine, a JSON copy in bench/results/.
# The first run fills the kept databases (BENCH_CASES, default 1,000,000); `make bench BENCH_CASES=100000` is quicker.
# BENCH_SECONDS (10) per load, BENCH_ENGINE=sqlite|postgresql|both, BENCH_ARGS for more (python -m bench --help).
BENCH_CASES ?= 1000000
BENCH_SECONDS ?= 10
BENCH_ENGINE ?= both
bench: $(STAMP)
	$(BIN)/python -m bench --cases $(BENCH_CASES) --seconds $(BENCH_SECONDS) --engine $(BENCH_ENGINE) $(BENCH_ARGS)

# A bounded soak (issue 12): 10 minutes of mixed load on gunicorn (portal reports, staff list and notes, Open311 POST
# and GET, the EOC map) against the demo city in var/soak/; exits 1 on any 5xx or workers' memory growth over 20%.
# SOAK_SECONDS (600), SOAK_ENGINE=sqlite|postgresql.  Not part of `make test`.
SOAK_SECONDS ?= 600
SOAK_ENGINE ?= sqlite
soak: $(STAMP)
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_ENGINE=$(SOAK_ENGINE) $(BIN)/python -m bench.soak

# PNGs of the main screens in English and French (docs/screenshots/, shown in docs/staff-guide.md): the demo city in a
# temporary folder, Debian's Chromium through the screens.  SCREENSHOTS_ARGS="--only eoc" for one screen.  Not part of
# `make test`; run it again when a screen changes and keep the PNGs in git.
.PHONY: screenshots
screenshots: $(STAMP) test-services
	$(BIN)/python -m tests.screenshots $(SCREENSHOTS_ARGS)

clean:
	rm -rf $(VENV) var build *.egg-info

# Extract, update and compile every package's catalogs (core and each plugin).
I18N_PACKAGES := core $(wildcard plugins/*)
.PHONY: i18n
i18n: $(STAMP)
	@for pkg in $(I18N_PACKAGES); do \
	  [ -f $$pkg/__init__.py ] || continue; \
	  mkdir -p $$pkg/translations; \
	  $(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output -o $$pkg/translations/messages.pot $$pkg; \
	  if [ -f $$pkg/translations/fr/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel -q update --no-fuzzy-matching -i $$pkg/translations/messages.pot -d $$pkg/translations -l fr; \
	  else \
	    $(BIN)/pybabel -q init -i $$pkg/translations/messages.pot -d $$pkg/translations -l fr; \
	  fi; \
	  $(BIN)/pybabel -q compile -d $$pkg/translations -l fr || exit 1; \
	done
