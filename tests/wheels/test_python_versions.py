"""Every CPython 3.9-3.13 found on this machine (scripts/build_wheels.py's `find_pythons`; or those in
$MOD_WSGI_PYTHONS): the wheel built for its version, installed with pip into a venv of it on a
machine with no toolchain (tests/pip/toolchainless.py), serving real requests in daemon and
embedded mode, from the main interpreter and from a sub-interpreter (application group 'sub').

A Python under /root (pyenv's) is shown in that view at its own path, readable by Apache's user,
as if it were installed under /opt: a Python Apache's user cannot read cannot be served (that
refusal has its own test in tests/pip)."""
import os
import shutil

import pytest

import build_wheels as builder
from piplib import Venv, free_port, read, readable_dir, run, wait_for, write
from toolchainless import Toolchainless, available

WHY_NOT = available()
GIVEN = os.environ.get("MOD_WSGI_PYTHONS", "").split()
FOUND, SKIPPED = builder.find_pythons(GIVEN or None, per_version=False)

APP = b"""
import os, sys
import mod_wsgi
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('|'.join([sys.version.split()[0], sys.prefix, mod_wsgi.process_group, mod_wsgi.application_group,
                       '%d-%x' % (os.getpid(), id(sys.modules))])).encode()]
"""


class Wheels:
    """The wheel of each version, built on first use from the first Python found of it (a
    failed build fails that version's tests only, once)."""

    def __init__(self, dist):
        self.dist, self.done = dist, {}
        self.python = {}
        for python, info in builder.find_pythons(GIVEN or None)[0]:
            self.python.setdefault(info["version"], python)

    def __getitem__(self, version):
        if version not in self.done:
            try:
                self.done[version] = builder.build(self.python[version], self.dist)
            except BaseException as e:  # SystemExit from the builder included
                self.done[version] = e
        if isinstance(self.done[version], BaseException):
            pytest.fail("the wheel for Python %s did not build: %s" % (version, self.done[version]))
        return self.done[version]


@pytest.fixture(scope="session")
def built_wheels():
    dist = readable_dir("mwe-wheels-")
    yield Wheels(dist)
    shutil.rmtree(dist, ignore_errors=True)


def test_the_versions_found():
    # What this run covers, in its output (pytest -ra shows the skips' reasons too).
    assert FOUND, "no CPython 3.9-3.13 with a shared libpython found (skipped: %s)" % SKIPPED
    versions = sorted({i["version"] for _, i in FOUND})
    print("CPythons tested: %s" % ", ".join("%s (%s)" % (i["full"], p) for p, i in FOUND))
    if not GIVEN:
        assert "3.11" in versions  # Debian 12's python3, always there


@pytest.mark.parametrize("python", [p for p, _ in FOUND] or ["none"])
def test_wheel_passes_auditwheel(built_wheels, python):
    info = dict(FOUND)[python]
    wheel = built_wheels[info["version"]]
    verdict, report = builder.check(wheel)
    assert verdict == builder.platform_tag(wheel) and verdict.startswith("manylinux_2_"), report
    nodot = info["version"].replace(".", "")
    assert os.path.basename(wheel).split("-")[2:4] == ["cp" + nodot, "cp" + nodot]


@pytest.mark.skipif(WHY_NOT is not None, reason="no mount namespaces here: %s" % WHY_NOT)
@pytest.mark.parametrize("mode", ["daemon", "embedded"])
@pytest.mark.parametrize("python", [p for p, _ in FOUND] or ["none"])
def test_wheel_serves_without_a_toolchain(built_wheels, servers, python, mode):
    info = dict(FOUND)[python]
    wheel = built_wheels[info["version"]]
    hidden = ["/root"]
    expose = [info["prefix"]] if any(info["prefix"].startswith(h + "/") for h in hidden) else []
    view = Toolchainless(expose=expose)
    area = readable_dir("mwe-wheel-%s-" % info["version"])
    try:
        seen = view.premise()
        assert seen == {"found": {}, "ran": {}, "headers": [], "toolchains": []}, seen
        venv = Venv(os.path.join(area, "venv"))
        r = run(view.argv([python, "-m", "venv", venv.path]), timeout=300)
        assert r.returncode == 0, r.stderr
        r = run(view.argv([venv.python, "-m", "pip", "--disable-pip-version-check", "--no-cache-dir", "install",
                           "--no-index", "--no-deps", wheel]), timeout=600)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        app = write(os.path.join(area, "app.py"), APP)
        port = free_port()
        group = "127.0.0.1:%d" % port
        # The same script again at /sub, in a sub-interpreter of the same process group.
        extra = write(os.path.join(area, "sub.conf"),
                      "WSGIScriptAlias /sub '%s' process-group=%s application-group=sub\n"
                      "<Directory '%s'>\n    Require all granted\n</Directory>\n"
                      % (app, group if mode == "daemon" else "%{GLOBAL}", area))
        argv = [venv.bin("mod_wsgi-express"), "start-server", app, "--host", "127.0.0.1", "--port", str(port),
                "--server-root", os.path.join(area, "root"), "--include-file", extra]
        if mode == "embedded":
            argv.append("--embedded-mode")
        log = os.path.join(area, "log")
        p = servers.start(view.argv(argv), cwd=area, log=log)
        answers = {}
        for path in ("/", "/sub"):
            status, body, _ = wait_for("http://127.0.0.1:%d%s" % (port, path), proc=p, log=log)
            assert status == 200, (path, read(os.path.join(area, "root", "error_log"))[-3000:])
            answers[path] = body.decode().split("|")
        conf = read(os.path.join(area, "root", "httpd.conf"))
        for path, (version, prefix, process_group, application_group, where) in answers.items():
            assert version == info["full"] and prefix == venv.path, answers
            assert process_group == (group if mode == "daemon" else ""), answers
            assert application_group == ("sub" if path == "/sub" else ""), answers
        assert answers["/"][4] != answers["/sub"][4], answers  # two interpreters
        # The module linked no libpython: the configuration loads this Python's.
        assert "LoadFile '%s/" % info["prefix"] in conf, conf
    finally:
        servers.stop_all()
        view.close()
        shutil.rmtree(area, ignore_errors=True)
