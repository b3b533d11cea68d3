# Two commands on a fresh Debian 12 machine with a Swift 6 toolchain on PATH:
#   make start   install what building needs (once), build, and serve the welcome page on port 8000
#   make test    install what building and testing need (once), build, and run every test
SWIFT ?= swift
# The tests run with the system Python and its Debian packages (python3-pytest, python3-requests,
# python3-pexpect, python3-prometheus-client), whatever python3 comes first on PATH: the module is built against it too.
PYTHON ?= /usr/bin/python3
CONFIG ?= release
BIN = .build/$(CONFIG)
# --manifest-cache local: Package.swift asks apxs and python3-config for flags; SwiftPM's shared
# cache (~/.cache) would keep a manifest evaluated before apache2-dev was installed, even after
# `make clean`. --no-color-diagnostics: by default SwiftPM compiles with colour diagnostics on
# a terminal and without in a pipe; the changed command line recompiles every Swift target
# (measured: 3 minutes each time `make build` moved between a terminal and a pipe).
SWIFT_FLAGS = --manifest-cache local --no-color-diagnostics
# The installer runs once per build directory (`make deps` runs it again).
DEPS = .build/deps
# Foundation in the Swift driver and SwiftPM leaves an empty TemporaryDirectory.XXXXXX in $TMPDIR
# for each file it writes atomically: each swift command gets a TMPDIR of its own, removed after.
SWIFT_TMP = t=$$(mktemp -d "$${TMPDIR:-/tmp}/mwx-swift.XXXXXX") && trap 'rm -rf "$$t"' EXIT && TMPDIR=$$t

.PHONY: deps build start test unit integration module-test module-test-reference module-test-61 daemon-test-fork bench warnings lint format reliability scale-test clean \
	wheels wheels-test sanitize soak storm

deps:
	@$(SWIFT_TMP) SWIFT=$(SWIFT) bash scripts/install-deps test
	@mkdir -p $(DEPS) && touch $(DEPS)/build $(DEPS)/test

$(DEPS)/build: scripts/install-deps
	@$(SWIFT_TMP) SWIFT=$(SWIFT) bash scripts/install-deps build
	@mkdir -p $(DEPS) && touch $@

$(DEPS)/test: scripts/install-deps
	@$(SWIFT_TMP) SWIFT=$(SWIFT) bash scripts/install-deps test
	@mkdir -p $(DEPS) && touch $@ $(DEPS)/build

build: $(DEPS)/build
	$(SWIFT_TMP) $(SWIFT) build -c $(CONFIG) $(SWIFT_FLAGS)

start: build
	$(BIN)/mod_wsgi-express start-server $(ARGS)

unit: build
	$(SWIFT_TMP) $(SWIFT) test $(SWIFT_FLAGS)

integration: build $(DEPS)/test
	MOD_WSGI_BUILD=$(BIN) $(PYTHON) -m pytest -q -ra tests

# The module's suite alone, against our build or against a real mod_wsgi: Debian's 4.9.4
# (`ours_only` and `mod_wsgi_61` tests are skipped there), or mod_wsgi 6.1.1 built by pip
# (`ours_only` and `mod_wsgi_49` skipped), which this project follows where it changed 4.9.
module-test: build $(DEPS)/test
	MOD_WSGI_BUILD=$(BIN) $(PYTHON) -m pytest -q -ra tests/module tests/hooks

module-test-reference: $(DEPS)/test
	@[ -f /usr/lib/apache2/modules/mod_wsgi.so ] || apt-get install -y -qq libapache2-mod-wsgi-py3
	MOD_WSGI_MODULE=/usr/lib/apache2/modules/mod_wsgi.so $(PYTHON) -m pytest -q -ra tests/module tests/hooks

