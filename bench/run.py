#!/usr/bin/env python3
"""Benchmarks: this project's mod_wsgi-express side by side with its peers.

    python3 bench/run.py            full run (3 rounds, every workload; ~10-20 minutes)
    python3 bench/run.py --quick    1 round, short runs, hello + Django (< 2 minutes)
    python3 bench/run.py --help     every option

Peers, on the same Apache, the same Python and the same processes x threads:
the real mod_wsgi-express (pip-installed into a venv this script creates), gunicorn
(sync and gthread) and Apache serving a static file (the ceiling).  Whatever our
implementation cannot do yet is detected by trying (with a bounded timeout), reported
as "not available yet: ..." and skipped; the peers are measured regardless.

Standard library only.  Everything it creates lives under --work-dir
(/var/tmp/mod_wsgi-bench by default, mode 0755 so that Apache's unprivileged user can
read the venv and the applications); the venv is created on first use and reused.
Results: a Markdown report on stdout and JSON in bench/results/<date>.json.
"""

import argparse
import atexit
import datetime
import http.client
import json
import os
import platform
import re
import pwd
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SYSTEM_PYTHON = "/usr/bin/python3"
DEFAULT_WORK = "/var/tmp/mod_wsgi-bench"
VENV_PACKAGES = ["mod_wsgi", "gunicorn", "django"]
HELLO = b"Hello, World!\n"          # 14 bytes
BIG_SIZE = 100 * 1024
POST_SIZE = 1024 * 1024
STATIC_THREADS = 32                  # static Apache: 2 processes x 32 threads
SOAK_FLAT_PCT = 5                    # "RSS flat over 100 000 requests": at most this growth

IS_ROOT = os.geteuid() == 0
RUN_USER = "www-data"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- workloads

class Workload:
    def __init__(self, name, desc, app, path, conns, static_path=None, method="GET",
                 body_size=0, expect=None, expect_len=None, quick=False):
        self.name, self.desc, self.app, self.path = name, desc, app, path
        self.conns, self.static_path, self.method = conns, static_path, method
        self.body_size, self.expect, self.expect_len, self.quick = body_size, expect, expect_len, quick


WORKLOADS = [
    Workload("hello", "hello world, 14-byte body", "generic", "/hello", 12,
             static_path="/hello.txt", expect=HELLO, quick=True),
    Workload("100k", "100 KB response", "generic", "/100k", 12,
             static_path="/100k.bin", expect_len=BIG_SIZE),
    Workload("post1m", "1 MB POST echoed back", "generic", "/echo", 12,
             method="POST", body_size=POST_SIZE, expect_len=POST_SIZE),
    Workload("django", "Django view (startproject + one view, DEBUG off)", "django", "/", 12,
             expect=HELLO, quick=True),
    Workload("sleep", "I/O-bound view, time.sleep(0.05)", "generic", "/sleep",
             64, expect=HELLO),
]
WORKLOAD_BY_NAME = {w.name: w for w in WORKLOADS}


# --------------------------------------------------------------------------- servers

class ServerDef:
    """One configuration of one implementation."""

    def __init__(self, name, impl, mode, shape, note=""):
        self.name, self.impl, self.mode, self.shape, self.note = name, impl, mode, shape, note

    def processes_threads(self):
        if self.impl == "static":
            return 2, STATIC_THREADS
        if self.shape == "2x8":
            return 2, 8
        # mod_wsgi-express defaults: one process (embedded: worker MPM, 1 x 5 threads;
        # daemon: 1 daemon process x 5 threads behind an event MPM front end).
        return 1, 5

    def front_workers(self):
        """Apache worker threads that can hold a client connection (None: not Apache)."""
        p, t = self.processes_threads()
        if self.impl == "static":
            return p * t
        if self.impl in ("ours", "mod_wsgi"):
            if self.mode == "embedded":
                return p * t
            if self.shape == "2x8":
                return DAEMON_2X8_MAX_CLIENTS
            return 10 + max(10, int(1.5 * p * t))   # mod_wsgi-express's default max-clients
        return None


# In daemon mode with 2 x 8 we size Apache's front end above every connection count we
# use (64), so the event MPM never has to cut keep-alive connections.
DAEMON_2X8_MAX_CLIENTS = 80

SERVERS = [
    ServerDef("ours embedded default", "ours", "embedded", "default"),
    ServerDef("mod_wsgi embedded default", "mod_wsgi", "embedded", "default"),
    ServerDef("ours embedded 2x8", "ours", "embedded", "2x8"),
    ServerDef("mod_wsgi embedded 2x8", "mod_wsgi", "embedded", "2x8"),
    ServerDef("ours daemon default", "ours", "daemon", "default"),
    ServerDef("mod_wsgi daemon default", "mod_wsgi", "daemon", "default"),
    ServerDef("ours daemon 2x8", "ours", "daemon", "2x8"),
    ServerDef("mod_wsgi daemon 2x8", "mod_wsgi", "daemon", "2x8"),
    ServerDef("gunicorn sync -w16", "gunicorn", "sync", "2x8",
              note="sync workers: 16 processes = 2x8 concurrency; no keep-alive"),
    ServerDef("gunicorn gthread 2x8", "gunicorn", "gthread", "2x8"),
    ServerDef("apache static file", "static", "static", "2x32",
              note="event MPM, 2 x 32 threads; the ceiling"),
]
SERVER_BY_NAME = {s.name: s for s in SERVERS}

# (A, B, target for rps A/B, label).  A target of None: reported for reference only.
PAIRS = [
    ("ours embedded default", "mod_wsgi embedded default", 1.2),
    ("ours embedded 2x8", "mod_wsgi embedded 2x8", 1.2),
    ("ours daemon default", "mod_wsgi daemon default", 1.5),
    ("ours daemon 2x8", "mod_wsgi daemon 2x8", 1.5),
    ("ours daemon 2x8", "gunicorn gthread 2x8", 1.2),
    ("mod_wsgi daemon 2x8", "gunicorn gthread 2x8", None),
    ("mod_wsgi embedded 2x8", "apache static file", None),
]


def pair_target(a, b, target, workload):
    if target is None:
        return None
    if workload == "django" and a.startswith("ours daemon") and b.startswith("mod_wsgi daemon"):
        return 1.2          # "Django through our daemon >= 1.2x mod_wsgi's"
    return target


# --------------------------------------------------------------------------- process helpers

RUNNING = {}        # pgid -> Running
_cleanup_done = False


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_proc_table():
    """pid -> (ppid, pgrp, comm)"""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                data = f.read()
        except OSError:
            continue
        rpar = data.rfind(")")
        comm = data[data.find("(") + 1:rpar]
        fields = data[rpar + 2:].split()
        table[int(entry)] = (int(fields[1]), int(fields[2]), comm)
    return table


def process_tree(root):
    table = read_proc_table()
    if root not in table:
        return []
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def group_members(pgid):
    return [pid for pid, (_, pgrp, _) in read_proc_table().items() if pgrp == pgid]


