#!/usr/bin/env python3
"""A long soak: mixed traffic at 64 connections against each mode, with maximum-requests and a
graceful restart every minute, side by side with mod_wsgi 6.1.1's mod_wsgi-express when a venv
holding it is given.

    python3 tests/reliability/soak.py                 30 minutes (make soak)
    python3 tests/reliability/soak.py --quick         2 minutes, ours only (make soak QUICK=1)
    python3 tests/reliability/soak.py --reference-venv /var/tmp/venv-mod_wsgi-6.1.1

Every server runs at once for the whole soak (so each sees the same machine), each with its own
64 client connections. The traffic, per connection, picks at random: hello world, a 100 KB
response, a 1 MB POST echoed back, a slow endpoint (0.3 s), a streamed response (chunked, 32 x
4 KB), wsgi.file_wrapper over a 256 KB file, and a client that reads the start of a 1 MB response
then disconnects. Each server gets --maximum-requests and a graceful restart every minute
(apachectl graceful and SIGUSR1 in turn).

Every minute it prints, per server and process type (Apache's parent, its children, daemon
processes): how many, RSS and PSS (summed), and open fds. It fails (exit 1) when, for one of
our servers:
- a request failed outside a restart window (RESTART_WINDOW seconds after a graceful restart);
  a reused keep-alive connection the server closed before answering is retried once, as
  HTTP clients do, and counted apart;
- PSS or fds grow: the least-squares slope of each process type's summed PSS over the samples
  after the first minute is more than SLOPE_MB_PER_10MIN MB per 10 minutes, or the fds of a
  type more than SLOPE_FDS_PER_10MIN per 10 minutes (a leak of one object per request would be
  far above both: thousands of requests a minute);
- anything is left after apachectl stop: a process, a socket file in the server root, a new
  System V semaphore or shared-memory segment, a new /dev/shm entry.
Only 127.0.0.1, bounded in time.
"""
import argparse
import http.client
import os
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reliability  # noqa: E402

RESTART_WINDOW = 10.0
SLOPE_MB_PER_10MIN = 4.0
SLOPE_FDS_PER_10MIN = 4.0
BIG = 100 * 1024
POST = 1024 * 1024
FILE = 256 * 1024

APP = b'''
import os, time
HERE = os.path.dirname(os.path.abspath(__file__))
BIG = b"b" * %d
FILE = os.path.join(HERE, "soak-file.bin")

def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/big":
        body = BIG
    elif path == "/echo":
        n = len(environ["wsgi.input"].read())
        body = ("%%d\\n" %% n).encode()
    elif path == "/slow":
        time.sleep(0.3)
        body = b"slow\\n"
    elif path == "/stream":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        n = int(environ.get("QUERY_STRING") or 32)
        def gen():
            for _ in range(n):
                yield b"s" * 4096
        return gen()
    elif path == "/file":
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(os.path.getsize(FILE)))])
        return environ["wsgi.file_wrapper"](open(FILE, "rb"), 65536)
    else:
        body = b"Hello World!\\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
''' % BIG

# kind: (weight, method, path, expected body length or a check)
KINDS = [("hello", 40), ("big", 15), ("post", 5), ("slow", 10), ("stream", 12), ("file", 10), ("disconnect", 8)]
EXPECT = {"hello": ("GET", "/", 13), "big": ("GET", "/big", BIG), "post": ("POST", "/echo", len("%d\n" % POST)),
          "slow": ("GET", "/slow", 5), "stream": ("GET", "/stream", 32 * 4096), "file": ("GET", "/file", FILE)}
POST_BODY = b"p" * POST


