"""Apache harness for the mod_wsgi integration tests (embedded mode here; tests/daemon builds on it).

Module under test:
  MOD_WSGI_MODULE=/path/to/mod.so   explicit .so (e.g. Debian's /usr/lib/apache2/modules/mod_wsgi.so)
  otherwise $MOD_WSGI_BUILD/libmod_wsgi.so (MOD_WSGI_BUILD defaults to <repo>/.build/release)
The reference module is detected from its path (/usr/lib/apache2/modules/...: Debian's 4.9) or
MOD_WSGI_REFERENCE=4.9 (or 1) / MOD_WSGI_REFERENCE=6.1 (mod_wsgi 6.1 built by pip: `make module-test-61`).
Tests marked ``ours_only`` (better-than-mod_wsgi behaviour) are skipped for any reference; ``mod_wsgi_61``
(6.1's behaviour where 4.9's differs, which this project follows) for the 4.9 reference; ``mod_wsgi_49``
(4.9's behaviour this project keeps where 6.1 differs, each with its reason) for the 6.1 reference.
"""
import http.client
import json
import os
import pwd
import grp
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
APPS = os.path.join(HERE, "apps")
FIXTURES = os.path.join(HERE, "fixtures")
HTTPD = os.environ.get("APACHE_HTTPD", "/usr/sbin/apache2")
MODDIR = os.environ.get("APACHE_MODULES", "/usr/lib/apache2/modules")
RUN_USER = os.environ.get("APACHE_RUN_USER", "www-data")
RUN_GROUP = os.environ.get("APACHE_RUN_GROUP", "www-data")
TIMEOUT = 15.0
# Apache (and so the embedded Python) starts with a small, fixed environment: no PYTHON* variables
# from the caller's shell leak into the interpreter under test.
APACHE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
# `make sanitize` (tests/sanitize/sanitize.py): Apache is not built with the sanitizer, so its
# runtime is preloaded, and the sanitizer's options (where reports go, suppressions) passed on.
if os.environ.get("MOD_WSGI_SANITIZER_PRELOAD"):
    APACHE_ENV["LD_PRELOAD"] = os.environ["MOD_WSGI_SANITIZER_PRELOAD"]
    for _k in ("ASAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS", "PYTHONMALLOC"):
        if _k in os.environ:
            APACHE_ENV[_k] = os.environ[_k]


def module_path():
    explicit = os.environ.get("MOD_WSGI_MODULE")
    if explicit:
        return os.path.abspath(explicit)
    build = os.environ.get("MOD_WSGI_BUILD", os.path.join(REPO, ".build", "release"))
    if not os.path.isabs(build):
        build = os.path.join(REPO, build)
    return os.path.join(build, "libmod_wsgi.so")


MODULE = module_path()


def reference_version():
    """None for our module; "4.9" or "6.1" for a reference mod_wsgi."""
    declared = os.environ.get("MOD_WSGI_REFERENCE", "")
    if declared in ("1", "4.9"):
        return "4.9"
    if declared == "6.1":
        return "6.1"
    if os.path.realpath(MODULE).startswith(os.path.realpath(MODDIR) + os.sep):
        return "4.9"
    return None


REFERENCE_VERSION = reference_version()
REFERENCE = REFERENCE_VERSION is not None


def pytest_configure(config):
    config.addinivalue_line("markers", "ours_only: better-than-mod_wsgi behaviour the issue asks for; "
                                       "skipped against the reference mod_wsgi")
    config.addinivalue_line("markers", "mod_wsgi_61: mod_wsgi 6.1's behaviour where 4.9's differs (followed "
                                       "here); skipped against the 4.9 reference")
    config.addinivalue_line("markers", "mod_wsgi_49(reason): mod_wsgi 4.9's behaviour kept where 6.1 differs; "
                                       "skipped against the 6.1 reference")
    config.addinivalue_line("markers", "slow: takes several seconds")


def pytest_report_header(config):
    what = "mod_wsgi %s reference" % REFERENCE_VERSION if REFERENCE else "ours"
    return "mod_wsgi module under test: %s (%s)" % (MODULE, what)


