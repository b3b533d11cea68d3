# Two commands on a fresh Debian 12 machine:
#   make start   install what is missing, build, and serve the welcome page on port 8000
#   make test    install what is missing, build, and run every test
SWIFT ?= swift
PYTHON ?= python3
CONFIG ?= release
BIN = .build/$(CONFIG)

.PHONY: deps build start test unit integration bench clean

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

test: unit integration

bench: build
	$(PYTHON) bench/run.py $(ARGS)

clean:
	rm -rf .build
