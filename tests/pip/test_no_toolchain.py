"""The wheel on a machine with Apache and Python but no toolchain: no Swift, no compiler, no
apache2-dev, no python3-dev (this machine, with all of them hidden in a mount namespace: see
toolchainless.py). It installs with pip and serves in daemon and embedded mode and Django's
runmodwsgi; building from source there stops with one line saying to use a wheel or Swift 6."""
import os
import subprocess

import pytest

from piplib import HELLO, REPO, SYSTEM_PYTHON, Venv, clean_env, free_port, read, readable_dir, run, wait_for, write
from toolchainless import PREMISE_TOOLS, Toolchainless, available

WHY_NOT = available()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason="no mount namespaces here: %s" % WHY_NOT)

LIBPYTHON = "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"

APP = HELLO + b"""
import mod_wsgi as _m
def mode(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('%s|%s' % (_m.process_group, _m.application_group)).encode()]
"""


class Bare:
    """A view without the toolchain, and a venv made and filled in it."""

    def __init__(self, view, venv, area):
        self.view, self.venv, self.area = view, venv, area

    def run(self, argv, **kw):
        return run(self.view.argv(argv), **kw)

    def pip(self, *args, timeout=900):
        r = self.run([self.venv.python, "-m", "pip", "--disable-pip-version-check", "--no-cache-dir"] + list(args),
                     timeout=timeout)
        assert r.returncode == 0, "pip %s failed:\n%s\n%s" % (" ".join(args), r.stdout[-4000:], r.stderr[-4000:])
        return r


@pytest.fixture(scope="module")
def bare(wheel):
    view = Toolchainless()
    area = readable_dir("mwe-bare-")
    try:
        seen = view.premise()
        assert seen == {"found": {}, "ran": {}, "headers": [], "toolchains": []}, seen
        venv = Venv(os.path.join(area, "venv"))
        r = run(view.argv([SYSTEM_PYTHON, "-m", "venv", venv.path]), timeout=300)
        assert r.returncode == 0, r.stderr
        b = Bare(view, venv, area)
        b.pip("install", "--no-index", "--no-deps", wheel)
        yield b
    finally:
        view.close()
        import shutil
        shutil.rmtree(area, ignore_errors=True)


def test_the_view_has_no_swift_no_compiler_no_apxs_no_headers(bare):
    # The fixture asserted it; here it is again, said plainly, with what was looked for.
    seen = bare.view.premise()
    assert not seen["found"] and not seen["ran"], seen
    assert not seen["headers"] and not seen["toolchains"], seen
    assert {"swift", "cc", "gcc", "apxs", "python3-config"} <= set(PREMISE_TOOLS)
    # Outside the view, this machine has them (or the view would prove nothing about them).
    assert run(["/usr/bin/python3", "-c", "import shutil, sys; sys.exit(not shutil.which('gcc'))"]).returncode == 0


@pytest.mark.parametrize("mode", ["daemon", "embedded"])
def test_the_installed_wheel_serves(bare, servers, workdir, mode):
    app = write(os.path.join(workdir, "app.py"), APP)
    port = free_port()
    log = os.path.join(workdir, "log")
    argv = [bare.venv.bin("mod_wsgi-express"), "start-server", app, "--host", "127.0.0.1", "--port", str(port),
            "--server-root", os.path.join(workdir, "root")]
    if mode == "embedded":
        argv.append("--embedded-mode")
    with open(os.path.join(workdir, "mode.conf"), "w") as f:
        f.write("WSGIScriptAlias /mode '%s' callable-object=mode process-group=%s application-group=%%{GLOBAL}\n"
                "<Directory '%s'>\n    Require all granted\n</Directory>\n"
                % (app, "%{GLOBAL}" if mode == "embedded" else "127.0.0.1:%d" % port, workdir))
    os.chmod(os.path.join(workdir, "mode.conf"), 0o644)
    argv += ["--include-file", os.path.join(workdir, "mode.conf")]
    p = servers.start(bare.view.argv(argv), cwd=workdir, log=log)
    status, body, _ = wait_for("http://127.0.0.1:%d/" % port, proc=p, log=log)
    assert status == 200, read(os.path.join(workdir, "root", "error_log"))[-3000:]
    prefix, version, modwsgi_version, where = body.decode().split("|")
    assert prefix == bare.venv.path and version.startswith("3.11.")
    assert where.startswith(bare.venv.path + "/lib/python3.11/site-packages/mod_wsgi/server/mod_wsgi-py311")
    status, body, _ = wait_for("http://127.0.0.1:%d/mode" % port)
    assert status == 200, read(os.path.join(workdir, "root", "error_log"))[-3000:]
    group = "" if mode == "embedded" else "127.0.0.1:%d" % port
    assert body.decode() == "%s|" % group
    conf = read(os.path.join(workdir, "root", "httpd.conf"))
    # The wheel's module links no libpython: the configuration loads the venv's Python first.
    assert "LoadFile '%s'" % LIBPYTHON in conf
    assert ("WSGIDaemonProcess" in conf) == (mode == "daemon")


