# Two commands on a fresh Debian 12 machine:
#   make start   install what is missing, build, and serve the welcome page on port 8000
#   make test    install what is missing, build, and run every test
SWIFT ?= swift
PYTHON ?= python3
CONFIG ?= release
BIN = .build/$(CONFIG)

.PHONY: deps build start test unit integration module-test module-test-reference bench reliability clean

deps:
	@bash scripts/install-deps

build: deps
	$(SWIFT) build -c $(CONFIG)

start: build
	$(BIN)/mod_wsgi-express start-server $(ARGS)

unit: build
	$(SWIFT) test

integration: build
	MOD_WSGI_BUILD=$(BIN) $(PYTHON) -m pytest -q -ra tests

# The module's suite alone, against our build or against Debian's mod_wsgi 4.9 (the
# reference the suite was validated with; `ours_only` tests are skipped there).
module-test: build
	MOD_WSGI_BUILD=$(BIN) $(PYTHON) -m pytest -q -ra tests/module tests/hooks

module-test-reference:
	@[ -f /usr/lib/apache2/modules/mod_wsgi.so ] || apt-get install -y -qq libapache2-mod-wsgi-py3
	MOD_WSGI_MODULE=/usr/lib/apache2/modules/mod_wsgi.so $(PYTHON) -m pytest -q -ra tests/module tests/hooks

test: unit integration

bench: build
	$(PYTHON) bench/run.py $(ARGS)

# Load, faults and hostile clients, side by side with Debian's mod_wsgi when installed
# (under 15 minutes; `make test` runs the --quick version).
reliability: build
	MOD_WSGI_BUILD=$(BIN) $(PYTHON) tests/reliability/reliability.py $(ARGS)

clean:
	rm -rf .build
