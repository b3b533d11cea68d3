#!/usr/bin/env python3
"""Restart storms: graceful restarts back to back under load, and full stop/start cycles of
start-server, side by side with mod_wsgi 6.1.1's mod_wsgi-express when a venv holding it is given.

    python3 tests/reliability/storm.py                200 graceful restarts, 50 stop/start cycles
    python3 tests/reliability/storm.py --quick        20 and 5
    python3 tests/reliability/storm.py --reference-venv /var/tmp/venv-mod_wsgi-6.1.1

Graceful storm (daemon mode, the default): apachectl graceful and SIGUSR1 in turn, each sent as
soon as Apache logged that the previous one finished ("resuming normal operations"), while 16
clients send requests (a new connection each). Then apachectl stop. Must: 0 failed requests,
no restart that does not finish within HANG seconds, nothing left after stop.

Stop/start cycles: `mod_wsgi-express start-server` (Apache in the foreground under the
command), a few requests, then SIGTERM as a service manager sends. Must: every cycle serves and
exits within HANG seconds, and leaves no process, no socket file, no System V semaphore or
shared-memory segment, no /dev/shm entry.

After every restart and every start, our metrics board (--metrics-url /metrics) must be
consistent: the processes it lists are exactly the server's live processes (Apache's parent,
children, daemon processes), within a few seconds of the restart, and it parses.
Only 127.0.0.1, bounded in count and time.
"""
import argparse
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reliability  # noqa: E402
import soak  # noqa: E402

HANG = 30.0
RESUMED = re.compile(r"resuming normal operations")


