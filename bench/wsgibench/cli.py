"""Options, the Bench object (all the parts together) and main()."""

import argparse
import atexit
import os
import signal
import sys
import time

from .common import DEFAULT_WORK, REPO, RUN_USER, log
from .environment import Environment
from .launch import Launch
from .machine import OtherWork
from .measure import Measure
from .procs import _on_signal, stop_all
from .report import Report
from .servers import PAIRS, SERVERS, ServerDef
from .workloads import WORKLOADS, WORKLOAD_BY_NAME


class Bench(Environment, Launch, Measure, Report):
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
        self.other_work = OtherWork()   # CPU used by other processes during the run
        self.failed = {}            # (server, workload) -> reason
        self.runs = []
        self.meta = {}
        self.env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8")
        self.env.pop("PYTHONPATH", None)
        self.env.pop("PYTHONHOME", None)
        self.servers = [s for s in SERVERS if not args.servers or any(
            f[1:] == s.name if f.startswith("=") else f in s.name for f in args.servers)]
        self.pairs = list(PAIRS)
        if args.baseline:
            # Another build of ours ("before") next to each of our servers, compared with it.
            servers = []
            for s in self.servers:
                servers.append(s)
                if s.impl == "ours":
                    before = ServerDef("before" + s.name[len("ours"):], "ours", s.mode, s.shape,
                                       note="--baseline build", exe=os.path.abspath(args.baseline))
                    servers.append(before)
                    self.pairs.append((s.name, before.name, None))
            self.servers = servers
        self.server_by_name = {s.name: s for s in self.servers}
        self.workloads = [WORKLOAD_BY_NAME[n] for n in args.workloads]
        if args.connections:
            for wl in self.workloads:
                wl.conns = args.connections
        self.setup_results = {"ours": [], "mod_wsgi": [], "errors": {}}
        self.startup_results = {}
        self.soak_results = []
        self.elapsed = 0.0
        self.interrupted = False

    # ------------------------------------------------------------------ setup


# --peers (issue 29): every server a user might pick, 2 x 8, the workloads and -c16.
PEER_SERVERS = ["=ours daemon 2x8", "=ours daemon 2x8 libpython", "=ours daemon 2x8 no next-request wait",
                "=ours embedded 2x8", "=mod_wsgi daemon 2x8",
                "=gunicorn gthread 2x8", "=uwsgi 2x8", "=granian 2x8", "=apache static file"]
PEER_WORKLOADS = ["hello", "100k", "django", "django-admin", "django-sqlite"]
PEER_CONNECTIONS = 16


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Benchmark this project's mod_wsgi-express against the real mod_wsgi-express, "
                    "gunicorn and Apache static files on this machine.")
    p.add_argument("--quick", action="store_true",
                   help="1 round, 2 s runs, hello + django only, no soak (under 2 minutes)")
    p.add_argument("--peers", action="store_true",
                   help="issue 29's table: ours (daemon, the same with libpython, embedded), mod_wsgi, gunicorn "
                        "gthread, uWSGI and granian, all 2 x 8, and Apache's static file, on %s at %d connections; "
                        "no soak (with --quick: 1 round of 2 s runs)" % (",".join(PEER_WORKLOADS), PEER_CONNECTIONS))
    p.add_argument("--connections", type=int,
                   help="client connections for every workload (default: each workload's own)")
    p.add_argument("--ours", metavar="PATH",
                   help="our mod_wsgi-express executable (default: .build/release/mod_wsgi-express, "
                        "built with 'swift build -c release' first)")
    p.add_argument("--no-build", action="store_true", help="do not run 'swift build -c release' first")
    p.add_argument("--baseline", metavar="PATH",
                   help="another mod_wsgi-express build (libmod_wsgi.so next to it): each of our "
                        "servers also runs as 'before ...' with it, alternated, and is compared with it"),
    p.add_argument("--rounds", type=int, help="rounds of A B A B (default 3; --quick 1)")
    p.add_argument("--duration", type=int, help="seconds per measured wrk run (default 3; --quick 2)")
    p.add_argument("--warmup", type=int,
                   help="at most this many 1 s wrk warm-up slices before each run; it stops when two "
                        "in a row agree within 10%% (default 4; --quick 3)")
    p.add_argument("--workloads", help="comma-separated subset of: %s" % ",".join(w.name for w in WORKLOADS))
    p.add_argument("--servers", help="comma-separated substrings (=NAME: that name exactly); only servers whose "
                                     "name contains one "
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
    if a.peers:
        a.servers = a.servers or ",".join(PEER_SERVERS)
        a.workloads = a.workloads or ",".join(PEER_WORKLOADS)
        a.connections = a.connections or PEER_CONNECTIONS
        a.soak = False if a.soak is None else a.soak
        a.setup_runs = a.setup_runs or 1
        a.startup_runs = a.startup_runs or 1
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
    bench.meta["other_cpu_share"] = bench.other_work.share()
    bench.summarize()
    md = bench.report()
    print(md)
    path = bench.write_json(md)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md + "\n")
    log("\nJSON: %s" % os.path.relpath(path))