def test_django_runmodwsgi_serves(bare, servers, workdir):
    bare.pip("install", "-q", "django>=5,<6")
    project = os.path.join(workdir, "project")
    os.mkdir(project)
    r = bare.run([bare.venv.bin("django-admin"), "startproject", "mysite", project])
    assert r.returncode == 0, r.stderr
    with open(os.path.join(project, "mysite", "settings.py"), "a") as f:
        f.write("\nINSTALLED_APPS += ['mod_wsgi.server']\nALLOWED_HOSTS = ['*']\n")
    run(["chmod", "-R", "a+rX", workdir])
    port = free_port()
    log = os.path.join(workdir, "log")
    p = servers.start(bare.view.argv([bare.venv.python, "manage.py", "runmodwsgi", "--host", "127.0.0.1", "--port",
                                      str(port), "--server-root", os.path.join(workdir, "root")]),
                      cwd=project, log=log)
    status, body, _ = wait_for("http://127.0.0.1:%d/admin/login/" % port, proc=p, log=log)
    assert status == 200 and b"Django site admin" in body, read(os.path.join(workdir, "root", "error_log"))[-3000:]
    assert "Operating Mode     : daemon" in read(log)


def test_building_from_source_says_use_a_wheel_or_install_swift_6(bare, workdir):
    # From the checkout, and from an sdist of it (the backend writes sdists without a toolchain).
    sdists = os.path.join(workdir, "sdist")
    os.mkdir(sdists)
    r = bare.run([SYSTEM_PYTHON, "-c", "import sys; sys.path.insert(0, %r); import mod_wsgi_build as b; "
                                       "print(b.build_sdist(%r))" % (os.path.join(REPO, "python", "backend"), sdists)])
    assert r.returncode == 0, r.stderr
    sdist = os.path.join(sdists, r.stdout.strip())
    for source in (REPO, sdist):
        r = bare.run([bare.venv.python, "-m", "pip", "--disable-pip-version-check", "--no-cache-dir", "install",
                      "--no-index", source], timeout=300)
        assert r.returncode != 0
        lines = [l.strip() for l in (r.stdout + r.stderr).splitlines() if "mod_wsgi: error:" in l]
        assert len(lines) == 1, r.stdout + r.stderr
        assert lines[0].startswith("mod_wsgi: error: building mod_wsgi from source needs the Swift 6 toolchain "
                                   "(no `swift` on PATH): install a binary wheel of mod_wsgi for this Python "
                                   "instead"), lines[0]
        assert "or install Swift 6 from swift.org" in lines[0]


def test_without_libpython_setup_server_says_which_package_to_install(bare, workdir):
    # Debian's python3 does not need libpython3.11 (its executable has Python built in); Apache does.
    view = Toolchainless(hide_files=[LIBPYTHON])
    try:
        app = write(os.path.join(workdir, "app.py"), HELLO)
        r = run(view.argv([bare.venv.bin("mod_wsgi-express"), "setup-server", app,
                           "--server-root", os.path.join(workdir, "root")]))
        assert r.returncode == 1
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0] == (
            "mod_wsgi-express: error: the module needs Python's shared library libpython3.11.so.1.0, which is not in "
            "/usr/lib, /usr/lib/x86_64-linux-gnu, /usr/lib64 (the Python at '/usr'): install it (Debian: apt-get "
            "install libpython3.11), or use a Python built with --enable-shared")
    finally:
        view.close()
