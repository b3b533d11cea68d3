#!/usr/bin/env python3
"""What telemetry costs in requests/s: ours off, ours on, and mod_wsgi 6.1.1's on, side by side.

Each variant is hello world served by `mod_wsgi-express setup-server` + `apachectl start`,
measured with wrk in alternating rounds (A B C A B C ...), reported as the median requests/s
and the ratio to the first variant. With telemetry on, the datagrams go to a real consumer:
`mod_wsgi-telemetry dump` (from PyPI) listening on a UNIX socket, at --telemetry-interval 1.

  ours-off   our express, no telemetry (the default path: one test of a global per request)
  ours-on    our express, --telemetry-service unix:SOCKET
  real-on    mod_wsgi 6.1.1's express (pip-installed into the work directory's venv, compiled
             against this Apache), --telemetry-service unix:SOCKET

    python3 bench/telemetry_cost.py                       # ~4 min: 3 rounds x 5 s, both modes
    python3 bench/telemetry_cost.py --modes daemon --rounds 5 --duration 10

Needs wrk, apache2-dev (for mod_wsgi's build) and a release build. Runs as root (the servers
drop to www-data). Traffic goes only to 127.0.0.1. The machine's other load moves absolute
figures; the alternated ratios are what to read.
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from api_overhead import HELLO, OURS, Server, wrk  # noqa: E402

REAL = "mod_wsgi==6.1.1"
TELEMETRY = "mod_wsgi-telemetry==1.1.0"


def venv(work):
    v = os.path.join(work, "venv")
    py = os.path.join(v, "bin", "python")
    stamp = os.path.join(v, ".ready")
    if not os.path.exists(stamp):
        if not os.path.exists(py):
            subprocess.run(["/usr/bin/python3", "-m", "venv", v], check=True)
        print("pip install %s %s (mod_wsgi compiles; a minute or so) ..." % (REAL, TELEMETRY), flush=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", REAL, TELEMETRY],
                       check=True, env=dict(os.environ, APXS="/usr/bin/apxs"))
        subprocess.run(["chmod", "-R", "a+rX", v], check=True)
        open(stamp, "w").close()
    return v


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--ours", default=OURS)
    p.add_argument("--modes", default="embedded,daemon")
    p.add_argument("--variants", default="ours-off,ours-on,real-on")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--connections", type=int, default=12)
    p.add_argument("--work-dir", default="/var/tmp/mod_wsgi-telemetry-bench")
    a = p.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("telemetry_cost: wrk is needed (apt-get install wrk)")
    os.makedirs(a.work_dir, exist_ok=True)
    os.chmod(a.work_dir, 0o755)
    v = venv(a.work_dir)
    app = os.path.join(a.work_dir, "hello.py")
    with open(app, "wb") as f:
        f.write(HELLO)
    os.chmod(app, 0o644)
    sockdir = os.path.join(a.work_dir, "sock")
    os.makedirs(sockdir, exist_ok=True)
    os.chmod(sockdir, 0o777)
    sock = os.path.join(sockdir, "telemetry.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    dump = subprocess.Popen([os.path.join(v, "bin", "mod_wsgi-telemetry"), "dump", "--listen", "unix:" + sock,
                             "--socket-mode", "0666", "--format", "json"],
                            stdout=open(os.path.join(a.work_dir, "dump.json"), "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    telemetry = ["--telemetry-service", "unix:" + sock, "--telemetry-interval", "1"]
    spec = {
        "ours-off": (a.ours, []),
        "ours-on": (a.ours, telemetry),
        "real-on": (os.path.join(v, "bin", "mod_wsgi-express"), telemetry),
    }
    variants = a.variants.split(",")
    try:
        for mode in a.modes.split(","):
            rates = {name: [] for name in variants}
            for r in range(a.rounds):
                for name in variants:
                    express, extra = spec[name]
                    with Server(express, app, mode, extra, a.work_dir) as s:
                        if a.warmup:
                            wrk(s.port, a.warmup, a.connections)
                        rates[name].append(wrk(s.port, a.duration, a.connections))
                    print("%s round %d %-9s %8.0f req/s" % (mode, r + 1, name, rates[name][-1]), flush=True)
            first = statistics.median(rates[variants[0]])
            print("\n%s mode: median req/s, ratio to %s" % (mode, variants[0]))
            for name in variants:
                m = statistics.median(rates[name])
                print("  %-9s %8.0f  %.3f   (%s)" % (name, m, m / first, " ".join("%.0f" % x for x in rates[name])))
            print(flush=True)
    finally:
        os.killpg(dump.pid, signal.SIGTERM)
        dump.wait(10)


if __name__ == "__main__":
    main()
