#!/usr/bin/env python3
"""Embedded-mode A/B under the same load: every server runs at once, each with its own wrk.

    python3 bench/concurrent_ab.py hello --ours .build/release/mod_wsgi-express \\
        --baseline /var/tmp/old/mod_wsgi-express --rounds 5

bench/run.py measures one server at a time; when other work comes and goes on the machine
(other builds, other tests), consecutive runs see different loads and their req/s ratios
swing by tens of percent.  Here ours, the baseline build and the real mod_wsgi-express
(embedded mode, same processes x threads) are loaded at the same moments, and besides req/s
the figure compared is the CPU time each server's process tree spends per request.  Uses the
venv, applications and wrk scripts bench/run.py creates under --work-dir (run it once first).
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from wsgibench.common import DEFAULT_WORK, IS_ROOT, RUN_USER  # noqa: E402
from wsgibench.procs import tree_cpu_seconds  # noqa: E402

PATHS = {"hello": "/hello", "100k": "/100k", "post1m": "/echo", "django": "/"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workload", choices=sorted(PATHS))
    p.add_argument("--ours", required=True, help="our mod_wsgi-express (libmod_wsgi.so next to it)")
    p.add_argument("--baseline", help="another build of ours, compared too")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=int, default=4, help="seconds per round")
    p.add_argument("--connections", type=int, default=12, help="per server")
    p.add_argument("--shape", default="2x8", help="processes x threads")
    p.add_argument("--work-dir", default=DEFAULT_WORK)
    a = p.parse_args()
    w = a.work_dir
    venv = os.path.join(w, "venv")
    servers = {"ours": a.ours}
    if a.baseline:
        servers["baseline"] = a.baseline
    servers["mod_wsgi"] = os.path.join(venv, "bin", "mod_wsgi-express")
    if a.workload == "django":
        app, extra = os.path.join(w, "apps/django/benchsite/wsgi.py"), ["--python-path", os.path.join(w, "apps/django")]
    else:
        app, extra = os.path.join(w, "apps/generic/app.py"), []
    lua = os.path.join(w, "wrk", a.workload + ".lua")
    procs, t, path = {}, a.shape.split("x"), PATHS[a.workload]
    user = ["--user", RUN_USER, "--group", RUN_USER] if IS_ROOT else []
    try:
        for name, exe in servers.items():
            port = free_port()
            cmd = [exe, "start-server", app, "--host", "127.0.0.1", "--port", str(port), "--server-root",
                   os.path.join(w, "roots", "concurrent-" + name), "--embedded-mode",
                   "--processes", t[0], "--threads", t[1]] + user + extra
            env = dict(os.environ)
            if name != "mod_wsgi":
                cmd += ["--python-home", venv]
                env["VIRTUAL_ENV"] = venv
            procs[name] = (subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            start_new_session=True), port)
        for name, (pr, port) in procs.items():
            ready = "/" if a.workload == "django" else "/hello"
            for _ in range(300):
                r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                    "http://127.0.0.1:%d%s" % (port, ready)], capture_output=True, text=True)
                if r.stdout == "200":
                    break
                time.sleep(0.1)
            else:
                sys.exit("%s did not answer 200" % name)
        res = {n: [] for n in procs}
        for rnd in range(a.rounds + 1):          # round 0 warms up
            cpu0 = {n: tree_cpu_seconds(pr.pid)[0] for n, (pr, _) in procs.items()}
            runs = {n: subprocess.Popen(["wrk", "-t1", "-c%d" % a.connections, "-d%ds" % a.duration, "--latency",
                                         "-s", lua, "http://127.0.0.1:%d%s" % (port, path)],
                                        stdout=subprocess.PIPE, text=True) for n, (_, port) in procs.items()}
            outs = {n: r.communicate(timeout=a.duration + 60)[0] for n, r in runs.items()}
            for n, (pr, _) in procs.items():
                j = json.loads(next(l for l in outs[n].splitlines() if l.startswith("BENCHJSON "))[10:])
                cpu = tree_cpu_seconds(pr.pid)[0] - cpu0[n]
                if rnd and j["requests"]:
                    res[n].append((j["requests"] * 1e6 / j["duration_us"], cpu * 1e6 / j["requests"], j["p99_us"] / 1000))
        print("%s, %s, %d rounds of %d s, %d connections per server, all servers at once"
              % (a.workload, a.shape, a.rounds, a.duration, a.connections))
        for n, v in res.items():
            print("  %-9s req/s %7.0f   CPU µs/req %6.0f   p99 ms %7.2f" % (
                n, statistics.median(x[0] for x in v), statistics.median(x[1] for x in v),
                statistics.median(x[2] for x in v)))
        names = list(res)
        for i, x in enumerate(names):
            for y in names[i + 1:]:
                rr = [p[0] / q[0] for p, q in zip(res[x], res[y])]
                cc = [q[1] / p[1] for p, q in zip(res[x], res[y])]
                print("  %s/%s: req/s %.2f, CPU per request (B/A) %.2f" % (x, y, statistics.median(rr), statistics.median(cc)))
    finally:
        for pr, _ in procs.values():
            try:
                os.killpg(pr.pid, 15)
            except OSError:
                pass
        time.sleep(1)
        for pr, _ in procs.values():
            try:
                os.killpg(pr.pid, 9)
            except OSError:
                pass


if __name__ == "__main__":
    main()