def proc_memory(pid):
    rss = pss = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    except OSError:
        return None
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = ""
    return {"pid": pid, "rss_kb": rss or 0, "pss_kb": pss or 0, "cmd": cmd[:120]}


def tree_memory(root):
    procs = [m for m in (proc_memory(p) for p in process_tree(root)) if m]
    return {
        "rss_kb": sum(p["rss_kb"] for p in procs),
        "pss_kb": sum(p["pss_kb"] for p in procs),
        "processes": procs,
    }


class Running:
    def __init__(self, name, popen, port, log_path, server_root, run_dir):
        self.name, self.popen, self.port = name, popen, port
        self.log_path, self.server_root, self.run_dir = log_path, server_root, run_dir
        self.pgid = popen.pid
        self.marker = os.path.join(run_dir, "%d.pgid" % self.pgid)
        with open(self.marker, "w") as f:
            f.write(name)
        RUNNING[self.pgid] = self

    def alive(self):
        return self.popen.poll() is None

    def stop(self):
        pids = set(process_tree(self.popen.pid)) | set(group_members(self.pgid))
        try:
            os.killpg(self.pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            left = [p for p in pids if os.path.exists("/proc/%d" % p) and not _is_zombie(p)]
            left += group_members(self.pgid)
            if not left:
                break
            time.sleep(0.05)
        else:
            for p in set(left):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        RUNNING.pop(self.pgid, None)
        try:
            os.unlink(self.marker)
        except OSError:
            pass

    def log_tail(self, n=3):
        """The most telling lines of the launcher's output and Apache's error_log."""
        lines = []
        for path in (self.log_path, os.path.join(self.server_root or "", "error_log")):
            try:
                with open(path, errors="replace") as f:
                    lines += [l.strip() for l in f.readlines()[-50:]
                              if l.strip() and not l.startswith("$ ")]
            except OSError:
                pass
        # "[date] [module:level] [pid n:tid n] [client ...] message" -> "message"
        lines = [re.sub(r"^(\[[^\]]*\] )+", "", l) for l in lines
                 if not re.match(r"^[A-Z][\w ./-]*?\s+: ", l)]      # not the start-up banner
        bad = [l for l in lines if re.search(r"error|fail|exit signal|not |cannot|unable", l, re.I)]
        out, seen = [], set()
        for l in (bad or lines)[::-1]:
            key = re.sub(r"\d+", "N", l)            # the same message from another pid
            if key not in seen:
                seen.add(key)
                out.append(l)
            if len(out) == n:
                break
        return out[::-1]


def _is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        return data[data.rfind(")") + 2] == "Z"
    except OSError:
        return False


def stop_all():
    global _cleanup_done
    for r in list(RUNNING.values()):
        try:
            r.stop()
        except Exception as e:     # never leave the others running
            log("warning: stopping %s: %s" % (r.name, e))
    _cleanup_done = True


def kill_stale(run_dir, work):
    """Stop servers a previous, interrupted run of this harness left behind."""
    if not os.path.isdir(run_dir):
        return
    for entry in os.listdir(run_dir):
        if not entry.endswith(".pgid"):
            continue
        pgid = int(entry.split(".")[0])
        for pid in group_members(pgid):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmd = f.read().decode(errors="replace")
            except OSError:
                continue
            if work in cmd:
                log("stopping a server left over from an earlier run (process group %d)" % pgid)
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:
                    pass
                break
        os.unlink(os.path.join(run_dir, entry))


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------- HTTP helpers

def http_request(port, path, method="GET", body=None, timeout=5.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Host": "127.0.0.1:%d" % port}
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_for_200(running, path, timeout):
    """Poll until GET path answers 200.  Returns seconds waited, or raises RuntimeError."""
    t0 = time.perf_counter()
    deadline = t0 + timeout
    last = "no answer"
    first_error_status = None
    while time.perf_counter() < deadline:
        if not running.alive():
            raise RuntimeError("exited with status %s before serving" % running.popen.returncode)
        try:
            status, _ = http_request(running.port, path, timeout=2)
            if status == 200:
                return time.perf_counter() - t0
            last = "HTTP %d" % status
            # Apache is up but the application keeps failing: give it 3 s, not the whole timeout.
            first_error_status = first_error_status or time.perf_counter()
            if time.perf_counter() - first_error_status > 3:
                raise RuntimeError("answers %s, not 200" % last)
        except (OSError, http.client.HTTPException) as e:
            last = type(e).__name__
        time.sleep(0.005)
    raise RuntimeError("no 200 within %.0f s (last: %s)" % (timeout, last))


def smoke_check(port, wl, path):
    body = b"x" * wl.body_size if wl.method == "POST" else None
    status, data = http_request(port, path, wl.method, body, timeout=15)
    if status != 200:
        raise RuntimeError("%s %s answered HTTP %d: %r" % (wl.method, path, status, data[:120]))
    if wl.expect is not None and data != wl.expect:
        raise RuntimeError("%s %s: unexpected body %r" % (wl.method, path, data[:60]))
    if wl.expect_len is not None and len(data) != wl.expect_len:
        raise RuntimeError("%s %s: body of %d bytes, expected %d" % (wl.method, path, len(data), wl.expect_len))
    if body is not None and data != body:
        raise RuntimeError("POST %s: echoed body differs" % path)


# --------------------------------------------------------------------------- the harness

class Bench:
    def __init__(self, args):
        self.args = args
        self.work = os.path.abspath(args.work_dir)
        self.venv = os.path.join(self.work, "venv")
        self.apps = os.path.join(self.work, "apps")
        self.roots = os.path.join(self.work, "roots")
        self.logs = os.path.join(self.work, "logs")
        self.run_dir = os.path.join(self.work, "run")
        self.wrk_dir = os.path.join(self.work, "wrk")
        self.static = os.path.join(self.work, "static")
        self.ours = os.path.abspath(args.ours) if args.ours else os.path.join(REPO, ".build", "release", "mod_wsgi-express")
        self.unavailable = {}       # server name -> reason (ours only)
        self.failed = {}            # (server, workload) -> reason
        self.runs = []
        self.meta = {}
        self.env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")
        self.env.pop("PYTHONPATH", None)
        self.env.pop("PYTHONHOME", None)
        self.servers = [s for s in SERVERS if not args.servers or any(f in s.name for f in args.servers)]
        self.workloads = [WORKLOAD_BY_NAME[n] for n in args.workloads]
        self.setup_results = {"ours": [], "mod_wsgi": [], "errors": {}}
        self.startup_results = {}
        self.soak_results = []
        self.elapsed = 0.0
        self.interrupted = False

    # ------------------------------------------------------------------ setup

    def setup(self):
        os.umask(0o022)
        for d in (self.work, self.apps, self.roots, self.logs, self.run_dir, self.wrk_dir, self.static):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        kill_stale(self.run_dir, self.work)
        self.ensure_tools()
        self.ensure_venv()
        self.write_apps()
        self.write_wrk_scripts()
        self.write_static()
        self.build_ours()

    def ensure_tools(self):
        need = []
        if not shutil.which("wrk"):
            need.append("wrk")
        if not shutil.which("hyperfine"):
            need.append("hyperfine")
        if not os.path.exists("/usr/sbin/apache2"):
            need.append("apache2")
        if not shutil.which("apxs"):
            need.append("apache2-dev")
        if not os.path.exists("/usr/bin/python3-config"):
            need.append("python3-dev")
        if subprocess.run([SYSTEM_PYTHON, "-c", "import venv, ensurepip"],
                          capture_output=True).returncode != 0:
            need.append("python3-venv")
        if not shutil.which("gcc"):
            need.append("gcc")
        if not need:
            return
        if not IS_ROOT:
            sys.exit("bench: missing Debian packages: %s; run: sudo apt-get install %s"
                     % (" ".join(need), " ".join(need)))
        log("installing %s ..." % " ".join(need))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq"] + need, env=env, check=True,
                       timeout=1200, stdout=subprocess.DEVNULL)

    def vpy(self):
        return os.path.join(self.venv, "bin", "python")

    def ensure_venv(self):
        stamp = os.path.join(self.venv, ".bench-ready")
        if os.path.exists(stamp) and not self.args.upgrade:
            return
        t0 = time.monotonic()
        if not os.path.exists(self.vpy()):
            log("creating %s with %s ..." % (self.venv, SYSTEM_PYTHON))
            subprocess.run([SYSTEM_PYTHON, "-m", "venv", self.venv], check=True, timeout=300)
        log("pip install %s (mod_wsgi compiles against this Apache; a minute or so) ..."
            % " ".join(VENV_PACKAGES))
        cmd = [self.vpy(), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        if self.args.upgrade:
            cmd.append("--upgrade")
        p = subprocess.run(cmd + VENV_PACKAGES, timeout=1800, capture_output=True, text=True,
                           env=dict(self.env, APXS="/usr/bin/apxs"))
        if p.returncode != 0:
            sys.exit("bench: pip install failed:\n%s" % (p.stdout + p.stderr)[-3000:])
        subprocess.run(["chmod", "-R", "a+rX", self.venv], check=True)
        with open(stamp, "w") as f:
            f.write(subprocess.run([self.vpy(), "-m", "pip", "freeze"], capture_output=True,
                                   text=True).stdout)
        log("venv ready in %.0f s" % (time.monotonic() - t0))

    def write_file(self, path, data, mode=0o644):
        if isinstance(data, str):
            data = data.encode()
        try:
            with open(path, "rb") as f:
                if f.read() == data:
                    return
        except OSError:
            pass
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)

    def write_apps(self):
        generic = os.path.join(self.apps, "generic")
        os.makedirs(generic, exist_ok=True)
        self.write_file(os.path.join(generic, "app.py"), GENERIC_APP % {"big": BIG_SIZE})
        self.generic_script = os.path.join(generic, "app.py")

        django_dir = os.path.join(self.apps, "django")
        project = os.path.join(django_dir, "benchsite")
        if not os.path.exists(os.path.join(project, "settings.py")):
            os.makedirs(django_dir, exist_ok=True)
            subprocess.run([os.path.join(self.venv, "bin", "django-admin"), "startproject",
                            "benchsite", django_dir], check=True, timeout=120)
        settings_path = os.path.join(project, "settings.py")
        with open(settings_path) as f:
            settings = f.read()
        patched = settings.replace("DEBUG = True", "DEBUG = False").replace(
            "ALLOWED_HOSTS = []", "ALLOWED_HOSTS = ['127.0.0.1', 'localhost']")
        self.write_file(settings_path, patched)
        self.write_file(os.path.join(project, "views.py"), DJANGO_VIEW)
        self.write_file(os.path.join(project, "urls.py"), DJANGO_URLS)
        subprocess.run(["chmod", "-R", "a+rX", self.apps], check=True)
        self.django_dir = django_dir
        self.django_script = os.path.join(project, "wsgi.py")

    def write_wrk_scripts(self):
        self.wrk_scripts = {}
        for wl in WORKLOADS:
            lua = "-- generated by bench/run.py\n"
            if wl.method == "POST":
                lua += ('wrk.method = "POST"\nwrk.body = string.rep("x", %d)\n'
                        'wrk.headers["Content-Type"] = "application/octet-stream"\n' % wl.body_size)
            lua += WRK_DONE
            path = os.path.join(self.wrk_dir, wl.name + ".lua")
            self.write_file(path, lua)
            self.wrk_scripts[wl.name] = path

    def write_static(self):
        htdocs = os.path.join(self.static, "htdocs")
        os.makedirs(htdocs, exist_ok=True)
        self.write_file(os.path.join(htdocs, "hello.txt"), HELLO)
        self.write_file(os.path.join(htdocs, "100k.bin"), b"x" * BIG_SIZE)

    def build_ours(self):
        if self.args.ours or self.args.no_build:
            return
        swift = shutil.which("swift")
        if not swift:
            log("swift not found; measuring whatever %s is" % self.ours)
            return
        log("swift build -c release (use --no-build to skip) ...")
        t0 = time.monotonic()
        try:
            p = subprocess.run([swift, "build", "-c", "release"], cwd=REPO, capture_output=True,
                               text=True, timeout=self.args.build_timeout)
        except subprocess.TimeoutExpired:
            self.build_error = "swift build -c release took over %d s" % self.args.build_timeout
            log("  " + self.build_error)
            return
        if p.returncode != 0:
            tail = []
            for l in (p.stdout + p.stderr).splitlines():
                if "error" in l and l.strip() not in tail and len(tail) < 3:
                    tail.append(l.strip())
            self.build_error = "swift build -c release failed: %s" % (" | ".join(tail) or "exit %d" % p.returncode)
            log("  " + self.build_error)
        else:
            log("  built in %.0f s" % (time.monotonic() - t0))

    # ------------------------------------------------------------------ versions

    def collect_meta(self):
        def out(cmd, timeout=10):
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env)
                return (p.stdout or p.stderr).strip()
            except (OSError, subprocess.TimeoutExpired) as e:
                return "unavailable (%s)" % e

        def pkg(name):
            return out([self.vpy(), "-c", "import importlib.metadata as m; print(m.version(%r))" % name])

        cpu = ""
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        mem = ""
        try:
            with open("/proc/meminfo") as f:
                mem = "%.1f GiB" % (int(f.readline().split()[1]) / 1024 / 1024)
        except OSError:
            pass
        git = lambda *a: out(["git", "-C", REPO] + list(a))
        ours_version = "not built"
        if os.access(self.ours, os.X_OK):
            ours_version = out([self.ours, "--version"], timeout=5).splitlines()[:1]
            ours_version = ours_version[0] if ours_version else ""
        self.meta = {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "loadavg_at_start": os.getloadavg(),
            "host": socket.gethostname(),
            "cpu": cpu,
            "cores": os.cpu_count(),
            "cores_usable": len(os.sched_getaffinity(0)),
            "memory": mem,
            "kernel": platform.release(),
            "os": out(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
            "apache": out(["/usr/sbin/apache2", "-v"]).splitlines()[0],
            "python": out([self.vpy(), "-c", "import sys; print(sys.version.split()[0], sys.executable)"]),
            "mod_wsgi": pkg("mod_wsgi"),
            "gunicorn": pkg("gunicorn"),
            "django": pkg("django"),
            "wrk": out(["wrk", "-v"]).splitlines()[0].split(" [")[0] if shutil.which("wrk") else "missing",
            "hyperfine": out(["hyperfine", "--version"]).replace("hyperfine ", "") if shutil.which("hyperfine") else "missing",
            "ours": {
                "path": self.ours,
                "git_commit": git("rev-parse", "HEAD"),
                "git_describe": git("describe", "--always", "--dirty"),
                "version": ours_version,
                "build_error": getattr(self, "build_error", None),
            },
        }

    # ------------------------------------------------------------------ servers

    def user_flags(self):
        return ["--user", RUN_USER, "--group", RUN_USER] if IS_ROOT else []

    def express_exe(self, impl):
        return self.ours if impl == "ours" else os.path.join(self.venv, "bin", "mod_wsgi-express")

    def express_args(self, sd, app, port, root, subcommand="start-server"):
        script = self.django_script if app == "django" else self.generic_script
        cmd = [self.express_exe(sd.impl), subcommand, script, "--host", "127.0.0.1",
               "--port", str(port), "--server-root", root] + self.user_flags()
        if app == "django":
            cmd += ["--python-path", self.django_dir]
        if sd.mode == "embedded":
            cmd.append("--embedded-mode")
        if sd.shape == "2x8":
            cmd += ["--processes", "2", "--threads", "8"]
            if sd.mode == "daemon":
                cmd += ["--max-clients", str(DAEMON_2X8_MAX_CLIENTS)]
        if sd.impl == "ours":
            cmd += ["--python-home", self.venv]
        return cmd

    def server_command(self, sd, app, port):
        """-> (argv, cwd, env, server_root)"""
        env = dict(self.env)
        slug = sd.name.replace(" ", "-").replace("_", "-")
        root = os.path.join(self.roots, "%s-%s" % (slug, app))
        if sd.impl in ("ours", "mod_wsgi"):
            if sd.impl == "ours":
                env["VIRTUAL_ENV"] = self.venv
            cwd = self.django_dir if app == "django" else os.path.dirname(self.generic_script)
            return self.express_args(sd, app, port, root), cwd, env, root
        if sd.impl == "gunicorn":
            gun = os.path.join(self.venv, "bin", "gunicorn")
            if app == "django":
                chdir, target = self.django_dir, "benchsite.wsgi:application"
            else:
                chdir, target = os.path.dirname(self.generic_script), "app:application"
            if sd.mode == "sync":
                workers = ["-k", "sync", "-w", "16"]
            else:
                workers = ["-k", "gthread", "-w", "2", "--threads", "8"]
            cmd = [gun, "-b", "127.0.0.1:%d" % port, "--chdir", chdir, "--log-level", "warning",
                   "--backlog", "2048"] + workers + [target]
            return cmd, chdir, env, None
        if sd.impl == "static":
            os.makedirs(root, exist_ok=True)
            conf = os.path.join(root, "httpd.conf")
            self.write_file(conf, STATIC_CONF % {
                "root": root, "port": port, "htdocs": os.path.join(self.static, "htdocs"),
                "threads": STATIC_THREADS, "workers": 2 * STATIC_THREADS,
                "user": RUN_USER if IS_ROOT else pwd.getpwuid(os.getuid()).pw_name,
                "group": RUN_USER if IS_ROOT else "#%d" % os.getgid(),
            })
            return ["/usr/sbin/apache2", "-f", conf, "-DFOREGROUND"], root, env, root
        raise ValueError(sd.impl)

    def start(self, sd, app, ready_path, timeout=None):
        """Start sd serving app; returns (Running, seconds to first 200) or raises RuntimeError."""
        port = free_port()
        cmd, cwd, env, root = self.server_command(sd, app, port)
        log_path = os.path.join(self.logs, "%s-%s.log" % (sd.name.replace(" ", "-"), app))
        if sd.impl == "ours" and not os.access(self.ours, os.X_OK):
            raise RuntimeError("%s not found (build it: swift build -c release)"
                               % os.path.relpath(self.ours, REPO))
        t0 = time.perf_counter()
        with open(log_path, "w") as logf:
            logf.write("$ %s\n" % " ".join(shlex.quote(c) for c in cmd))
            logf.flush()
            popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        running = Running(sd.name, popen, port, log_path, root, self.run_dir)
        try:
            wait_for_200(running, ready_path, timeout or self.args.start_timeout)
        except RuntimeError as e:
            tail = running.log_tail(2)
            running.stop()
            raise RuntimeError("%s%s" % (e, (": " + " | ".join(tail)[:400]) if tail else ""))
        return running, time.perf_counter() - t0

    # ------------------------------------------------------------------ wrk

    def wrk(self, port, wl, path, duration, conns=None):
        conns = conns or wl.conns
        url = "http://127.0.0.1:%d%s" % (port, path)
        cmd = ["wrk", "-t", str(min(2, conns)), "-c", str(conns), "-d", "%ds" % duration,
               "--timeout", "10s", "--latency", "-s", self.wrk_scripts[wl.name], url]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30)
        for line in p.stdout.splitlines():
            if line.startswith("BENCHJSON "):
                r = json.loads(line[len("BENCHJSON "):])
                secs = r["duration_us"] / 1e6
                errors = {k: int(r[k]) for k in ("connect", "read", "write", "timeout", "status")}
                return {
                    "requests": int(r["requests"]),
                    "rps": r["requests"] / secs if secs else 0.0,
                    "p50_ms": r["p50_us"] / 1000, "p90_ms": r["p90_us"] / 1000,
                    "p99_ms": r["p99_us"] / 1000, "max_ms": r["max_us"] / 1000,
                    "mb_per_s": r["bytes"] / secs / 1e6 if secs else 0.0,
                    "errors": sum(errors.values()), "error_detail": errors,
                    "connections": conns, "duration_s": secs,
                }
        raise RuntimeError("wrk gave no result: %s" % (p.stdout + p.stderr)[-300:])

    # ------------------------------------------------------------------ one measurement

    def warm_up(self, port, wl, path):
        """1 s wrk slices until two in a row agree within 10% (lazy imports in every worker,
        e.g. Django in 16 gunicorn sync workers, take seconds of CPU), at most --warmup s."""
        rates = []
        for _ in range(self.args.warmup):
            rates.append(self.wrk(port, wl, path, 1)["rps"])
            if len(rates) >= 2 and abs(rates[-1] - rates[-2]) <= 0.1 * max(rates[-1], rates[-2]):
                break
        return [round(r) for r in rates]

    def measure(self, sd, wl, rnd):
        key = (sd.name, wl.name)
        if sd.name in self.unavailable or key in self.failed:
            return
        app = "static" if sd.impl == "static" else wl.app
        path = wl.static_path if sd.impl == "static" else wl.path
        ready = path if wl.method == "GET" else ("/hello" if app == "generic" else "/")
        rec = {"round": rnd, "server": sd.name, "workload": wl.name, "ok": False}
        running = None
        try:
            try:
                running, startup = self.start(sd, app, ready)
                rec["startup_s"] = startup
                smoke_check(running.port, wl, path)
            except (RuntimeError, OSError, http.client.HTTPException) as e:
                reason = str(e) or type(e).__name__
                if sd.impl == "ours":
                    reason = "not available yet: " + reason
                    if wl.name == "hello" or app == "generic" and wl.name == "hello":
                        pass
                self.failed[key] = reason
                rec["error"] = reason
                log("  %-28s %-7s %s" % (sd.name, wl.name, reason[:160]))
                self.runs.append(rec)
                return
            rec["warmup"] = self.warm_up(running.port, wl, path)
            res = self.wrk(running.port, wl, path, self.args.duration)
            mem = tree_memory(running.popen.pid)
            rec.update(res)
            rec.update({"ok": True, "rss_kb": mem["rss_kb"], "pss_kb": mem["pss_kb"],
                        "processes": mem["processes"]})
            log("  %-28s %-7s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  err %d  RSS %.1f MB"
                % (sd.name, wl.name, res["rps"], res["p50_ms"], res["p99_ms"], res["errors"],
                   mem["rss_kb"] / 1024))
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            rec["error"] = str(e)
            log("  %-28s %-7s failed: %s" % (sd.name, wl.name, str(e)[:160]))
        finally:
            if running:
                running.stop()
        self.runs.append(rec)

    def probe_ours(self):
        """Try each of our modes once with a bounded timeout; remember what is missing."""
        if not os.access(self.ours, os.X_OK):
            reason = "not available yet: %s not built" % os.path.relpath(self.ours, REPO)
            if getattr(self, "build_error", None):
                reason += " (%s)" % self.build_error
            for sd in SERVERS:
                if sd.impl == "ours":
                    self.unavailable[sd.name] = reason
            return
        for sd in self.servers:
            if sd.impl != "ours":
                continue
            try:
                running, _ = self.start(sd, "generic", "/hello", timeout=self.args.probe_timeout)
                running.stop()
            except (RuntimeError, OSError) as e:
                self.unavailable[sd.name] = "not available yet: %s" % e
                log("  %-28s not available yet: %s" % (sd.name, str(e)[:200]))

    # ------------------------------------------------------------------ setup-server & start-up

    def time_setup_server(self, impl, rnd):
        sd = ServerDef(impl, impl, "daemon", "default")
        port = free_port()
        root = os.path.join(self.roots, "setup-server-%s" % impl)
        cmd = self.express_args(sd, "generic", port, root, subcommand="setup-server")
        env = dict(self.env)
        if impl == "ours":
            env["VIRTUAL_ENV"] = self.venv
            if not os.access(self.ours, os.X_OK):
                raise RuntimeError("%s not built" % os.path.relpath(self.ours, REPO))
        # One checked run first: it must succeed and produce an apachectl.
        shutil.rmtree(root, ignore_errors=True)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)
        if p.returncode != 0 or not os.path.exists(os.path.join(root, "apachectl")):
            raise RuntimeError("setup-server exit %d, apachectl %s: %s" % (
                p.returncode, "written" if os.path.exists(os.path.join(root, "apachectl")) else "missing",
                (p.stderr or p.stdout).strip()[-200:]))
        runs = self.args.setup_runs
        if shutil.which("hyperfine"):
            out = os.path.join(self.work, "hyperfine-%s.json" % impl)
            hf = ["hyperfine", "-N", "--style", "none", "--warmup", "2", "--runs", str(runs),
                  "--export-json", out, " ".join(shlex.quote(c) for c in cmd)]
            subprocess.run(hf, capture_output=True, text=True, timeout=120, env=env, check=True)
            with open(out) as f:
                r = json.load(f)["results"][0]
            return {"median_ms": r["median"] * 1000, "mean_ms": r["mean"] * 1000,
                    "min_ms": r["min"] * 1000, "runs": runs, "tool": "hyperfine -N"}
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, timeout=30, env=env, check=True)
            times.append(time.perf_counter() - t0)
        return {"median_ms": statistics.median(times) * 1000, "mean_ms": statistics.mean(times) * 1000,
                "min_ms": min(times) * 1000, "runs": runs, "tool": "subprocess loop"}

    # ------------------------------------------------------------------ soak

    def soak(self, sd):
        """RSS over >= 100 000 requests of hello world."""
        wl = WORKLOAD_BY_NAME["hello"]
        if sd.name in self.unavailable or (sd.name, "hello") in self.failed:
            return {"server": sd.name, "error": self.unavailable.get(sd.name) or self.failed[(sd.name, "hello")]}
        running = None
        try:
            running, _ = self.start(sd, "generic", "/hello")
            total, samples, t_end = 0, [], time.monotonic() + self.args.soak_max_seconds
            while total < self.args.soak_requests and time.monotonic() < t_end:
                r = self.wrk(running.port, wl, "/hello", self.args.soak_slice)
                total += r["requests"]
                samples.append({"requests": total, "rss_kb": tree_memory(running.popen.pid)["rss_kb"]})
            first, last = samples[0]["rss_kb"], samples[-1]["rss_kb"]
            res = {"server": sd.name, "requests": total, "samples": samples,
                   "rss_first_kb": first, "rss_last_kb": last,
                   "growth_pct": (last - first) * 100.0 / first if first else None}
            log("  soak %-28s %d requests, RSS %.1f -> %.1f MB (%+.1f%%)" % (
                sd.name, total, first / 1024, last / 1024, res["growth_pct"] or 0))
            return res
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            return {"server": sd.name, "error": str(e)}
        finally:
            if running:
                running.stop()

    # ------------------------------------------------------------------ main loop

    def run(self):
        a = self.args
        t_start = self.t_start = time.monotonic()

        log("probing our implementation (%s) ..." % os.path.relpath(self.ours, REPO))
        self.probe_ours()

        # setup-server wall time, A B A B
        log("setup-server wall time ...")
        for rnd in range(a.rounds):
            for impl in ("ours", "mod_wsgi"):
                if impl in self.setup_results["errors"]:
                    continue
                try:
                    self.setup_results[impl].append(self.time_setup_server(impl, rnd))
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    reason = str(e)
                    if impl == "ours":
                        reason = "not available yet: " + reason
                    self.setup_results["errors"][impl] = reason
                    log("  %-10s %s" % (impl, reason[:200]))

        # start-server -> first 200, A B A B, default (daemon) and embedded modes
        log("start-server -> first 200 ...")
        startup_defs = [SERVER_BY_NAME[n] for n in ("ours daemon default", "mod_wsgi daemon default",
                                                     "ours embedded default", "mod_wsgi embedded default")]
        for rnd in range(max(a.rounds, a.startup_runs)):
            for sd in startup_defs:
                res = self.startup_results.setdefault(sd.name, {"times_ms": [], "error": None})
                if res["error"]:
                    continue
                if sd.name in self.unavailable:
                    res["error"] = self.unavailable[sd.name]
                    continue
                try:
                    running, secs = self.start(sd, "generic", "/hello")
                    running.stop()
                    res["times_ms"].append(secs * 1000)
                except RuntimeError as e:
                    res["error"] = ("not available yet: " if sd.impl == "ours" else "") + str(e)

        # throughput, A B A B
        for rnd in range(a.rounds):
            log("round %d/%d ..." % (rnd + 1, a.rounds))
            for wl in self.workloads:
                for sd in self.servers:
                    if sd.impl == "static" and not wl.static_path:
                        continue
                    self.measure(sd, wl, rnd)

        if a.soak:
            log("RSS over %d requests ..." % a.soak_requests)
            for name in ("ours daemon 2x8", "mod_wsgi daemon 2x8", "ours embedded 2x8", "mod_wsgi embedded 2x8"):
                if any(s.name == name for s in self.servers):
                    self.soak_results.append(self.soak(SERVER_BY_NAME[name]))
        self.elapsed = time.monotonic() - t_start
        self.meta["loadavg_at_end"] = os.getloadavg()

    # ------------------------------------------------------------------ report

    def summarize(self):
        summary = {}
        for wl in self.workloads:
            for sd in self.servers:
                if sd.impl == "static" and not wl.static_path:
                    continue
                rs = [r for r in self.runs if r["server"] == sd.name and r["workload"] == wl.name and r["ok"]]
                entry = {"rounds": len(rs)}
                if rs:
                    for k in ("rps", "p50_ms", "p99_ms", "rss_kb", "pss_kb", "mb_per_s"):
                        entry[k] = statistics.median(r[k] for r in rs)
                    entry["errors"] = sum(r["errors"] for r in rs)
                    entry["requests"] = sum(r["requests"] for r in rs)
                else:
                    entry["error"] = self.unavailable.get(sd.name) or self.failed.get((sd.name, wl.name)) or next(
                        (r.get("error") for r in self.runs if r["server"] == sd.name and r["workload"] == wl.name
                         and r.get("error")), "not run")
                fw = sd.front_workers()
                if fw is not None and fw <= wl.conns:
                    entry["note"] = "workers %d <= %d connections" % (fw, wl.conns)
                summary["%s|%s" % (wl.name, sd.name)] = entry
        self.summary = summary

        ratios = []
        for wl in self.workloads:
            for a_name, b_name, target in PAIRS:
                if not any(s.name == a_name for s in self.servers) or not any(s.name == b_name for s in self.servers):
                    continue
                b_def = SERVER_BY_NAME[b_name]
                if b_def.impl == "static" and not wl.static_path:
                    continue
                tgt = pair_target(a_name, b_name, target, wl.name)
                per_round = []
                for rnd in range(self.args.rounds):
                    ra = next((r for r in self.runs if r["round"] == rnd and r["server"] == a_name
                               and r["workload"] == wl.name and r["ok"]), None)
                    rb = next((r for r in self.runs if r["round"] == rnd and r["server"] == b_name
                               and r["workload"] == wl.name and r["ok"]), None)
                    if ra and rb and rb["rps"]:
                        per_round.append({"rps": ra["rps"] / rb["rps"],
                                          "rss": ra["rss_kb"] / rb["rss_kb"] if rb["rss_kb"] else None})
                sa = summary.get("%s|%s" % (wl.name, a_name), {})
                sb = summary.get("%s|%s" % (wl.name, b_name), {})
                entry = {"workload": wl.name, "a": a_name, "b": b_name, "target": tgt,
                         "a_rps": sa.get("rps"), "b_rps": sb.get("rps"),
                         "per_round": [p["rps"] for p in per_round]}
                if per_round:
                    entry["ratio"] = statistics.median(p["rps"] for p in per_round)
                    rss = [p["rss"] for p in per_round if p["rss"]]
                    entry["rss_ratio"] = statistics.median(rss) if rss else None
                else:
                    entry["missing"] = sa.get("error") or sb.get("error") or "no successful rounds"
                ratios.append(entry)
        self.ratios = ratios

    def report(self):
        m = self.meta
        a = self.args
        L = []
        L.append("# mod_wsgi-express benchmarks, %s" % m["date"])
        L.append("")
        L.append("- machine: %s, %s cores (%s usable), %s RAM, %s, kernel %s" % (
            m["cpu"], m["cores"], m["cores_usable"], m["memory"], m["os"], m["kernel"]))
        L.append("- %s; Python %s" % (m["apache"], m["python"]))
        L.append("- mod_wsgi %s, gunicorn %s, Django %s; %s; hyperfine %s" % (
            m["mod_wsgi"], m["gunicorn"], m["django"], m["wrk"], m["hyperfine"]))
        o = m["ours"]
        L.append("- ours: %s (git %s%s)" % (os.path.relpath(o["path"], REPO), o["git_describe"],
                                          ", %s" % o["version"] if o["version"] and o["version"] != "not built" else ""))
        if o.get("build_error"):
            L.append("- **warning: %s**; %s" % (o["build_error"], "measured the binary already there (it may be stale)"
                                               if os.access(o["path"], os.X_OK) else "ours not measured"))
        L.append("- method: %d round(s), servers alternated A B A B within each round; one fresh "
                 "server per run, warmed up with 1 s wrk slices until two agree within 10%% (at most "
                 "%d), then wrk -t2 for %d s; medians; ratios are the median of per-round A/B ratios. "
                 "wrk shares the %s cores with the server." % (a.rounds, a.warmup, a.duration, m["cores"]))
        busy = max(m["loadavg_at_start"][0], m.get("loadavg_at_end", (0,))[0])
        if busy > 0.5 * (m["cores"] or 1):
            L.append("- **warning: other work was running** (load average %.1f at start, %.1f at end, "
                     "on %s cores): absolute figures are noisy; the alternated ratios less so."
                     % (m["loadavg_at_start"][0], m.get("loadavg_at_end", (0,))[0], m["cores"]))
        L.append("- RSS: sum over the server's whole process tree (Apache parent, workers, daemon "
                 "processes / gunicorn master and workers) from /proc, right after the run.")
        L.append("")

        for wl in self.workloads:
            L.append("## %s: %s (%d connections)" % (wl.name, wl.desc, wl.conns))
            L.append("")
            L.append("| server | req/s | p50 ms | p99 ms | errors | RSS MB | note |")
            L.append("|---|---:|---:|---:|---:|---:|---|")
            for sd in self.servers:
                e = self.summary.get("%s|%s" % (wl.name, sd.name))
                if e is None:
                    continue
                note = "; ".join(x for x in (e.get("note"), sd.note) if x)
                if "rps" in e:
                    L.append("| %s | %.0f | %.2f | %.2f | %d | %.1f | %s |" % (
                        sd.name, e["rps"], e["p50_ms"], e["p99_ms"], e["errors"], e["rss_kb"] / 1024, note))
                else:
                    L.append("| %s | – | – | – | – | – | %s |" % (sd.name, _cell(e["error"])))
            L.append("")

        L.append("## Ratios (requests/s A/B; RSS A/B)")
        L.append("")
        L.append("| workload | A | B | A req/s | B req/s | A/B | target | RSS A/B |")
        L.append("|---|---|---|---:|---:|---:|---|---:|")
        for r in self.ratios:
            tgt = "≥ %.1f× %s" % (r["target"], _verdict(r.get("ratio"), r["target"])) if r["target"] else "(reference)"
            if "ratio" in r:
                L.append("| %s | %s | %s | %.0f | %.0f | %.2f | %s | %s |" % (
                    r["workload"], r["a"], r["b"], r["a_rps"], r["b_rps"], r["ratio"], tgt,
                    "%.2f" % r["rss_ratio"] if r.get("rss_ratio") else "–"))
            else:
                L.append("| %s | %s | %s | %s | %s | – | %s | – |" % (
                    r["workload"], r["a"], r["b"], _fmt(r["a_rps"]), _fmt(r["b_rps"]),
                    tgt.split(" (")[0] + " — " + _cell(r["missing"])))
        L.append("")
        L.append("Daemon RSS target: ours ≤ mod_wsgi's (RSS A/B ≤ 1.00 on the daemon rows).")
        L.append("")

        L.append("## setup-server and start-up")
        L.append("")
        L.append("| measurement | ours | mod_wsgi | ours/mod_wsgi | target for ours |")
        L.append("|---|---:|---:|---:|---|")
        s = self.setup_results
        so = [x["median_ms"] for x in s["ours"]]
        sm = [x["median_ms"] for x in s["mod_wsgi"]]
        mo = statistics.median(so) if so else None
        mm = statistics.median(sm) if sm else None
        L.append("| setup-server wall time, ms (median of %d runs × %d rounds) | %s | %s | %s | ≤ 15 ms %s |" % (
            a.setup_runs, a.rounds, _fmt(mo, "%.1f", _cell(s["errors"].get("ours"))),
            _fmt(mm, "%.1f", s["errors"].get("mod_wsgi")),
            "%.2f" % (mo / mm) if mo and mm else "–", _verdict_abs(mo, 15)))
        for mode in ("daemon", "embedded"):
            ro = self.startup_results.get("ours %s default" % mode, {})
            rm = self.startup_results.get("mod_wsgi %s default" % mode, {})
            vo = statistics.median(ro["times_ms"]) if ro.get("times_ms") else None
            vm = statistics.median(rm["times_ms"]) if rm.get("times_ms") else None
            L.append("| start-server → first 200, %s mode, ms (median of %d) | %s | %s | %s | ≤ 120 ms %s |" % (
                mode, len(rm.get("times_ms", [])), _fmt(vo, "%.0f", _cell(ro.get("error"))), _fmt(vm, "%.0f", rm.get("error")),
                "%.2f" % (vo / vm) if vo and vm else "–", _verdict_abs(vo, 120)))
        L.append("")

        if self.soak_results:
            L.append("## RSS over %d requests (hello world, %d connections)" % (a.soak_requests, WORKLOAD_BY_NAME["hello"].conns))
            L.append("")
            L.append("First sample after the first %d s slice; target for ours: flat (growth ≤ %d%%)."
                     % (a.soak_slice, SOAK_FLAT_PCT))
            L.append("")
            L.append("| server | requests | RSS first MB | RSS last MB | growth |")
            L.append("|---|---:|---:|---:|---:|")
            for r in self.soak_results:
                if "error" in r:
                    L.append("| %s | – | – | – | %s |" % (r["server"], _short(r["error"])))
                else:
                    verdict = ""
                    if r["server"].startswith("ours"):
                        verdict = " (met)" if r["growth_pct"] <= SOAK_FLAT_PCT else " (missed)"
                    L.append("| %s | %d | %.1f | %.1f | %+.1f%%%s |" % (
                        r["server"], r["requests"], r["rss_first_kb"] / 1024, r["rss_last_kb"] / 1024,
                        r["growth_pct"], verdict))
            L.append("")

        notes = []
        by_reason = {}
        for sd in self.servers:
            if sd.name in self.unavailable:
                by_reason.setdefault(self.unavailable[sd.name], []).append(sd.name)
        for reason, names in by_reason.items():
            notes.append("- %s: %s" % (", ".join(names), reason))
        for (sname, wname), v in sorted(self.failed.items()):
            if sname not in self.unavailable and v.startswith("not available"):
                notes.append("- %s, %s: %s" % (sname, wname, v))
        if "ours" in self.setup_results["errors"] and not self.setup_results["errors"]["ours"].endswith(" not built"):
            notes.append("- setup-server: %s" % self.setup_results["errors"]["ours"])
        for name, res in sorted(self.startup_results.items()):
            if name.startswith("ours") and res.get("error") and name not in self.unavailable:
                notes.append("- start-server → first 200, %s: %s" % (name, res["error"]))
        if notes:
            L.append("## Not measured for ours")
            L.append("")
            L.extend(notes)
            L.append("")
        peer_fail = [(k, v) for k, v in self.failed.items() if not v.startswith("not available")]
        if peer_fail:
            L.append("## Failures")
            L.append("")
            for (sname, wname), v in sorted(peer_fail):
                L.append("- %s, %s: %s" % (sname, wname, v))
            L.append("")
        L.append("Wall time of this run: %.0f s%s." % (self.elapsed, " (interrupted)" if self.interrupted else ""))
        return "\n".join(L)

    def write_json(self, report_md):
        path = self.args.json
        if not path:
            d = os.path.join(HERE, "results")
            os.makedirs(d, exist_ok=True)
            path = os.path.join(d, datetime.datetime.now().strftime("%Y-%m-%d_%H%M%S") + ".json")
        data = {
            "meta": self.meta,
            "config": {k: v for k, v in vars(self.args).items()},
            "workloads": {w.name: {"desc": w.desc, "connections": w.conns} for w in self.workloads},
            "servers": {s.name: {"impl": s.impl, "mode": s.mode, "shape": s.shape,
                                 "front_workers": s.front_workers(), "note": s.note} for s in self.servers},
            "unavailable": self.unavailable,
            "failed": {"%s|%s" % k: v for k, v in self.failed.items()},
            "summary": self.summary,
            "ratios": self.ratios,
            "setup_server": self.setup_results,
            "startup": self.startup_results,
            "soak": self.soak_results,
            "runs": self.runs,
            "elapsed_s": self.elapsed,
            "report_markdown": report_md,
        }
        with open(path, "w") as f:
            json.dump(data, f, indent=1)
        return path


