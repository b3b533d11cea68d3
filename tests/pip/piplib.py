"""Harness for the pip tests: the checkout built with pip (once per session), installed into a
real virtual environment of Debian's python3, served by a real Apache.

- The wheel is built by `pip wheel <checkout>` in the session's venv, with the swift build
  directory kept in $MOD_WSGI_PIP_BUILD_DIR (default /var/tmp/mod_wsgi-express-tests/pip-build,
  shared by checkouts and Pythons: the backend locks it and copies in only what changed), so
  a later session, or another checkout, rebuilds incrementally.
- Venvs live in a 0755 directory under /tmp: Apache's user (www-data) must read them.
- Servers listen on free 127.0.0.1 ports, in their own session, and are killed by process
  group after their test.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SYSTEM_PYTHON = "/usr/bin/python3"
BUILD_DIR = os.environ.get("MOD_WSGI_PIP_BUILD_DIR") or "/var/tmp/mod_wsgi-express-tests/pip-build"
TIMEOUT = 30.0
# What the installed command must work without.
SCRUBBED = ("VIRTUAL_ENV", "MOD_WSGI_EXPRESS_TEMPLATES", "MOD_WSGI_MODULE", "PYTHONPATH", "PYTHONHOME",
            "DJANGO_SETTINGS_MODULE")

HELLO = b"""
import sys
def application(environ, start_response):
    import mod_wsgi, mod_wsgi.server
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('|'.join([sys.prefix, sys.version.split()[0], repr(mod_wsgi.version),
                       mod_wsgi.server.where()])).encode()]
"""


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(extra)
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url, timeout=5.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def wait_for(url, proc=None, timeout=TIMEOUT, log=None):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError("server exited with %s before serving %s: %s"
                                 % (proc.returncode, url, read(log) if log else ""))
        try:
            return fetch(url, timeout=3.0)
        except Exception as e:  # refused while Apache starts
            last = e
            time.sleep(0.2)
    raise AssertionError("%s not served within %ss: %s %s" % (url, timeout, last, read(log) if log else ""))


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def write(path, data, mode=0o644):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(path, mode)
    return path


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 600)
    kw.setdefault("env", clean_env())
    return subprocess.run(argv, **kw)


def readable_dir(prefix):
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return d


class Venv:
    def __init__(self, path):
        self.path = path

    def bin(self, name):
        return os.path.join(self.path, "bin", name)

    @property
    def python(self):
        return self.bin("python")

    def pip(self, *args, timeout=1500, env=None):
        r = run([self.python, "-m", "pip", "--disable-pip-version-check"] + list(args), timeout=timeout,
                env=env or clean_env())
        assert r.returncode == 0, "pip %s failed:\n%s\n%s" % (" ".join(args), r.stdout[-4000:], r.stderr[-4000:])
        return r

    @classmethod
    def create(cls, path, python=SYSTEM_PYTHON):
        r = run([python, "-m", "venv", path], timeout=300)
        assert r.returncode == 0, r.stderr
        return cls(path)


class Servers:
    """Started servers (each in its own session) killed by process group at teardown."""

    def __init__(self):
        self.procs = []

    def start(self, argv, cwd, log, env=None):
        f = open(log, "wb")
        p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                             env=env or clean_env(), start_new_session=True)
        f.close()
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(p.pid, sig)
                except OSError:
                    break
                try:
                    p.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    pass


@pytest.fixture(scope="session")
def pip_area():
    d = readable_dir("mwe-pip-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def built(pip_area):
    """(venv, wheel path, source tree listing before, after): the checkout built by pip once."""
    venv = Venv.create(os.path.join(pip_area, "venv"))
    wheels = os.path.join(pip_area, "wheels")
    before = sorted(os.listdir(REPO))
    os.makedirs(BUILD_DIR, exist_ok=True)
    r = run([venv.python, "-m", "pip", "--disable-pip-version-check", "wheel", "--no-deps", "-w", wheels, REPO],
            env=clean_env(MOD_WSGI_BUILD_DIR=BUILD_DIR), timeout=1500)
    assert r.returncode == 0, "pip wheel failed:\n%s\n%s" % (r.stdout[-6000:], r.stderr[-6000:])
    after = sorted(os.listdir(REPO))
    found = [f for f in os.listdir(wheels) if f.endswith(".whl")]
    assert len(found) == 1, found
    return venv, os.path.join(wheels, found[0]), before, after


@pytest.fixture(scope="session")
def venv(built):
    """The session's venv with the wheel installed."""
    v, wheel, _, _ = built
    v.pip("install", "--no-deps", wheel)
    return v


@pytest.fixture(scope="session")
def wheel(built):
    return built[1]


@pytest.fixture(scope="session")
def django_venv(venv):
    """The same venv with Django 5 and WhiteNoise from PyPI."""
    venv.pip("install", "-q", "django>=5,<6", "whitenoise")
    return venv


@pytest.fixture
def servers():
    s = Servers()
    yield s
    s.stop_all()


@pytest.fixture
def workdir():
    d = readable_dir("mwe-piptest-")
    yield d
    shutil.rmtree(d, ignore_errors=True)