def metrics_pids(port):
    """The pids our metrics board lists, or an error string."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        text = r.read().decode(errors="replace")
    except OSError as e:
        return "GET /metrics: %s" % e
    finally:
        conn.close()
    if r.status != 200:
        return "GET /metrics: %d" % r.status
    pids = set()
    for line in text.splitlines():
        if line.startswith("mod_wsgi_process_resident_memory_bytes{"):
            m = re.search(r'pid="(\d+)"', line)
            if not m:
                return "a row without pid: %s" % line
            pids.add(int(m.group(1)))
    return pids


def board_consistent(port, root_pid, settle=10.0):
    """None when the board lists exactly the live processes of the server (within `settle`
    seconds: a process replaced by the restart takes a moment to go), else what differs."""
    deadline = time.time() + settle
    while True:
        listed = metrics_pids(port)
        live = set(soak.server_processes(root_pid))
        if isinstance(listed, set) and listed == live:
            return None
        if time.time() > deadline:
            if isinstance(listed, str):
                return listed
            return "listed, not live: %s; live, not listed: %s" % (sorted(listed - live), sorted(live - listed))
        time.sleep(0.25)


def leftovers(root, seen, ipc_before):
    """What a stopped server left: processes (killed after being counted), socket files, IPC."""
    stray = []
    for p in seen:
        i = soak.proc_info(p)
        if i and (root in i[1] or i[1].startswith("(wsgi:")):
            stray.append(p)
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
    socks = []
    for d, _, files in os.walk(root):
        socks += [os.path.join(d, f) for f in files if f.endswith(".sock") or f == "cgisock"]
    ipc = sorted(soak.ipc_snapshot() - ipc_before)
    return stray, socks, ipc


def graceful_storm(work, impl, express, restarts, report):
    args = ["--metrics-url", "/metrics"] if impl == "ours" else list(soak.REFERENCE_ARGS)
    s = reliability.Server(work, "%s storm" % impl, "ours" if impl == "ours" else "6.1.1", args, express=express)
    ipc_before = soak.ipc_snapshot()
    s.start()
    seen = set(soak.server_processes(s.pid))
    hung, inconsistent, t0 = 0, [], time.time()
    try:
        with reliability.Load(s.port, threads=16) as load:
            time.sleep(1)
            for i in range(restarts):
                before = len(RESUMED.findall(s.error_log()))
                if i % 2:
                    os.kill(s.pid, signal.SIGUSR1)
                else:
                    s.ctl("graceful")
                deadline = time.time() + HANG
                while len(RESUMED.findall(s.error_log())) <= before and time.time() < deadline:
                    time.sleep(0.02)
                if len(RESUMED.findall(s.error_log())) <= before:
                    hung += 1
                seen.update(soak.server_processes(s.pid))
                if impl == "ours":
                    bad = board_consistent(s.port, s.pid)
                    if bad:
                        inconsistent.append("after restart %d: %s" % (i + 1, bad))
                seen.update(soak.server_processes(s.pid))
            time.sleep(1)
        total, failed, slow = load.summary()
        took_storm = time.time() - t0
    finally:
        took, left, socks = s.stop()
    time.sleep(0.5)
    stray, socks2, ipc = leftovers(s.root, seen | set(left), ipc_before)
    ok = not failed and not slow and not hung and not inconsistent and not stray and not socks2 and not ipc
    if impl == "ours" and not ok:
        report.missed.append("graceful storm (%s)" % impl)
    report.rows_graceful.append((impl, restarts, "%.0f s" % took_storm, total, reliability.fmt_errors(failed), slow,
                                 hung, "; ".join(inconsistent[:3]) or ("0" if impl == "ours" else "(no board)"),
                                 "%.1f s" % took, describe(stray, socks2, ipc),
                                 ("must: 0 failed, 0 hung, board consistent, nothing left: %s" % ("met" if ok else
                                                                                                  "**missed**"))
                                 if impl == "ours" else "(reported)"))


def describe(stray, socks, ipc):
    out = []
    if stray:
        out.append("%d processes" % len(stray))
    if socks:
        out.append("%d sockets" % len(socks))
    if ipc:
        out.append("IPC: " + ", ".join(ipc[:3]))
    return ", ".join(out) or "nothing"


def start_stop_cycles(work, impl, express, cycles, report):
    with open(os.path.join(work, "app.py"), "wb") as f:
        f.write(reliability.APP)
    os.chmod(os.path.join(work, "app.py"), 0o644)
    hung = never_served = failed = 0
    inconsistent, strays, sockets, ipcs = [], 0, 0, []
    t0 = time.time()
    for c in range(cycles):
        port = reliability.free_port()
        root = os.path.join(work, "cycle-%s-%d" % (re.sub(r"\W+", "-", impl), c))
        args = [express, "start-server", os.path.join(work, "app.py"), "--port", str(port), "--host", "127.0.0.1",
                "--server-root", root]
        if impl == "ours":
            args += ["--metrics-url", "/metrics"]
            if reliability.SANITIZER_ENVVARS:
                args += ["--envvars-script", reliability.SANITIZER_ENVVARS]
        else:
            args += soak.REFERENCE_ARGS
        ipc_before = soak.ipc_snapshot()
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        seen = {p.pid}
        served = False
        deadline = time.time() + HANG
        while time.time() < deadline and p.poll() is None:
            try:
                if reliability.get(port, "/", timeout=5)[0] == 200:
                    served = True
                    break
            except OSError:
                time.sleep(0.1)
        if served:
            for _ in range(20):
                try:
                    failed += reliability.get(port, "/pid", timeout=10)[0] != 200
                except OSError:
                    failed += 1
            seen.update(soak.server_processes(p.pid))
            if impl == "ours":
                bad = board_consistent(port, p.pid)
                if bad:
                    inconsistent.append("cycle %d: %s" % (c + 1, bad))
            seen.update(soak.server_processes(p.pid))
        else:
            never_served += 1
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(HANG)
        except subprocess.TimeoutExpired:
            hung += 1
            p.kill()
            p.wait()
        time.sleep(0.3)
        stray, socks, ipc = leftovers(root, seen, ipc_before)
        strays += len(stray)
        sockets += len(socks)
        ipcs += ipc
        shutil.rmtree(root, ignore_errors=True)
    ok = not hung and not never_served and not failed and not inconsistent and not strays and not sockets and not ipcs
    if impl == "ours" and not ok:
        report.missed.append("stop/start cycles (%s)" % impl)
    report.rows_cycles.append((impl, cycles, "%.0f s" % (time.time() - t0), never_served, failed, hung,
                               "; ".join(inconsistent[:3]) or ("0" if impl == "ours" else "(no board)"),
                               strays, sockets, ", ".join(ipcs[:3]) or "0",
                               ("must: all served, 0 hung, board consistent, nothing left: %s"
                                % ("met" if ok else "**missed**")) if impl == "ours" else "(reported)"))


class Report(reliability.Report):
    def __init__(self):
        super().__init__()
        self.rows_graceful, self.rows_cycles = [], []


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="20 restarts and 5 cycles")
    ap.add_argument("--restarts", type=int)
    ap.add_argument("--cycles", type=int)
    ap.add_argument("--reference-venv", default=os.environ.get("MOD_WSGI_SOAK_REFERENCE_VENV"),
                    help="a venv holding mod_wsgi 6.1.1, readable by www-data")
    args = ap.parse_args(argv)
    restarts = args.restarts or (20 if args.quick else 200)
    cycles = args.cycles or (5 if args.quick else 50)
    impls = reliability.implementations(args.reference_venv)
    work = tempfile.mkdtemp(prefix="mwe-storm-", dir="/tmp")
    os.chmod(work, 0o755)
    with open(os.path.join(work, "app.py"), "wb") as f:
        f.write(reliability.APP)
    os.chmod(os.path.join(work, "app.py"), 0o644)
    report = Report()
    t0 = time.time()
    print("### Restart storms (%s)" % ", ".join(i for i, _ in impls))
    try:
        for impl, express in impls:
            graceful_storm(work, impl, express, restarts, report)
        report.table("%d graceful restarts back to back (apachectl graceful and SIGUSR1 in turn) under load "
                     "(16 clients), daemon mode, then apachectl stop" % restarts,
                     ["server", "restarts", "took", "requests", "failed", "slower than %ds" % reliability.HANG,
                      "restarts not finished in %ds" % HANG, "metrics board inconsistent", "stop took",
                      "left after stop", "target"], report.rows_graceful)
        for impl, express in impls:
            start_stop_cycles(work, impl, express, cycles, report)
        report.table("%d stop/start cycles of start-server (SIGTERM), daemon mode" % cycles,
                     ["server", "cycles", "took", "never served", "failed requests", "hung at stop",
                      "metrics board inconsistent", "processes left", "sockets left", "IPC left", "target"],
                     report.rows_cycles)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n%.0f s in all. %s" % (time.time() - t0, "Every enforced target met." if not report.missed
                                     else "Missed: " + "; ".join(report.missed)))
    return 1 if report.missed else 0


if __name__ == "__main__":
    sys.exit(main())