def _fmt(v, fmt="%.0f", err=None):
    if v is None:
        return _short(err) if err else "–"
    return fmt % v


def _short(s, n=90):
    s = (s or "").replace("|", "/").replace("\n", " ")
    return s if len(s) <= n else s[:n - 1] + "…"


def _cell(err):
    """A table cell for something that did not run; the full reason is listed below the tables."""
    if err and err.startswith("not available yet"):
        return "not available yet (see below)"
    return _short(err)


def _verdict(ratio, target):
    if ratio is None or target is None:
        return ""
    return "(met)" if ratio >= target else "(missed)"


def _verdict_abs(v, limit):
    if v is None:
        return ""
    return "(met)" if v <= limit else "(missed)"


# --------------------------------------------------------------------------- generated files

GENERIC_APP = '''\
# Generated by bench/run.py: one WSGI application, one route per workload.
import time

HELLO = b"Hello, World!\\n"
BIG = b"x" * %(big)d


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/echo":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        ctype = "application/octet-stream"
    elif path == "/100k":
        body, ctype = BIG, "application/octet-stream"
    elif path == "/sleep":
        time.sleep(0.05)
        body, ctype = HELLO, "text/plain"
    else:
        body, ctype = HELLO, "text/plain"
    start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]
'''

DJANGO_VIEW = '''\
# Generated by bench/run.py
from django.http import HttpResponse


def index(request):
    return HttpResponse(b"Hello, World!\\n", content_type="text/plain")
'''