# mod_wsgi 6.1.1 from PyPI, built by pip into a venv readable by Apache's user (needs the
# network once; MOD_WSGI_61_VENV keeps it elsewhere).
MOD_WSGI_61_VENV ?= /var/tmp/mod_wsgi-express-tests/mod_wsgi-6.1.1
module-test-61: $(DEPS)/test
	@[ -x $(MOD_WSGI_61_VENV)/bin/mod_wsgi-express ] || { $(PYTHON) -m venv $(MOD_WSGI_61_VENV) && \
		$(MOD_WSGI_61_VENV)/bin/pip install -q mod_wsgi==6.1.1; }
	MOD_WSGI_MODULE=$$($(MOD_WSGI_61_VENV)/bin/mod_wsgi-express module-location) MOD_WSGI_REFERENCE=6.1 \
		$(PYTHON) -m pytest -q -ra tests/module tests/hooks tests/daemon/test_v61_daemon.py

test: unit integration
	@$(MAKE) --no-print-directory scale-test QUICK=1

# The daemon suite with every group's Python from libpython in the process Apache forks
# (python-executable=off, as mod_wsgi), the path interpreters linked to libpython take;
# `make test` runs it with the default, the application's Python executable.
daemon-test-fork: build $(DEPS)/test
	MOD_WSGI_BUILD=$(BIN) MOD_WSGI_DAEMON_PYTHON_EXECUTABLE=off $(PYTHON) -m pytest -q -ra tests/daemon

# A clean release build that fails on any compiler or linker warning about this project's code
# (CI runs it). Warnings in the dependencies' sources are theirs; the one linker warning the
# static FoundationEssentials brings (swift-argument-parser's; its use of mktemp) is not ours either.
# (The build plan, description.json, goes too: with it SwiftPM does not write the removed
# targets' output file maps again and stops with "unable to load output file map".)
warnings: $(DEPS)/build
	rm -rf $(addprefix $(BIN)/,CModWSGI.build CWSGICore.build SystemCalls.build WSGICore.build ModWSGI.build WSGIDaemon.build ExpressKit.build mod_wsgi_express.build description.json)
	$(SWIFT_TMP) $(SWIFT) build -c $(CONFIG) $(SWIFT_FLAGS) >.build/warnings.log 2>&1; s=$$?; cat .build/warnings.log; exit $$s
	@! grep 'warning:' .build/warnings.log | grep -v '/.build/checkouts/' | grep -v "the use of .mktemp' is dangerous" \
		|| { echo "make warnings: the build printed warnings (above); fix them" >&2; exit 1; }

# Formatting: .swift-format is the style (4 spaces, 120 columns). `make lint` fails on any
# difference (CI runs it); `make format` rewrites the files in place.
SWIFT_FORMAT ?= $(SWIFT) format
FORMATTED = Sources Tests Package.swift

lint:
	$(SWIFT_TMP) $(SWIFT_FORMAT) lint --strict --recursive --parallel $(FORMATTED)

format:
	$(SWIFT_TMP) $(SWIFT_FORMAT) format --in-place --recursive --parallel $(FORMATTED)

bench: build
	python3 bench/run.py $(ARGS)

# Load, faults and hostile clients, side by side with Debian's mod_wsgi when installed
# (under 15 minutes; `make test` runs the --quick version).
reliability: build
	MOD_WSGI_BUILD=$(BIN) $(PYTHON) tests/reliability/reliability.py $(ARGS)

# Replicas behind HAProxy through a rolling restart, a SIGKILL and a scale-up, side by side with
# mod_wsgi 6.1.1's express (pip-installed into a venv under the work directory); a few minutes.
# QUICK=1: ours only, under 2 minutes (`make test` runs it). ARGS: e.g. --work-dir DIR --json FILE.
scale-test: build $(DEPS)/test
	MOD_WSGI_BUILD=$(BIN) $(PYTHON) tests/scale/scale.py $(if $(QUICK),--quick) $(ARGS)

# Binary wheels into dist/, one per CPython 3.9-3.13 found with a shared libpython (Debian's
# python3, python3.X in /usr/local/bin and /opt/python*/bin, pyenv's versions), or for the
# Pythons named: make wheels PYTHONS="/path/to/python3.12 ...". Each is checked with auditwheel
# (from PyPI). A wheel installs where there is no Swift, no compiler and no apache2-dev.
wheels: $(DEPS)/build
	/usr/bin/python3 scripts/build_wheels.py $(PYTHONS)

