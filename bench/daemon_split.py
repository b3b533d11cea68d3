#!/usr/bin/env python3
"""Daemon mode's CPU per request, split between Apache's children and the daemon processes.

    python3 bench/daemon_split.py 100k --baseline /var/tmp/old/mod_wsgi-express --rounds 3

Starts ours in daemon mode (2 x 8), optionally a baseline build of ours, gunicorn gthread
(2 x 8) and Apache serving the same bytes as a static file, the way bench/run.py starts them
(run that once first: it makes the venv, the applications and the wrk scripts). Then, in
alternated rounds, runs wrk against each in turn and reads user + system CPU time of every
process of each server's tree from /proc/PID/stat before and after: for ours the Apache
children and the daemon processes are counted apart, so that the daemon side can be held
against gunicorn's whole cost and the child side against Apache's static-file cost.
"""

import argparse
import os
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wsgibench.cli import Bench, parse_args  # noqa: E402
from wsgibench.procs import stop_all, tree_cpu_seconds  # noqa: E402
from wsgibench.servers import SERVER_BY_NAME, ServerDef  # noqa: E402
from wsgibench.workloads import WORKLOAD_BY_NAME  # noqa: E402


def cpu_by_side(root):
    """(Apache side, daemon side) CPU seconds of a server's process tree so far."""
    total, daemons = tree_cpu_seconds(root)
    return total - daemons, daemons


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workload", choices=["hello", "100k", "django", "post1m"])
    p.add_argument("--ours", help="our mod_wsgi-express (default .build/release/mod_wsgi-express)")
    p.add_argument("--baseline", help="another build of ours, measured too")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=3)
    p.add_argument("--no-peers", action="store_true", help="only ours (and the baseline)")
    p.add_argument("--work-dir", help="bench/run.py's work directory (its default otherwise)")
    p.add_argument("--together", action="store_true",
                   help="load every server at the same moments, each with its own wrk (as "
                        "bench/concurrent_ab.py), instead of one after the other: steadier under "
                        "other work on the machine")
    a = p.parse_args()
    argv = ["--no-build", "--warmup", "2", "--duration", str(a.duration)]
    if a.ours:
        argv += ["--ours", a.ours]
    if a.work_dir:
        argv += ["--work-dir", a.work_dir]
    bench = Bench(parse_args(argv))
    wl = WORKLOAD_BY_NAME[a.workload]
    defs = [SERVER_BY_NAME["ours daemon 2x8"]]
    if a.baseline:
        defs.append(ServerDef("before daemon 2x8", "ours", "daemon", "2x8", exe=os.path.abspath(a.baseline)))
    if not a.no_peers:
        defs.append(SERVER_BY_NAME["gunicorn gthread 2x8"])
        if wl.static_path:
            defs.append(SERVER_BY_NAME["apache static file"])
    os.umask(0o022)
    bench.write_apps()
    bench.write_wrk_scripts()
    bench.write_static()
    running = {}
    try:
        for sd in defs:
            app = wl.app
            path = wl.static_path if sd.impl == "static" else wl.path
            running[sd.name] = (bench.start(sd, app, path)[0], path)
            bench.warm_up(running[sd.name][0].port, wl, path)
        res = {n: [] for n in running}
        for _ in range(a.rounds):
            if a.together:
                before = {name: cpu_by_side(run.popen.pid) for name, (run, _) in running.items()}
                with ThreadPoolExecutor(len(running)) as pool:
                    results = dict(zip(running, pool.map(
                        lambda item: bench.wrk(item[0].port, wl, item[1], a.duration), running.values())))
                for name, (run, path) in running.items():
                    (f0, d0), (f1, d1) = before[name], cpu_by_side(run.popen.pid)
                    r = results[name]
                    n = max(r["requests"], 1)
                    res[name].append((r["rps"], (f1 - f0) * 1e6 / n, (d1 - d0) * 1e6 / n, r["errors"]))
                continue
            for name, (run, path) in running.items():
                f0, d0 = cpu_by_side(run.popen.pid)
                r = bench.wrk(run.port, wl, path, a.duration)
                f1, d1 = cpu_by_side(run.popen.pid)
                n = max(r["requests"], 1)
                res[name].append((r["rps"], (f1 - f0) * 1e6 / n, (d1 - d0) * 1e6 / n, r["errors"]))
        print("%s: %d rounds of %d s, %d connections, servers %s; CPU µs per request"
              % (wl.name, a.rounds, a.duration, wl.conns, "loaded together" if a.together else "alternated"))
        for name, v in res.items():
            med = lambda i: statistics.median(x[i] for x in v)  # noqa: E731
            split = "  (Apache children %4.0f + daemons %4.0f)" % (med(1), med(2)) if med(2) else ""
            print("  %-22s req/s %7.0f   CPU µs/req %5.0f%s   errors %d"
                  % (name, med(0), statistics.median(x[1] + x[2] for x in v), split, sum(x[3] for x in v)))
    finally:
        for run, _ in running.values():
            run.stop()
        stop_all()


if __name__ == "__main__":
    main()