def pytest_collection_modifyitems(config, items):
    if not REFERENCE:
        return
    skips = {
        "ours_only": pytest.mark.skip(reason="better-than-mod_wsgi behaviour; not expected of the reference "
                                             "module"),
        "mod_wsgi_61": pytest.mark.skip(reason="mod_wsgi 6.1's behaviour; not expected of mod_wsgi 4.9"),
        "mod_wsgi_49": pytest.mark.skip(reason="mod_wsgi 4.9's behaviour kept here; mod_wsgi 6.1 differs"),
    }
    skipped = {"4.9": ("ours_only", "mod_wsgi_61"), "6.1": ("ours_only", "mod_wsgi_49")}[REFERENCE_VERSION]
    for item in items:
        for marker in skipped:
            if marker in item.keywords:
                item.add_marker(skips[marker])


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _uid_gid():
    return pwd.getpwnam(RUN_USER).pw_uid, grp.getgrnam(RUN_GROUP).gr_gid


def _chown_tree(path):
    if os.getuid() != 0:
        return
    uid, gid = _uid_gid()
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for f in files:
            os.chown(os.path.join(root, f), uid, gid)


MPM_DEFAULTS = {
    # small, fast-starting pools; one child process unless a test asks for more
    "event": "StartServers 1\nServerLimit 1\nThreadsPerChild 8\nMaxRequestWorkers 8\n"
             "MinSpareThreads 1\nMaxSpareThreads 8\nThreadLimit 64\n",
    "worker": "StartServers 1\nServerLimit 1\nThreadsPerChild 8\nMaxRequestWorkers 8\n"
              "MinSpareThreads 1\nMaxSpareThreads 8\nThreadLimit 64\n",
    "prefork": "StartServers 2\nMinSpareServers 1\nMaxSpareServers 4\nServerLimit 4\n"
               "MaxRequestWorkers 4\n",
}


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def __repr__(self):
        return "<Response %s %r %r>" % (self.status, dict(self.headers), self.body[:300])


