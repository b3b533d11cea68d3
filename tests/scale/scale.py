#!/usr/bin/env python3
"""Many replicas behind a real load balancer: N replicas of mod_wsgi-express (each its own
server root and port, started as a container starts it: no terminal, so the command execs
httpd) behind HAProxy from Debian's packages, which health-checks each replica. Bounded load
goes through HAProxy while

  (a) the replicas are restarted one by one: SIGTERM, wait for the exit, start again, wait
      until HAProxy has it in rotation (a rolling update);
  (b) one replica's whole process group is killed with SIGKILL (a crashed container), and
      started again;
  (c) a replica is added (scale-up): started, then enabled in HAProxy.

Printed per server: requests sent, failed and hung in each phase; the requests in flight on
the killed replica when it was killed; the time until HAProxy had it out of rotation; p50
and p99 latency during the rolling restart against before it.

    python3 tests/scale/scale.py            full run: ours (with --drain-timeout), ours
                                            without it (SIGTERM stops at once, as 4.9), and
                                            mod_wsgi 6.1.1's express (pip-installed into a
                                            venv under --work-dir) stopped with SIGTERM and
                                            with SIGWINCH, 3 replicas (~3 minutes)
    python3 tests/scale/scale.py --quick    ours only, shorter phases (< 2 minutes; make test)
    make scale-test [QUICK=1]

Targets (ours with --drain-timeout; exit status 1 when missed): 0 failed and 0 hung during
the rolling restart and the scale-up, and no connection refused during the rolling restart
(HAProxy never had to send a request elsewhere: the replica was out of rotation before it
stopped accepting); after the SIGKILL, only requests already in flight
when it came fail (the killed replica's: the others answer them), none sent after it (20 ms
after its last process exited: HAProxy's own notice of the closed connections), none hung.
HAProxy retries only what is always safe: a connection that could not be made (retry-on
conn-failure, redispatch to another replica); a request a server was processing is never
sent again. Only 127.0.0.1, bounded in concurrency and time. Standard library, HAProxy, and
pip for mod_wsgi 6.1.1.
"""
import argparse
import csv
import http.client
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("MOD_WSGI_BUILD", os.path.join(REPO, ".build", "release"))
if not os.path.isabs(BUILD):
    BUILD = os.path.join(REPO, BUILD)
EXPRESS = os.path.join(BUILD, "mod_wsgi-express")
HAPROXY = "/usr/sbin/haproxy"
SYSTEM_PYTHON = "/usr/bin/python3"
MOD_WSGI_VERSION = "6.1.1"
HANG = 10.0  # a request without an answer after this long is hung
# HAProxy learns that the killed replica's kept-alive connections closed from its own event
# loop, not at the instant the last process exits: a request sent within this long after it
# can still go out on one of them (measured: failures 3.1-3.7 ms after the SIGKILL, the last
# process gone 4-7 ms after it, either side of it from run to run). Such a request is cut by
# the kill, as one in flight; one sent later must not fail.
KILL_NOTICE = 0.02
HEALTH = "/healthz"