# mod_wsgi 6.1.1's command run as root needs the user named (ours defaults to www-data), and
# the locale it defaults to (en_US.UTF-8) is not on a Debian machine without locales.
REFERENCE_ARGS = ["--user", "www-data", "--group", "www-data", "--locale", "C.UTF-8"]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Traffic:
    """`conns` client threads against one server, each on its own keep-alive connection."""

    def __init__(self, port, conns, seed):
        self.port = port
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.done = {}
        self.failures = []        # (time, kind, what)
        self.retried = 0
        self.threads = [threading.Thread(target=self.run, args=(random.Random(seed * 1000 + i),), daemon=True)
                        for i in range(conns)]
        self.kinds = [k for k, w in KINDS for _ in range(w)]

    def count(self, kind):
        with self.lock:
            self.done[kind] = self.done.get(kind, 0) + 1

    def fail(self, kind, what):
        with self.lock:
            self.failures.append((time.time(), kind, what))

    def disconnect(self):
        """Reads the status line and a little of a 1 MB streamed response, then closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as s:
            s.sendall(b"GET /stream?256 HTTP/1.1\r\nHost: soak\r\n\r\n")
            got = b""
            while len(got) < 8192:
                chunk = s.recv(8192)
                if not chunk:
                    break
                got += chunk
            if not got.startswith(b"HTTP/1.1 200"):
                raise OSError("disconnect: %r" % got[:40])

    def one(self, conn, kind):
        method, path, length = EXPECT[kind]
        body = POST_BODY if kind == "post" else None
        conn.request(method, path, body=body, headers={"Host": "soak"})
        r = conn.getresponse()
        data = r.read()
        if r.status != 200 or len(data) != length:
            raise ValueError("%s: status %d, %d bytes (expected %d)" % (path, r.status, len(data), length))
        if r.will_close:
            conn.close()

    def run(self, rnd):
        conn, used = None, False
        while not self.stop_flag.is_set():
            kind = rnd.choice(self.kinds)
            try:
                if kind == "disconnect":
                    self.disconnect()
                    self.count(kind)
                    continue
                if conn is None or conn.sock is None:
                    conn, used = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60), False
                try:
                    self.one(conn, kind)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                    # The server closed a reused keep-alive connection before answering: retry
                    # once on a new connection, as HTTP clients do.
                    if not used:
                        raise
                    conn.close()
                    with self.lock:
                        self.retried += 1
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                    self.one(conn, kind)
                used = True
                self.count(kind)
            except Exception as e:  # noqa: BLE001 - every failure is a result here
                self.fail(kind, "%s: %s" % (type(e).__name__, str(e)[:120]))
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(90)


def proc_info(pid):
    """(ppid, cmdline, rss kB, pss kB, fds) of a live, non-zombie process; None otherwise."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            return None
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        rss = pss = 0
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
        fds = len(os.listdir("/proc/%d/fd" % pid))
        return int(fields[1]), cmd, rss, pss, fds
    except (OSError, IndexError, ValueError):
        return None


def server_processes(root_pid):
    """{pid: (kind, rss, pss, fds)} of the server's tree: parent, child (Apache's children) and
    daemon (mod_wsgi daemon processes, "(wsgi:" in their command line)."""
    infos = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            i = proc_info(int(e))
            if i:
                infos[int(e)] = i
    out = {}
    if root_pid not in infos:
        return out
    todo = [root_pid]
    while todo:
        pid = todo.pop()
        ppid, cmd, rss, pss, fds = infos[pid]
        kind = "parent" if pid == root_pid else ("daemon" if cmd.startswith("(wsgi:") else "child")
        out[pid] = (kind, rss, pss, fds)
        todo.extend(p for p, i in infos.items() if i[0] == pid)
    return out


def ipc_snapshot():
    """System V semaphores and shared memory segments (ids), and /dev/shm entries."""
    out = set()
    for kind in ("sem", "shm"):
        try:
            with open("/proc/sysvipc/%s" % kind) as f:
                next(f)
                for line in f:
                    out.add("%s id %s" % (kind, line.split()[1]))
        except (OSError, StopIteration):
            pass
    try:
        out.update("/dev/shm/" + n for n in os.listdir("/dev/shm"))
    except OSError:
        pass
    return out