class Apache:
    """One Apache httpd instance in a private temp dir, on a free 127.0.0.1 port."""

    def __init__(self, directives="", mpm="event", mpm_conf=None, name="t", modules=(),
                 load_wsgi=True):
        self.mpm = mpm
        self.dir = tempfile.mkdtemp(prefix="mwt-%s-" % name, dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.apps = os.path.join(self.dir, "apps")
        shutil.copytree(APPS, self.apps, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        self.htdocs = os.path.join(self.dir, "htdocs")
        self.markers = os.path.join(self.dir, "markers")
        self.logs = os.path.join(self.dir, "logs")
        self.run = os.path.join(self.dir, "run")
        for d in (self.htdocs, self.markers, self.logs, self.run):
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(self.htdocs, "index.html"), "w") as f:
            f.write("static\n")
        _chown_tree(self.dir)
        os.chmod(self.markers, 0o777)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "httpd.conf")
        self.pidfile = os.path.join(self.run, "httpd.pid")
        self.error_log = os.path.join(self.logs, "error_log")
        self.access_log = os.path.join(self.logs, "access_log")
        self.pid = None
        self.pgid = None
        self.started = False
        self.write_conf(directives, mpm_conf, modules, load_wsgi)

    # ----- configuration -------------------------------------------------
    def write_conf(self, directives="", mpm_conf=None, modules=(), load_wsgi=True):
        self.directives = directives
        mods = ["mpm_%s" % self.mpm, "authz_core", "authz_host", "mime", "alias", "env", "dir",
                "headers", "setenvif"] + list(modules)
        lines = []
        for m in mods:
            lines.append("LoadModule %s_module %s/mod_%s.so" % (m, MODDIR, m))
        if load_wsgi:
            lines.append("LoadModule wsgi_module %s" % MODULE)
        lines.append(mpm_conf if mpm_conf is not None else MPM_DEFAULTS[self.mpm])
        lines.append("""
ServerRoot "{d}"
DefaultRuntimeDir "{run}"
PidFile "{pid}"
Mutex file:{run} default
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
ServerAdmin admin@example.test
User {user}
Group {group}
ErrorLog "{elog}"
LogLevel info
LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{{User-Agent}}i\\"" common
CustomLog "{alog}" common
TypesConfig /etc/mime.types
DocumentRoot "{htdocs}"
Timeout 20
KeepAliveTimeout 3
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "{d}">
    Require all granted
</Directory>
""".format(d=self.dir, run=self.run, pid=self.pidfile, port=self.port, user=RUN_USER,
           group=RUN_GROUP, elog=self.error_log, alog=self.access_log, htdocs=self.htdocs))
        lines.append(self.subst(directives))
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def subst(self, text):
        return (text.replace("@APPS@", self.apps).replace("@DIR@", self.dir)
                .replace("@MARKERS@", self.markers).replace("@HTDOCS@", self.htdocs)
                .replace("@PORT@", str(self.port)))

    def configtest(self):
        p = subprocess.run([HTTPD, "-f", self.conf, "-t"], capture_output=True, text=True,
                           timeout=TIMEOUT, env=APACHE_ENV)
        return p.returncode, p.stdout + p.stderr

    # ----- lifecycle -----------------------------------------------------
    def start(self, wait=True):
        p = subprocess.run(["setsid", HTTPD, "-f", self.conf, "-k", "start"], capture_output=True,
                           text=True, timeout=TIMEOUT, env=APACHE_ENV)
        if p.returncode != 0:
            raise RuntimeError("apache2 -k start failed (%d): %s\n%s" % (p.returncode, p.stdout + p.stderr,
                                                                         self.log()))
        self.started = True
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            if os.path.exists(self.pidfile):
                try:
                    self.pid = int(open(self.pidfile).read().strip())
                    self.pgid = os.getpgid(self.pid)
                    break
                except (ValueError, ProcessLookupError, OSError):
                    pass
            time.sleep(0.02)
        else:
            raise RuntimeError("no pid file after start:\n" + self.log())
        if wait:
            self.wait_port()
        return self

    def wait_port(self, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.pid and not _alive(self.pid):
                    raise RuntimeError("apache exited during start-up:\n" + self.log())
                time.sleep(0.05)
        raise RuntimeError("port %d not accepting:\n%s" % (self.port, self.log()))

    def children(self):
        if not self.pid:
            return []
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.pid and fields[0] != "Z":
                out.append(int(entry))
        return sorted(out)

    def _signal_and_wait_resume(self, verb, timeout=TIMEOUT):
        mark = self.log_size()
        p = subprocess.run([HTTPD, "-f", self.conf, "-k", verb], capture_output=True, text=True,
                           timeout=TIMEOUT, env=APACHE_ENV)
        assert p.returncode == 0, p.stdout + p.stderr
        self.wait_log(r"resuming normal operations", since=mark, timeout=timeout)
        self.wait_port()

    def graceful(self):
        self._signal_and_wait_resume("graceful")

    def restart(self):
        self._signal_and_wait_resume("restart")

    def stop(self, timeout=TIMEOUT):
        if not self.started:
            return
        self.started = False
        pid, pgid = self.pid, self.pgid
        kids = self.children()
        try:
            subprocess.run([HTTPD, "-f", self.conf, "-k", "stop"], capture_output=True, timeout=TIMEOUT,
                           env=APACHE_ENV)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.time() + timeout
        while pid and _alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        leftovers = [k for k in ([pid] + kids) if k and _alive(k)]
        for k in leftovers:
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
        if pgid and pgid > 1 and pgid != os.getpgid(0):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass

    def wait_exit(self, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while self.pid and _alive(self.pid) and time.time() < deadline:
            time.sleep(0.05)

    def cleanup(self):
        # Teardown does not judge shutdown behaviour (tests that do call stop() themselves):
        # give the children a short grace period, then kill what is left.
        self.stop(timeout=float(os.environ.get("MOD_WSGI_STOP_GRACE", "1")))
        if os.environ.get("MOD_WSGI_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    # ----- logs ------------------------------------------------------------
    def log_size(self):
        try:
            return os.path.getsize(self.error_log)
        except OSError:
            return 0

    def log(self, since=0):
        try:
            with open(self.error_log, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, pattern, since=0, timeout=5.0):
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            text = self.log(since)
            m = rx.search(text)
            if m:
                return m
            if time.time() >= deadline:
                raise AssertionError("pattern %r not found in error log:\n%s" % (pattern, text[-6000:]))
            time.sleep(0.05)

    def access_lines(self):
        try:
            with open(self.access_log) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def wait_access(self, needle, timeout=5.0):
        deadline = time.time() + timeout
        while True:
            lines = [l for l in self.access_lines() if needle in l]
            if lines:
                return lines
            if time.time() >= deadline:
                raise AssertionError("%r not in access log:\n%s" % (needle, "\n".join(self.access_lines()[-30:])))
            time.sleep(0.05)

    def marker(self, name):
        return os.path.join(self.markers, name)

    def wait_marker(self, name, timeout=5.0):
        path = self.marker(name)
        deadline = time.time() + timeout
        while not os.path.exists(path):
            if time.time() >= deadline:
                return None
            time.sleep(0.05)
        time.sleep(0.05)
        with open(path) as f:
            return f.read()

    # ----- HTTP ------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=10.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.reason, r.headers, data)
        finally:
            conn.close()

    def get(self, path, headers=None, timeout=10.0):
        return self.request("GET", path, headers=headers, timeout=timeout)

    def post(self, path, body, headers=None, timeout=10.0):
        return self.request("POST", path, body=body, headers=headers, timeout=timeout)

    def head(self, path, headers=None, timeout=10.0):
        return self.request("HEAD", path, headers=headers, timeout=timeout)

    def connect(self, timeout=10.0):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return s

    def raw(self, data, timeout=10.0):
        """Send raw bytes, read until the server closes; returns the raw response bytes."""
        with self.connect(timeout) as s:
            s.sendall(data)
            chunks = []
            while True:
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    break
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)


def strace_while(pids, options, out, action):
    """What strace (following threads, with `options`) saw of processes `pids` while action()
    ran; `out` is its output file, removed afterwards."""
    args = ["strace", "-f", "-qq"] + list(options) + ["-o", out]
    for p in pids:
        args += ["-p", str(p)]
    tracer = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached
    try:
        action()
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
    with open(out) as f:
        text = f.read()
    os.unlink(out)
    return text


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read().rsplit(")", 1)[1].split()[0]
        return st != "Z"
    except OSError:
        return False


def read_until_close(s, timeout=60):
    """Reads a raw response from socket s until the server closes it (or a timeout or reset);
    closes s and returns (head, body)."""
    s.settimeout(timeout)
    chunks = []
    while True:
        try:
            b = s.recv(1 << 20)
        except (socket.timeout, ConnectionResetError):
            break
        if not b:
            break
        chunks.append(b)
    s.close()
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return head, body


def parse_raw(raw):
    """Split a raw HTTP/1.x response into (status, headers list, body), de-chunking if needed."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = []
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        headers.append((k.decode("latin-1").strip(), v.decode("latin-1").strip()))
    if any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers):
        out = b""
        rest = body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out += rest[:size]
            rest = rest[size + 2:]
        body = out
    return status, headers, body


@pytest.fixture(scope="session")
def module_file():
    if not os.path.exists(MODULE):
        pytest.fail("module under test not found: %s (build it: swift build -c release --product mod_wsgi, "
                    "or set MOD_WSGI_BUILD / MOD_WSGI_MODULE)" % MODULE)
    return MODULE


def apache_factory_for(cls):
    """A per-test factory fixture: factory(directives, mpm=..., start=True) -> cls instance,
    every instance stopped at teardown. tests/daemon uses it with its own subclass."""

    @pytest.fixture
    def _factory(module_file):
        made = []

        def make(directives="", mpm="event", start=True, **kw):
            a = cls(directives, mpm=mpm, **kw)
            made.append(a)
            if start:
                a.start()
            return a

        yield make
        for a in made:
            a.cleanup()

    return _factory


apache_factory = apache_factory_for(Apache)


def module_apache(directives, mpm="event", prepare=None, **kw):
    """Build a module-scoped Apache fixture function for a test file.
    prepare(apache) runs after the temp dir is made and before Apache starts."""

    @pytest.fixture(scope="module")
    def _fixture(module_file):
        a = Apache(directives, mpm=mpm, **kw)
        try:
            if prepare:
                prepare(a)
                _chown_tree(a.dir)
                os.chmod(a.markers, 0o777)
            a.start()
            yield a
        finally:
            a.cleanup()

    return _fixture


def error_level_lines(text):
    """Lines of the error log logged at level error or worse (emerg, alert, crit, error)."""
    return [l for l in text.splitlines() if re.search(r"\[[a-z_0-9]*:(emerg|alert|crit|error)\]", l)]