APP = b'''
import os, time

def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/work":
        # Application time, so that requests are in flight when a replica goes.
        time.sleep(int(environ.get("QUERY_STRING") or "20") / 1000.0)
    body = ("%s %d\\n" % (path, os.getpid())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


# ---- the servers ---------------------------------------------------------------------------


class Kind:
    """How one implementation is started and stopped."""

    def __init__(self, name, express, args, stop_signal, check_path, drains):
        self.name, self.express, self.args = name, express, args
        self.slug = "".join(c if c.isalnum() or c in ".-" else "_" for c in name).strip("_")
        self.stop_signal, self.check_path, self.drains = stop_signal, check_path, drains


def kinds(args, work):
    common = ["--processes", "2", "--threads", "4"]
    ours_drain = ["--health-url", HEALTH, "--drain-timeout", "10", "--drain-delay", str(args.drain_delay)]
    out = [Kind("ours", EXPRESS, common + ours_drain, signal.SIGTERM, HEALTH, True)]
    if args.quick:
        return out
    out.append(Kind("ours, no --drain-timeout", EXPRESS, common + ["--health-url", HEALTH], signal.SIGTERM, HEALTH,
                    False))
    real = ensure_mod_wsgi(work, args)
    if real:
        # mod_wsgi-express has no health URL: HAProxy checks the application's root.
        # As root it must be told an unprivileged account (ours picks www-data itself).
        account = ["--user", "www-data", "--group", "www-data"] if os.getuid() == 0 else []
        theirs = common + account + ["--locale", "C.UTF-8"]
        out.append(Kind("mod_wsgi %s" % MOD_WSGI_VERSION, real, theirs, signal.SIGTERM, "/", False))
        # Apache's own graceful stop, where the orchestrator can be told to send SIGWINCH
        # instead (Docker's STOPSIGNAL): no health URL to go 503 first, no time limit.
        out.append(Kind("mod_wsgi %s, SIGWINCH" % MOD_WSGI_VERSION, real, theirs, signal.SIGWINCH, "/", False))
    return out


def ensure_mod_wsgi(work, args):
    """mod_wsgi-express 6.1.1 from PyPI in a venv of the system Python (made once, kept)."""
    venv = os.path.join(work, "venv-mod_wsgi-%s" % MOD_WSGI_VERSION)
    exe = os.path.join(venv, "bin", "mod_wsgi-express")
    stamp = os.path.join(venv, ".ready")
    if os.path.exists(stamp):
        return exe
    if args.no_pip:
        log("mod_wsgi %s: no venv at %s and --no-pip: left out" % (MOD_WSGI_VERSION, venv))
        return None
    log("pip install mod_wsgi==%s into %s (it compiles against this Apache; a minute or so) ..."
        % (MOD_WSGI_VERSION, venv))
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    if not os.path.exists(os.path.join(venv, "bin", "python")):
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", venv], check=True, timeout=300)
    env = dict(os.environ, APXS="/usr/bin/apxs")
    if args.pip_build_dir:
        os.makedirs(args.pip_build_dir, exist_ok=True)
        env["TMPDIR"] = args.pip_build_dir
    p = subprocess.run([os.path.join(venv, "bin", "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", "mod_wsgi==%s" % MOD_WSGI_VERSION],
                       capture_output=True, text=True, timeout=1800, env=env)
    if p.returncode != 0:
        log("mod_wsgi %s: pip install failed, left out:\n%s" % (MOD_WSGI_VERSION, (p.stdout + p.stderr)[-2000:]))
        return None
    subprocess.run(["chmod", "-R", "a+rX", venv], check=True)
    with open(stamp, "w") as f:
        f.write(MOD_WSGI_VERSION + "\n")
    return exe


class Replica:
    def __init__(self, kind, work, index, app):
        self.kind, self.index, self.app = kind, index, app
        self.name = "r%d" % index
        self.port = free_port()
        self.root = os.path.join(work, "%s-%s" % (kind.slug, self.name))
        self.proc = None
        self.exits = []

    def start(self):
        shutil.rmtree(self.root, ignore_errors=True)
        os.makedirs(os.path.dirname(self.root), exist_ok=True)
        out = open(os.path.join(os.path.dirname(self.root), "%s.%s.log" % (os.path.basename(self.root), len(self.exits))),
                   "wb")
        cmd = [self.kind.express, "start-server", self.app, "--host", "127.0.0.1", "--port", str(self.port),
               "--server-root", self.root, "--log-to-terminal"] + self.kind.args
        # No terminal: the command execs httpd, as in a container (start_new_session: its own
        # process group, the container's processes).
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=os.path.dirname(self.app))
        out.close()

    def wait_serving(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s %s exited with %s at start" % (self.kind.name, self.name, self.proc.returncode))
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", self.kind.check_path)
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("%s %s not serving after %ss" % (self.kind.name, self.name, timeout))

    def stop(self, sig=None, timeout=60):
        """Sends the stop signal to httpd (PID of the exec'd command) and waits: exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        self.proc.send_signal(sig or self.kind.stop_signal)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = "timeout"
        self.exits.append(rc)
        return rc

    def kill(self):
        """SIGKILL to the replica's whole process group (httpd, its children, its daemons);
        returns once none of them is left (they hold the replica's sockets until then)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.time() + 10
        while group_alive(self.proc.pid) and time.time() < deadline:
            time.sleep(0.001)
        self.exits.append("SIGKILL")


def group_alive(pgid):
    """A process of this process group that is not a zombie yet."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


# ---- HAProxy ---------------------------------------------------------------------------------


class HAProxy:
    def __init__(self, work, replicas, spare, check_path):
        self.work = work
        self.port = free_port()
        self.sock = os.path.join(work, "haproxy.sock")
        self.cfg = os.path.join(work, "haproxy.cfg")
        servers = ["    server %s 127.0.0.1:%d" % (r.name, r.port) for r in replicas]
        servers.append("    server %s 127.0.0.1:%d disabled" % (spare.name, spare.port))
        with open(self.cfg, "w") as f:
            f.write(HAPROXY_CFG % {"sock": self.sock, "port": self.port, "check": check_path,
                                   "servers": "\n".join(servers)})
        self.proc = None

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)  # a previous run's
        self.proc = subprocess.Popen([HAPROXY, "-f", self.cfg, "-db"], stdin=subprocess.DEVNULL,
                                     stdout=open(os.path.join(self.work, "haproxy.log"), "wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 10
        while True:
            try:
                self.command("show info")
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    with open(os.path.join(self.work, "haproxy.log")) as f:
                        raise RuntimeError("haproxy did not start:\n" + f.read())
                time.sleep(0.05)

    def command(self, line):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.sock)
            s.sendall(line.encode() + b"\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return data.decode()
                data += chunk

    def stat(self):
        """{server name: row} of the backend."""
        text = self.command("show stat").lstrip("# ")
        return {row["svname"]: row for row in csv.DictReader(io.StringIO(text)) if row["pxname"] == "be"}

    def status(self, name):
        return self.stat()[name]["status"]

    def redispatches(self):
        """Requests HAProxy sent to another replica after a connection was refused, so far."""
        return sum(int(s["wredis"] or 0) for s in self.stat().values())

    def wait_status(self, name, want, timeout=30):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.status(name).startswith(want):
                return time.time() - t0
            time.sleep(0.02)
        raise RuntimeError("HAProxy: %s not %s after %ss (%s)" % (name, want, timeout, self.status(name)))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


HAPROXY_CFG = """
global
    maxconn 1000
    stats socket %(sock)s mode 600 level admin
    log stderr format short local0 info

defaults
    mode http
    # Failed sessions only, with HAProxy's termination state (haproxy.log in --work-dir).
    log global
    option httplog
    option dontlog-normal
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    # Only what is always safe to send again: a connection that could not be made, to
    # another replica. A request a replica was processing is never retried.
    retries 2
    retry-on conn-failure
    option redispatch 1

frontend fe
    bind 127.0.0.1:%(port)d
    default_backend be

backend be
    balance roundrobin
    option httpchk GET %(check)s
    http-check expect status 200
    default-server check inter 500ms fastinter 250ms downinter 500ms rise 2 fall 2
%(servers)s
"""


# ---- the load --------------------------------------------------------------------------------


class Load:
    """`clients` threads, each with a kept-alive connection to HAProxy, sending GET /work?ms
    (10-40 ms of application time) paced to at most `rate` requests per second in all.
    Every request is recorded: (start, end, outcome) where outcome is 'ok', 'failed' (an
    error status, a connection error or a cut response) or 'hung' (no answer in HANG s)."""

    def __init__(self, port, clients, rate):
        self.port, self.clients, self.interval = port, clients, clients / float(rate)
        self.records = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(clients)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(HANG + 5)

    def client(self, i):
        rnd = random.Random(i)
        conn = None
        next_at = time.monotonic() + rnd.random() * self.interval
        while not self.stopping.is_set():
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at = max(next_at + self.interval, time.monotonic())
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HANG)
            start = time.monotonic()
            outcome, why = "ok", ""
            try:
                conn.request("GET", "/work?%d" % rnd.randint(10, 40))
                r = conn.getresponse()
                body = r.read()
                if r.status != 200 or not body.startswith(b"/work "):
                    outcome, why = "failed", "HTTP %d" % r.status
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except socket.timeout:
                outcome = "hung"
            except (OSError, http.client.HTTPException) as e:
                outcome, why = "failed", type(e).__name__
            if outcome != "ok" and conn is not None:
                conn.close()
                conn = None
            with self.lock:
                self.records.append((start, time.monotonic(), outcome, why))

    def during(self, t0, t1):
        """Records of the requests in flight at some moment of [t0, t1]."""
        with self.lock:
            return [r for r in self.records if r[0] <= t1 and r[1] >= t0]


def summary(records):
    """sent, failed, hung, latency of the answered requests, and why the failures failed."""
    sent = len(records)
    why = {}
    for r in records:
        if r[2] != "ok":
            why[r[3] or r[2]] = why.get(r[3] or r[2], 0) + 1
    failed = sum(1 for r in records if r[2] == "failed")
    hung = sum(1 for r in records if r[2] == "hung")
    lat = [(r[1] - r[0]) * 1000 for r in records if r[2] == "ok"]
    return {"sent": sent, "failed": failed, "hung": hung,
            "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99), "why": why}


# ---- one run: one implementation through the three events ---------------------------------------


def run_kind(kind, work, app, args):
    log("== %s: %d replicas behind HAProxy" % (kind.name, args.replicas))
    replicas = [Replica(kind, work, i + 1, app) for i in range(args.replicas)]
    spare = Replica(kind, work, args.replicas + 1, app)
    lb = HAProxy(work, replicas, spare, kind.check_path)
    result = {"server": kind.name}
    try:
        for r in replicas:
            r.start()
        for r in replicas:
            r.wait_serving()
        lb.start()
        for r in replicas:
            lb.wait_status(r.name, "UP")
        with Load(lb.port, args.clients, args.rate) as load:
            time.sleep(args.steady)
            t_base = time.monotonic()
            time.sleep(args.steady)

            # (a) Rolling restart.
            t_roll = time.monotonic()
            refused_before = lb.redispatches()
            exits = []
            for r in replicas:
                exits.append(r.stop())
                r.start()
                r.wait_serving()
                lb.wait_status(r.name, "UP")
            t_roll_end = time.monotonic()
            refused_rolling = lb.redispatches() - refused_before
            time.sleep(args.steady)

            # (b) SIGKILL one replica's process group; it comes back (a restarted container).
            victim = replicas[len(replicas) // 2]
            t_kill = time.monotonic()
            victim.kill()
            t_dead = time.monotonic()  # no process of the replica left: its sockets are gone
            out_of_rotation = lb.wait_status(victim.name, "DOWN")
            victim.start()
            victim.wait_serving()
            lb.wait_status(victim.name, "UP")
            t_back = time.monotonic()
            time.sleep(args.steady)

            # (c) Scale-up: a new replica, then HAProxy sends to it once its checks pass.
            t_add = time.monotonic()
            refused_before = lb.redispatches()
            spare.start()
            spare.wait_serving()
            lb.command("enable server be/%s" % spare.name)
            lb.wait_status(spare.name, "UP")
            time.sleep(args.steady)
            t_end = time.monotonic()
            served_by_new = int(lb.stat()[spare.name]["stot"] or 0)
            refused_scale_up = lb.redispatches() - refused_before
        stats = lb.stat()
        around_kill = load.during(t_kill, t_back)
        t_noticed = t_dead + KILL_NOTICE
        cut = [r for r in around_kill if r[2] != "ok" and r[0] <= t_noticed]
        result.update({
            "baseline": summary(load.during(t_base, t_roll)),
            "rolling_restart": summary(load.during(t_roll, t_roll_end)),
            "rolling_restart_seconds": round(t_roll_end - t_roll, 1),
            "rolling_restart_refused": refused_rolling,
            "scale_up_refused": refused_scale_up,
            "exit_statuses": exits,
            "sigkill": summary(load.during(t_kill, t_back)),
            # Failed requests that were already in flight when the replica died (SIGKILL sent,
            # none of its processes left: the killed replica's), those sent after it (there should be none:
            # refused connections are redispatched), and the requests in flight on all
            # replicas then.
            "sigkill_cut": len(cut),
            "sigkill_failed_after": sum(1 for r in around_kill if r[2] != "ok" and r[0] > t_noticed),
            "in_flight_at_kill": sum(1 for r in around_kill if r[0] <= t_noticed),
            "sigkill_seconds_to_reap": round(t_dead - t_kill, 3),
            "sigkill_failures_ms_after_kill": [round((r[0] - t_kill) * 1000, 1) for r in around_kill if r[2] != "ok"],
            "out_of_rotation_s": round(out_of_rotation, 2),
            "scale_up": summary(load.during(t_add, t_end)),
            "served_by_new_replica": served_by_new,
            "total": summary(load.during(0, t_end + HANG)),
            "haproxy_retries": sum(int(s["wretr"] or 0) for s in stats.values()),
            "haproxy_redispatches": sum(int(s["wredis"] or 0) for s in stats.values()),
        })
    finally:
        lb.stop()
        for r in replicas + [spare]:
            r.stop(signal.SIGTERM, timeout=30)
            r.kill()
    return result


def fmt(v):
    if v is None:
        return "-"
    return "%.0f" % v if isinstance(v, float) else str(v)


def report(results):
    cols = [r["server"] for r in results]
    rows = [
        ("rolling restart: sent / failed / hung", lambda r: "%d / %d / %d" % (
            r["rolling_restart"]["sent"], r["rolling_restart"]["failed"], r["rolling_restart"]["hung"])),
        ("rolling restart: p50 / p99 ms (before: p50 / p99)", lambda r: "%s / %s (%s / %s)" % (
            fmt(r["rolling_restart"]["p50_ms"]), fmt(r["rolling_restart"]["p99_ms"]),
            fmt(r["baseline"]["p50_ms"]), fmt(r["baseline"]["p99_ms"]))),
        ("rolling restart: connections refused (HAProxy sent them elsewhere)",
         lambda r: str(r["rolling_restart_refused"])),
        ("rolling restart: seconds, exit statuses", lambda r: "%s s, %s" % (
            r["rolling_restart_seconds"], ",".join(str(e) for e in r["exit_statuses"]))),
        ("SIGKILL: sent / failed / hung", lambda r: "%d / %d / %d" % (
            r["sigkill"]["sent"], r["sigkill"]["failed"], r["sigkill"]["hung"])),
        ("SIGKILL: failed that were in flight at the kill / sent after it", lambda r: "%d / %d" % (
            r["sigkill_cut"], r["sigkill_failed_after"])),
        ("SIGKILL: requests in flight at the kill, on all replicas", lambda r: str(r["in_flight_at_kill"])),
        ("SIGKILL: out of rotation after", lambda r: "%.2f s" % r["out_of_rotation_s"]),
        ("scale-up: sent / failed / hung", lambda r: "%d / %d / %d" % (
            r["scale_up"]["sent"], r["scale_up"]["failed"], r["scale_up"]["hung"])),
        ("scale-up: requests served by the new replica, connections refused", lambda r: "%d, %d" % (
            r["served_by_new_replica"], r["scale_up_refused"])),
        ("whole run: sent / failed / hung", lambda r: "%d / %d / %d" % (
            r["total"]["sent"], r["total"]["failed"], r["total"]["hung"])),
        ("whole run: connections refused (HAProxy sent them elsewhere)", lambda r: str(r["haproxy_redispatches"])),
    ]
    out = ["| | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for label, f in rows:
        out.append("| %s | %s |" % (label, " | ".join(f(r) for r in results)))
    return "\n".join(out)


def check_targets(r):
    missed = []
    if r["rolling_restart"]["failed"] or r["rolling_restart"]["hung"]:
        missed.append("rolling restart: %(failed)d failed, %(hung)d hung (target 0 and 0)" % r["rolling_restart"])
    if r["rolling_restart_refused"]:
        missed.append("rolling restart: %d connections refused (target 0: HAProxy had the replica out of rotation "
                      "before it stopped accepting, --drain-delay)" % r["rolling_restart_refused"])
    if r["scale_up"]["failed"] or r["scale_up"]["hung"]:
        missed.append("scale-up: %(failed)d failed, %(hung)d hung (target 0 and 0)" % r["scale_up"])
    if r["sigkill"]["hung"] or r["sigkill_failed_after"]:
        missed.append("SIGKILL: %d hung, %d failed that were sent after the kill (target: only requests already in "
                      "flight fail)" % (r["sigkill"]["hung"], r["sigkill_failed_after"]))
    if any(e != 0 for e in r["exit_statuses"]):
        missed.append("exit statuses after the drain: %s (target 0)" % r["exit_statuses"])
    return missed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="ours only, shorter phases (make test)")
    ap.add_argument("--replicas", type=int, default=3, help="replicas at the start (3 or more)")
    ap.add_argument("--clients", type=int, default=12, help="concurrent client connections to HAProxy")
    ap.add_argument("--rate", type=int, default=200, help="requests per second at most, in all")
    ap.add_argument("--steady", type=float, default=None, help="seconds of plain load between events")
    ap.add_argument("--drain-delay", type=int, default=2,
                    help="ours: --drain-delay, at least HAProxy's fall x inter (1 s) plus a margin")
    ap.add_argument("--work-dir", default=None,
                    help="where server roots, logs and the mod_wsgi venv live (default: a new "
                         "temporary directory, removed afterwards; the venv then under "
                         "/var/tmp/mod_wsgi-scale)")
    ap.add_argument("--no-pip", action="store_true", help="leave mod_wsgi 6.1.1 out unless its venv exists")
    ap.add_argument("--pip-build-dir", default=os.environ.get("MOD_WSGI_PIP_BUILD_DIR"),
                    help="TMPDIR for pip's build of mod_wsgi")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    if args.replicas < 3:
        ap.error("--replicas must be 3 or more")
    if args.steady is None:
        args.steady = 2.0 if args.quick else 5.0
    for exe, what in ((EXPRESS, "run `make build`"), (HAPROXY, "apt-get install haproxy (scripts/install-deps test)")):
        if not os.access(exe, os.X_OK):
            sys.exit("scale test: %s is missing: %s" % (exe, what))

    keep = args.work_dir is not None
    work = args.work_dir or tempfile.mkdtemp(prefix="mwx-scale-", dir="/tmp")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    venv_home = work if keep else "/var/tmp/mod_wsgi-scale"
    app = os.path.join(work, "app.py")
    with open(app, "wb") as f:
        f.write(APP)
    os.chmod(app, 0o644)
    results = []
    left_out = []
    t0 = time.time()
    try:
        for n, kind in enumerate(kinds(args, venv_home)):
            try:
                results.append(run_kind(kind, work, app, args))
            except Exception as e:  # noqa: BLE001 - a peer that cannot take part is reported, ours fails
                if n == 0:
                    raise
                log("%s could not take part: %s" % (kind.name, e))
                left_out.append("%s: %s" % (kind.name, e))
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    print("Scale test: %d replicas (2 processes x 4 threads each) behind HAProxy %s, %d clients, at most %d "
          "requests/s of 10-40 ms each; %.0f s in all.\n" % (
              args.replicas, haproxy_version(), args.clients, args.rate, time.time() - t0))
    print(report(results))
    for x in left_out:
        print("\nLeft out: " + x)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    missed = check_targets(results[0])
    for m in missed:
        print("MISSED (%s): %s" % (results[0]["server"], m))
    return 1 if missed else 0


def haproxy_version():
    out = subprocess.run([HAPROXY, "-v"], capture_output=True, text=True).stdout
    return out.split()[2] if out.startswith("HAProxy version") else "?"


if __name__ == "__main__":
    sys.exit(main())