# Each of those Pythons gets its wheel installed where no toolchain can be seen, and served
# with real requests in daemon and embedded mode, in the main interpreter and a sub-interpreter
# (a few minutes per Python, most of it building the module: not in `make test`, which tests
# Debian's python3 only).
wheels-test: $(DEPS)/test
	MOD_WSGI_WHEELS_TEST=1 MOD_WSGI_PYTHONS="$(PYTHONS)" $(PYTHON) -m pytest -q -ra tests/wheels

# Issue 26. The module and the command built with AddressSanitizer (LeakSanitizer included) and,
# separately, ThreadSanitizer, the C shim too, each in its own scratch path; then the module and
# daemon suites and the hostile-client and hostile-app runs against a real Apache that preloads
# the sanitizer's runtime. Fails on any report that is ours (tests/sanitize/suppressions.txt
# lists the known ones of Apache, APR, CPython and the Swift runtime, each with its reason).
# `make sanitize QUICK=1`: a few files of each suite, the hostile runs whole.
SANITIZE_address = --scratch-path .build-asan -Xswiftc -sanitize=address -Xcc -fsanitize=address \
	-Xcc -fno-omit-frame-pointer
SANITIZE_thread = --scratch-path .build-tsan -Xswiftc -sanitize=thread -Xcc -fsanitize=thread
sanitize: $(DEPS)/test
	$(SWIFT_TMP) $(SWIFT) build -c release $(SWIFT_FLAGS) $(SANITIZE_address)
	$(SWIFT_TMP) $(SWIFT) build -c release $(SWIFT_FLAGS) $(SANITIZE_thread)
	$(PYTHON) tests/sanitize/sanitize.py address --build .build-asan/release $(if $(QUICK),--quick); a=$$?; \
	$(PYTHON) tests/sanitize/sanitize.py thread --build .build-tsan/release $(if $(QUICK),--quick); t=$$?; \
	[ $$a = 0 ] && [ $$t = 0 ]

# mod_wsgi 6.1.1 from PyPI, the side-by-side reference of `make soak` and `make storm`
# (compiled against this Apache; readable by www-data, so not under /root).
REFERENCE_VENV ?= /var/tmp/mod_wsgi-express-reference/venv-mod_wsgi-6.1.1
$(REFERENCE_VENV)/bin/mod_wsgi-express:
	$(PYTHON) -m venv $(REFERENCE_VENV)
	APXS=/usr/bin/apxs $(REFERENCE_VENV)/bin/pip install -q --disable-pip-version-check mod_wsgi==6.1.1
	chmod -R a+rX $(dir $(REFERENCE_VENV))

# A soak: mixed traffic at 64 connections per server in daemon and embedded mode, a graceful
# restart every minute, maximum-requests; memory and fds printed every minute. 30 minutes
# side by side with mod_wsgi 6.1.1; `make soak QUICK=1`: 2 minutes, ours only.
soak: build $(DEPS)/test $(if $(QUICK),,$(REFERENCE_VENV)/bin/mod_wsgi-express)
	MOD_WSGI_BUILD=$(BIN) $(PYTHON) tests/reliability/soak.py $(if $(QUICK),--quick,--reference-venv $(REFERENCE_VENV)) $(ARGS)

# Restart storms: 200 graceful restarts back to back under load and 50 stop/start cycles of
# start-server, side by side with mod_wsgi 6.1.1; `make storm QUICK=1`: 20 and 5, ours only.
storm: build $(DEPS)/test $(if $(QUICK),,$(REFERENCE_VENV)/bin/mod_wsgi-express)
	MOD_WSGI_BUILD=$(BIN) $(PYTHON) tests/reliability/storm.py $(if $(QUICK),--quick,--reference-venv $(REFERENCE_VENV)) $(ARGS)

clean:
	rm -rf .build
