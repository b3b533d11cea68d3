#!/usr/bin/env python3
"""Hello-world throughput with and without the mod_wsgi API's costs, side by side.

Answers one question: does the API (events, metrics, the Prometheus endpoint's shared
counters) cost the hello-world path anything measurable? Each variant is served by
`mod_wsgi-express setup-server` + `apachectl start`, measured with wrk, in alternating
rounds (A B A B ...), and reported as the median requests/s and the ratio to the first.

Variants (each in embedded and daemon mode unless --modes says otherwise):

  plain       hello world, nobody subscribed, no --metrics-url  (the default path)
  metrics     the same with --metrics-url /metrics (a few relaxed atomic adds per request)
  subscribed  an app that called mod_wsgi.subscribe_events() (events built per request)
  baseline    hello world served by another build (--baseline PATH, e.g. one built from a
              commit before the API), when given

    python3 bench/api_overhead.py                          # ~3 min: 3 rounds x 5 s
    python3 bench/api_overhead.py --baseline /tmp/old/.build/release/mod_wsgi-express
    python3 bench/api_overhead.py --rounds 5 --duration 10 --modes daemon

Needs wrk and a release build (swift build -c release). Runs as root (the servers drop to
www-data). Traffic goes only to 127.0.0.1. Standard library only.
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
OURS = os.path.join(HERE, "..", ".build", "release", "mod_wsgi-express")

HELLO = b"""
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '14')])
    return [b'Hello, World!\\n']
"""

SUBSCRIBED = b"""
import mod_wsgi

def on_event(name, **event):
    pass

mod_wsgi.subscribe_events(on_event)

def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '14')])
    return [b'Hello, World!\\n']
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_200(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("%s did not answer 200 within %ss" % (url, timeout))


class Server:
    def __init__(self, express, app, mode, extra, work):
        self.port = free_port()
        self.root = tempfile.mkdtemp(prefix="api-bench-", dir=work)
        os.chmod(self.root, 0o755)
        args = [express, "setup-server", app, "--host", "127.0.0.1", "--port", str(self.port),
                "--server-root", os.path.join(self.root, "root")]
        if mode == "embedded":
            args.append("--embedded-mode")
        if os.getuid() == 0:
            args += ["--user", "www-data", "--group", "www-data"]
        p = subprocess.run(args + extra, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("setup-server failed: %s" % p.stderr.strip())
        self.ctl = os.path.join(self.root, "root", "apachectl")

    def __enter__(self):
        subprocess.run([self.ctl, "start"], check=True, capture_output=True, start_new_session=True)
        wait_200("http://127.0.0.1:%d/" % self.port)
        return self

    def __exit__(self, *exc):
        subprocess.run([self.ctl, "stop"], capture_output=True)
        time.sleep(1.0)
        shutil.rmtree(self.root, ignore_errors=True)


def wrk(port, duration, connections, threads=2):
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration,
                          "http://127.0.0.1:%d/" % port], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m or re.search(r"Non-2xx or 3xx responses", out):
        raise RuntimeError("wrk: errors or no rate:\n" + out)
    return float(m.group(1))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--ours", default=OURS, help="our mod_wsgi-express (default .build/release)")
    p.add_argument("--baseline", metavar="PATH", help="another build's mod_wsgi-express to compare with")
    p.add_argument("--modes", default="embedded,daemon")
    p.add_argument("--variants", default="plain,metrics,subscribed")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--warmup", type=int, default=2, help="seconds of wrk before each measured run")
    p.add_argument("--connections", type=int, default=12)
    p.add_argument("--work-dir", default="/var/tmp/mod_wsgi-api-bench")
    a = p.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("api_overhead: wrk is needed (apt-get install wrk)")
    os.makedirs(a.work_dir, exist_ok=True)
    os.chmod(a.work_dir, 0o755)
    apps = {}
    for name, src in (("hello", HELLO), ("subscribed", SUBSCRIBED)):
        apps[name] = os.path.join(a.work_dir, name + ".py")
        with open(apps[name], "wb") as f:
            f.write(src)
        os.chmod(apps[name], 0o644)

    variants = a.variants.split(",") + (["baseline"] if a.baseline else [])
    def spec(v):
        if v == "plain":
            return a.ours, apps["hello"], []
        if v == "metrics":
            return a.ours, apps["hello"], ["--metrics-url", "/metrics"]
        if v == "subscribed":
            return a.ours, apps["subscribed"], []
        if v == "baseline":
            return a.baseline, apps["hello"], []
        raise SystemExit("unknown variant %r" % v)

    for mode in a.modes.split(","):
        rates = {v: [] for v in variants}
        for r in range(a.rounds):
            for v in variants:
                express, app, extra = spec(v)
                with Server(express, app, mode, extra, a.work_dir) as s:
                    if a.warmup:
                        wrk(s.port, a.warmup, a.connections)
                    rate = wrk(s.port, a.duration, a.connections)
                rates[v].append(rate)
                print("%-8s round %d %-10s %9.0f req/s" % (mode, r + 1, v, rate), flush=True)
        first = statistics.median(rates[variants[0]])
        print("\n%s mode, median of %d rounds (%d s, %d connections):" % (mode, a.rounds, a.duration, a.connections))
        for v in variants:
            med = statistics.median(rates[v])
            spread = (max(rates[v]) - min(rates[v])) / med * 100 if med else 0
            print("  %-10s %9.0f req/s  %6.3f x %s  (spread %.1f%%)" % (v, med, med / first, variants[0], spread))
        print()


if __name__ == "__main__":
    main()