DJANGO_URLS = '''\
# Generated by bench/run.py
from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
]
'''

WRK_DONE = '''\
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,"connect":%.0f,"read":%.0f,' ..
    '"write":%.0f,"status":%.0f,"timeout":%.0f,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,' ..
    '"max_us":%.1f,"mean_us":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
'''

STATIC_CONF = '''\
# Generated by bench/run.py: Apache serving static files, the ceiling.
ServerRoot "%(root)s"
DefaultRuntimeDir "%(root)s"
PidFile "%(root)s/httpd.pid"
ErrorLog "%(root)s/error_log"
LogLevel warn
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
User %(user)s
Group %(group)s
ServerName 127.0.0.1
Listen 127.0.0.1:%(port)d
KeepAlive On
KeepAliveTimeout 2
MaxKeepAliveRequests 0
StartServers 2
ServerLimit 2
ThreadLimit %(threads)d
ThreadsPerChild %(threads)d
MinSpareThreads %(threads)d
MaxSpareThreads %(workers)d
MaxRequestWorkers %(workers)d
DocumentRoot "%(htdocs)s"
<Directory "%(htdocs)s">
    Require all granted
</Directory>
'''


# --------------------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Benchmark this project's mod_wsgi-express against the real mod_wsgi-express, "
                    "gunicorn and Apache static files on this machine.")
    p.add_argument("--quick", action="store_true",
                   help="1 round, 2 s runs, hello + django only, no soak (under 2 minutes)")
    p.add_argument("--ours", metavar="PATH",
                   help="our mod_wsgi-express executable (default: .build/release/mod_wsgi-express, "
                        "built with 'swift build -c release' first)")
    p.add_argument("--no-build", action="store_true", help="do not run 'swift build -c release' first")
    p.add_argument("--rounds", type=int, help="rounds of A B A B (default 3; --quick 1)")
    p.add_argument("--duration", type=int, help="seconds per measured wrk run (default 3; --quick 2)")
    p.add_argument("--warmup", type=int,
                   help="at most this many 1 s wrk warm-up slices before each run; it stops when two "
                        "in a row agree within 10%% (default 4; --quick 3)")
    p.add_argument("--workloads", help="comma-separated subset of: %s" % ",".join(w.name for w in WORKLOADS))
    p.add_argument("--servers", help="comma-separated substrings; only servers whose name contains one "
                                     "(names: %s)" % "; ".join(s.name for s in SERVERS))
    p.add_argument("--soak", dest="soak", action="store_true", default=None,
                   help="measure RSS over --soak-requests requests (default on, off with --quick)")
    p.add_argument("--no-soak", dest="soak", action="store_false")
    p.add_argument("--soak-requests", type=int, default=100000)
    p.add_argument("--soak-slice", type=int, default=5, help="seconds between RSS samples in the soak")
    p.add_argument("--soak-max-seconds", type=int, default=45)
    p.add_argument("--setup-runs", type=int, help="setup-server runs per round (default 20; --quick 10)")
    p.add_argument("--startup-runs", type=int, help="start-server -> first 200 runs (default = rounds; --quick 2)")
    p.add_argument("--start-timeout", type=float, default=20.0, help="seconds a server gets to answer 200")
    p.add_argument("--probe-timeout", type=float, default=8.0,
                   help="seconds each of our modes gets to answer 200 when probed")
    p.add_argument("--build-timeout", type=int, default=900)
    p.add_argument("--work-dir", default=DEFAULT_WORK,
                   help="venv, apps and server roots (default %%(default)s; must be readable by %s)" % RUN_USER)
    p.add_argument("--upgrade", action="store_true", help="upgrade mod_wsgi, gunicorn and Django in the venv")
    p.add_argument("--json", metavar="PATH", help="where to write the JSON (default bench/results/<date>.json)")
    p.add_argument("--markdown", metavar="PATH", help="also write the Markdown report here")
    a = p.parse_args(argv)
    q = a.quick
    a.rounds = a.rounds or (1 if q else 3)
    a.duration = a.duration or (2 if q else 3)
    a.warmup = (3 if q else 4) if a.warmup is None else a.warmup
    a.setup_runs = a.setup_runs or (10 if q else 20)
    a.startup_runs = a.startup_runs or (2 if q else a.rounds)
    if a.soak is None:
        a.soak = not q
    if a.workloads:
        names = [n.strip() for n in a.workloads.split(",") if n.strip()]
        bad = [n for n in names if n not in WORKLOAD_BY_NAME]
        if bad:
            p.error("unknown workload(s): %s" % ", ".join(bad))
        a.workloads = names
    else:
        a.workloads = [w.name for w in WORKLOADS if w.quick or not q]
    a.servers = [s.strip() for s in a.servers.split(",")] if a.servers else None
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not sys.platform.startswith("linux"):
        sys.exit("bench: Linux only (reads /proc)")
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    atexit.register(stop_all)
    bench = Bench(args)
    try:
        bench.setup()
        bench.collect_meta()
        log("%s; %s cores; load average %.1f" % (bench.meta["cpu"], bench.meta["cores"],
                                                 bench.meta["loadavg_at_start"][0]))
        log("%s; Python %s; mod_wsgi %s; gunicorn %s; Django %s; ours %s" % (
            bench.meta["apache"], bench.meta["python"].split()[0], bench.meta["mod_wsgi"],
            bench.meta["gunicorn"], bench.meta["django"], bench.meta["ours"]["git_describe"]))
        try:
            bench.run()
        except KeyboardInterrupt:
            bench.interrupted = True
            bench.elapsed = time.monotonic() - getattr(bench, "t_start", time.monotonic())
            bench.meta["loadavg_at_end"] = os.getloadavg()
            log("interrupted: reporting what was measured so far")
    finally:
        stop_all()
    bench.summarize()
    md = bench.report()
    print(md)
    path = bench.write_json(md)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md + "\n")
    log("\nJSON: %s" % os.path.relpath(path))


if __name__ == "__main__":
    main()
