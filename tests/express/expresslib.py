"""Harness for the mod_wsgi-express CLI integration tests (imported by conftest; tests/module has its own conftest, so this module has a name of its own).

Binaries: $MOD_WSGI_BUILD/mod_wsgi-express (MOD_WSGI_BUILD defaults to <repo>/.build/release).
The CLI finds libmod_wsgi.so beside itself, or $MOD_WSGI_MODULE when set.
Every server listens on 127.0.0.1 on a free port and is stopped after its test.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("MOD_WSGI_BUILD", os.path.join(REPO, ".build", "release"))
if not os.path.isabs(BUILD):
    BUILD = os.path.join(REPO, BUILD)
EXPRESS = os.path.join(BUILD, "mod_wsgi-express")
TIMEOUT = 20.0

HELLO = b"""
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'Hello World!\\n']
"""

ENVIRON = b"""
import json
def application(environ, start_response):
    body = json.dumps({k: v for k, v in environ.items() if isinstance(v, str)}).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
"""


def pytest_report_header(config):
    return "mod_wsgi-express under test: %s" % EXPRESS


@pytest.fixture(scope="session")
def express():
    if not os.access(EXPRESS, os.X_OK):
        pytest.fail("%s not built: run `swift build -c release` (or set MOD_WSGI_BUILD)" % EXPRESS)
    return EXPRESS


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def workdir():
    """A directory Apache's unprivileged user can read (pytest's tmp_path is mode 0700)."""
    d = tempfile.mkdtemp(prefix="mwe-test-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def write(path, data, mode=0o644):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    return path


@pytest.fixture
def hello(workdir):
    return write(os.path.join(workdir, "hello.py"), HELLO)


def run(args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 60)
    return subprocess.run([EXPRESS] + args, **kw)


def fetch(url, timeout=5.0):
    """(status, body bytes, headers) or raises."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def wait_for(url, timeout=TIMEOUT, proc=None):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError("server exited with %s before serving %s" % (proc.returncode, url))
        try:
            return fetch(url, timeout=2.0)
        except Exception as e:  # connection refused while Apache starts
            last = e
            time.sleep(0.1)
    raise AssertionError("%s not served within %ss: %s" % (url, timeout, last))


def wait_gone(port, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.1)
    return False


class ServerRoot:
    """A server root made by setup-server, stopped (apachectl stop, then kill) on cleanup."""

    def __init__(self, root, port):
        self.root = root
        self.port = port
        self.url = "http://127.0.0.1:%d" % port

    def apachectl(self, *args, **kw):
        return subprocess.run([os.path.join(self.root, "apachectl")] + list(args), capture_output=True,
                              text=True, timeout=60, start_new_session=True, **kw)

    def pid(self):
        try:
            with open(os.path.join(self.root, "httpd.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def error_log(self):
        try:
            with open(os.path.join(self.root, "error_log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        pid = self.pid()
        if pid:
            self.apachectl("stop")
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    os.kill(pid, 0)
                except OSError:
                    break
                time.sleep(0.1)
            else:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass


def configtest_refuses(setup_server, app, workdir, directive, message):
    """A server root whose --include-file holds `directive` fails configtest, saying `message`."""
    inc = write(os.path.join(workdir, "directive.conf"), directive.encode() + b"\n")
    sr = setup_server([app, "--include-file", inc])
    r = sr.apachectl("configtest")
    assert r.returncode != 0
    assert message in r.stderr + r.stdout, r.stderr + r.stdout


@pytest.fixture
def setup_server(workdir, port):
    """setup_server(args) -> ServerRoot; the server root lives in the test's workdir."""
    roots = []

    def make(args=(), root=None, check=True, extra_port=None, env=None):
        root = root or os.path.join(workdir, "root")
        p = extra_port or port
        r = run(["setup-server"] + list(args) + ["--server-root", root, "--port", str(p), "--host", "127.0.0.1"],
                **({"env": env} if env is not None else {}))
        if check:
            assert r.returncode == 0, r.stderr
        sr = ServerRoot(root, p)
        sr.result = r
        roots.append(sr)
        return sr

    yield make
    for sr in roots:
        sr.stop()