def slope_per_10min(points):
    """Least-squares slope of [(t seconds, value)], per 10 minutes."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    return 0.0 if not den else sum((t - mt) * (v - mv) for t, v in points) / den * 600


class Soaked:
    """One server under soak: its traffic, samples, restarts and what stop left."""

    def __init__(self, work, label, impl, mode, express, args, conns, seed):
        self.label, self.impl, self.mode = label, impl, mode
        self.server = reliability.Server(work, label, "ours" if impl == "ours" else "6.1.1", args, script="soak.py",
                                         express=express)
        self.conns, self.seed = conns, seed
        self.restarts = []
        self.samples = []   # (t, {kind: (n, rss kB, pss kB, fds)})
        self.seen = set()

    def start(self):
        self.server.start()
        self.traffic = Traffic(self.server.port, self.conns, self.seed)
        self.traffic.start()

    def restart(self, i):
        self.restarts.append(time.time())
        if i % 2:
            os.kill(self.server.pid, signal.SIGUSR1)
        else:
            self.server.ctl("graceful")

    def sample(self, t0):
        procs = server_processes(self.server.pid)
        self.seen.update(procs)
        by = {}
        for kind, rss, pss, fds in procs.values():
            n, r, p, f = by.get(kind, (0, 0, 0, 0))
            by[kind] = (n + 1, r + rss, p + pss, f + fds)
        self.samples.append((time.time() - t0, by))
        return by

    def failures(self):
        inside, outside = [], []
        for t, kind, what in self.traffic.failures:
            (inside if any(r <= t <= r + RESTART_WINDOW for r in self.restarts) else outside).append((kind, what))
        return inside, outside

    def stop(self):
        self.traffic.stop()
        self.took, left, self.socks = self.server.stop()
        time.sleep(0.5)
        stray = set()
        for p in self.seen:
            i = proc_info(p)
            if i and (self.server.root in i[1] or i[1].startswith("(wsgi:")):
                stray.add(p)
                try:
                    os.kill(p, signal.SIGKILL)  # reported below; a test leaves nothing behind
                except OSError:
                    pass
        self.left = sorted(set(left) | stray)


def fmt_failures(failures):
    """ (kind: what, n; ...) of the most frequent kinds of failure."""
    if not failures:
        return ""
    counts = {}
    for kind, what in failures:
        key = "%s: %s" % (kind, re.sub(r"\d{4,}", "N", what)[:80])
        counts[key] = counts.get(key, 0) + 1
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
    return " (" + "; ".join("%s x%d" % kv for kv in top) + ")"


def fmt_kb(kb):
    return "%.1f" % (kb / 1024.0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 minutes, ours only unless --reference-venv is given")
    ap.add_argument("--minutes", type=float, help="length of the soak (default 30; 2 with --quick)")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--maximum-requests", type=int, default=2000)
    ap.add_argument("--reference-venv", default=os.environ.get("MOD_WSGI_SOAK_REFERENCE_VENV"),
                    help="a venv holding mod_wsgi 6.1.1 (pip install mod_wsgi==6.1.1), readable by www-data; "
                         "its mod_wsgi-express runs the same traffic side by side")
    ap.add_argument("--modes", default="daemon,embedded")
    args = ap.parse_args(argv)
    minutes = args.minutes or (2 if args.quick else 30)
    interval = 60.0 if minutes >= 10 else 20.0
    restart_every = 60.0 if minutes >= 10 else 30.0
    if not os.access(reliability.EXPRESS, os.X_OK):
        sys.exit("%s not built: run `make build` (or set MOD_WSGI_BUILD)" % reliability.EXPRESS)
    impls = reliability.implementations(args.reference_venv)
    work = tempfile.mkdtemp(prefix="mwe-soak-", dir="/tmp")
    os.chmod(work, 0o755)
    with open(os.path.join(work, "soak.py"), "wb") as f:
        f.write(APP)
    with open(os.path.join(work, "soak-file.bin"), "wb") as f:
        f.write(os.urandom(FILE))
    for n in ("soak.py", "soak-file.bin"):
        os.chmod(os.path.join(work, n), 0o644)
    modes = [m for m in args.modes.split(",") if m]
    print("### Soak: %.0f minutes, %d connections per server, maximum-requests %d, a graceful restart every %.0f s"
          % (minutes, args.connections, args.maximum_requests, restart_every))
    servers = []
    missed = []
    ipc_before = ipc_snapshot()
    try:
        for impl, express in impls:
            for mode in modes:
                margs = ["--maximum-requests", str(args.maximum_requests)]
                if impl != "ours":
                    margs += REFERENCE_ARGS
                if mode == "embedded":
                    margs.append("--embedded-mode")
                s = Soaked(work, "%s %s" % (impl, mode), impl, mode, express, margs, args.connections, len(servers))
                servers.append(s)
        for s in servers:
            s.start()
        t0 = time.time()
        end = t0 + minutes * 60
        next_sample, next_restart, restart_no = t0 + interval, t0 + restart_every, 0
        for s in servers:
            s.sample(t0)
        while time.time() < end:
            time.sleep(0.2)
            now = time.time()
            if now >= next_restart and now < end - 5:
                # Staggered: one server at a time, a second apart.
                for i, s in enumerate(servers):
                    s.restart(restart_no)
                    time.sleep(1)
                restart_no += 1
                next_restart += restart_every
            if now >= next_sample:
                next_sample += interval
                print("\n#### minute %.1f" % ((now - t0) / 60))
                print("| server | type | processes | RSS MB | PSS MB | fds | requests so far | failed (in restarts) |")
                print("|---|---|---|---|---|---|---|---|")
                for s in servers:
                    by = s.sample(t0)
                    inside, outside = s.failures()
                    total = sum(s.traffic.done.values())
                    for kind in ("parent", "child", "daemon"):
                        if kind in by:
                            n, rss, pss, fds = by[kind]
                            print("| %s | %s | %d | %s | %s | %d | %d | %d (%d) |" % (
                                s.label, kind, n, fmt_kb(rss), fmt_kb(pss), fds, total, len(outside), len(inside)))
                sys.stdout.flush()
        for s in servers:
            s.sample(t0)
    finally:
        for s in servers:
            try:
                s.stop()
            except Exception as e:  # noqa: BLE001
                log("stopping %s: %s" % (s.label, e))
                s.left, s.socks, s.took = ["?"], [], 0
        time.sleep(1)
        ipc_left = sorted(ipc_snapshot() - ipc_before)
        shutil.rmtree(work, ignore_errors=True)

    print("\n#### Soak results (%.0f minutes)\n" % minutes)
    print("| server | requests by kind | retried (keep-alive closed) | failed in restart windows | failed outside "
          "| PSS slope MB/10 min by type | fds slope /10 min by type | stop took | left after stop | target |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    # Processes are replaced all the time (maximum-requests, restarts): a type's memory at a
    # sample depends on how old its processes are. Over 30 samples that averages out; over a
    # 2-minute run it does not, so the slopes are enforced on runs of 10 minutes or more only.
    slopes_enforced = minutes >= 10
    pss_limit, fds_limit = SLOPE_MB_PER_10MIN, SLOPE_FDS_PER_10MIN
    for s in servers:
        inside, outside = s.failures()
        warm = [smp for smp in s.samples if smp[0] >= min(120.0, 2 * interval)]
        pss_slopes, fd_slopes = {}, {}
        for kind in ("parent", "child", "daemon"):
            pts = [(t, by[kind][2] / 1024.0) for t, by in warm if kind in by]
            if len(pts) >= 2:
                pss_slopes[kind] = slope_per_10min(pts)
                fd_slopes[kind] = slope_per_10min([(t, by[kind][3]) for t, by in warm if kind in by])
        left = ["pid %s" % p for p in s.left] + ["socket %s" % f for f in s.socks]
        flat = (all(v <= pss_limit for v in pss_slopes.values()) and all(v <= fds_limit for v in fd_slopes.values()))
        ok = not outside and not left and (flat or not slopes_enforced)
        if s.impl == "ours" and not ok:
            missed.append(s.label)
        kinds = ", ".join("%s %d" % kv for kv in sorted(s.traffic.done.items()))
        print("| %s | %s | %d | %d%s | %d%s | %s | %s | %.1f s | %s | %s |" % (
            s.label, kinds, s.traffic.retried, len(inside), fmt_failures(inside), len(outside),
            fmt_failures(outside),
            ", ".join("%s %+.2f" % kv for kv in sorted(pss_slopes.items())),
            ", ".join("%s %+.1f" % kv for kv in sorted(fd_slopes.items())),
            s.took, ", ".join(left) or "nothing",
            ("must: 0 failed outside restarts, %sPSS slope <= %.0f MB/10 min, fds slope <= %.0f/10 min, "
             "nothing left: %s" % ("" if slopes_enforced else "(runs of 10 minutes or more) ", pss_limit, fds_limit,
                                   "met" if ok else "**missed**"))
            if s.impl == "ours" else "(reported)"))
    if ipc_left:
        print("\nNew System V IPC objects or /dev/shm entries after every server stopped (other programs on the "
              "machine may have made them): %s" % ", ".join(ipc_left))
        missed.append("IPC left: %s" % ", ".join(ipc_left))
    print("\n%s" % ("Every enforced target met." if not missed else "Missed: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
