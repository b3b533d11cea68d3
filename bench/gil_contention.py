#!/usr/bin/env python3
"""What threads contending for the GIL cost a daemon process (issue 29, point 3).

    python3 bench/gil_contention.py                        # the Django admin login page, 2 x 8
    python3 bench/gil_contention.py --variants "default,switch=0.02,threads=4" --rounds 5

Starts ours in daemon mode (2 processes x 8 threads, the way bench/run.py starts it: run that
once first, it makes the venv and the Django project) once per variant, and in alternated
rounds loads each with wrk while `perf stat` counts, in the daemon processes only, the context
switches and the futex calls (the GIL is a mutex and a condition variable: each hand-over to a
waiting thread is a futex wake and a context switch). Per request it prints those counts and the
CPU time of the daemons and of the whole tree, and requests/s.

Variants: `default`; `switch=S` (--switch-interval S: how long a thread waiting for the GIL lets
the holder run before asking it to drop it); `threads=N` (N threads per process: fewer threads
wanting the GIL at once); `python-threads=K` (at most K of the 8 threads run Python at once,
--python-threads K); several joined with `+`.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wsgibench.cli import Bench, parse_args  # noqa: E402
from wsgibench.procs import process_tree, stop_all, tree_cpu_seconds  # noqa: E402
from wsgibench.servers import SERVER_BY_NAME, ServerDef  # noqa: E402
from wsgibench.workloads import WORKLOAD_BY_NAME  # noqa: E402


def variant_def(name):
    base = SERVER_BY_NAME["ours daemon 2x8"]
    flags = []
    for part in name.split("+"):
        if part == "default":
            continue
        key, _, value = part.partition("=")
        if key == "switch":
            flags += ["--switch-interval", value]
        elif key == "threads":
            flags += ["--threads", value]
        elif key == "python-threads":
            flags += ["--python-threads", value]
        else:
            sys.exit("gil_contention: unknown variant %r" % part)
    return ServerDef("daemon 2x8 " + name, "ours", "daemon", "2x8", flags=base.flags + flags)


def daemon_pids(root):
    out = []
    for pid in process_tree(root):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"wsgi:" in f.read():
                    out.append(pid)
        except OSError:
            pass
    return out


def perf_counts(pids, seconds):
    """Starts perf stat on pids for `seconds`; returns the Popen (read with perf_result)."""
    cmd = ["perf", "stat", "-x", ",", "-e", "context-switches,syscalls:sys_enter_futex",
           "-p", ",".join(map(str, pids)), "--", "sleep", str(seconds)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def perf_result(p):
    _, err = p.communicate(timeout=120)
    counts = {}
    for line in err.splitlines():
        f = line.split(",")
        if len(f) >= 3 and re.match(r"^\d+$", f[0]):
            counts[f[2]] = int(f[0])
    return counts.get("context-switches", 0), counts.get("syscalls:sys_enter_futex", 0)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", default="django-admin", choices=sorted(WORKLOAD_BY_NAME))
    p.add_argument("--variants", default="default,switch=0.001,switch=0.02,switch=0.1,threads=4,threads=2")
    p.add_argument("--ours", help="our mod_wsgi-express (default .build/release/mod_wsgi-express)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=4)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--work-dir", default="/var/tmp/mod_wsgi-bench")
    a = p.parse_args()
    argv = ["--no-build", "--warmup", "3", "--duration", str(a.duration), "--work-dir", a.work_dir,
            "--connections", str(a.connections), "--workloads", a.workload]
    if a.ours:
        argv += ["--ours", a.ours]
    bench = Bench(parse_args(argv))
    wl = bench.workloads[0]
    defs = [variant_def(v.strip()) for v in a.variants.split(",") if v.strip()]
    os.umask(0o022)
    bench.write_apps()
    bench.write_wrk_scripts()
    res = {sd.name: [] for sd in defs}
    try:
        for rnd in range(a.rounds):
            for sd in (defs if rnd % 2 == 0 else list(reversed(defs))):
                run = bench.start(sd, wl.app, wl.path)[0]
                try:
                    bench.warm_up(run.port, wl, wl.path)
                    pids = daemon_pids(run.popen.pid)
                    t0, d0 = tree_cpu_seconds(run.popen.pid)
                    perf = perf_counts(pids, a.duration)
                    r = bench.wrk(run.port, wl, wl.path, a.duration)
                    cs, futex = perf_result(perf)
                    t1, d1 = tree_cpu_seconds(run.popen.pid)
                finally:
                    run.stop()
                n = max(r["requests"], 1)
                res[sd.name].append({"rps": r["rps"], "tree": (t1 - t0) * 1e6 / n, "daemons": (d1 - d0) * 1e6 / n,
                                     "cs": cs / n, "futex": futex / n, "errors": r["errors"]})
                print("  round %d %-32s %6.0f req/s  tree %5.0f µs/req  daemons %5.0f  cs %.2f  futex %.2f" % (
                    rnd + 1, sd.name, r["rps"], res[sd.name][-1]["tree"], res[sd.name][-1]["daemons"],
                    cs / n, futex / n), file=sys.stderr, flush=True)
    finally:
        stop_all()
    print("%s, %d connections, %d rounds of %d s (medians; variants alternated)\n" % (
        wl.name, wl.conns, a.rounds, a.duration))
    print("| variant | req/s | CPU µs/req, tree | of which daemons | context switches/req (daemons) "
          "| futex calls/req (daemons) | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, v in res.items():
        med = lambda k: statistics.median(x[k] for x in v)  # noqa: E731
        print("| %s | %.0f | %.0f | %.0f | %.2f | %.2f | %d |" % (
            name, med("rps"), med("tree"), med("daemons"), med("cs"), med("futex"), sum(x["errors"] for x in v)))


if __name__ == "__main__":
    main()
