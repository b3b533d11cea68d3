#!/usr/bin/env python3
"""The floor under every server: what a workload's application costs on its own.

A server cannot spend less CPU on a request than the application's own Python work plus the
front end's own work. This script measures the first directly: it imports the very
applications `bench/run.py` serves (from its work directory), calls each in a loop in one
process with an environ like Apache's, and prints the CPU time per call. With `--json` (a
`bench/run.py --json` file) it also prints, for each compared pair, the best ratio any server
fronted by Apache could reach: the peer's measured CPU per request divided by (Apache serving a
static file of the same response + the application alone), next to the target and the measured
ratio. A target above that bound cannot be met by making the WSGI layer or the relay cheaper.

Called in a loop, the application runs with hot caches and alone on a core; inside a loaded
server the same work costs more. For Django a second bound takes the application's cost
inside a server from the run itself: gunicorn gthread's CPU per request on Django minus on
hello (two small responses: its own HTTP handling is the same for both).

    python3 bench/floor.py                       # application CPU per call, per workload
    python3 bench/floor.py --json bench.json     # and the bounds for that run's pairs
"""

import argparse
import json
import os
import subprocess
import sys

WORK_DIR = "/var/tmp/mod_wsgi-bench"

# Runs inside the bench venv's Python (it has Django); prints one JSON line.
INNER = r'''
import io, json, os, sys, time
work, calls_per = sys.argv[1], int(sys.argv[2])
sys.path[:0] = [os.path.join(work, "apps", "generic"), os.path.join(work, "apps", "django")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
import importlib.util
def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.application
generic = load(os.path.join(work, "apps", "generic", "app.py"), "bench_generic")
django = load(os.path.join(work, "apps", "django", "benchsite", "wsgi.py"), "bench_django")
BODY = b"x" * (1024 * 1024)

def environ(path, method="GET", body=b""):
    env = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_CONNECTION": "keep-alive", "REQUEST_URI": path, "DOCUMENT_ROOT": "/var/www",
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "Apache", "mod_wsgi.version": (4, 9, 4),
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.multithread": True,
        "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.errors": sys.stderr,
        "wsgi.input": io.BytesIO(body),
    }
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
        env["CONTENT_TYPE"] = "application/octet-stream"
    return env

def start_response(status, headers, exc_info=None):
    return None

CASES = {
    "hello": (generic, "/hello", "GET", b""),
    "100k": (generic, "/100k", "GET", b""),
    "post1m": (generic, "/echo", "POST", BODY),
    "django": (django, "/", "GET", b""),
}

def one(app, path, method, body):
    result = app(environ(path, method, body), start_response)
    try:
        for chunk in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()

out = {}
for name, (app, path, method, body) in CASES.items():
    for _ in range(200):
        one(app, path, method, body)
    calls = calls_per // 20 if name == "post1m" else calls_per
    best = None
    for _ in range(5):
        start = time.process_time()
        for _ in range(calls):
            one(app, path, method, body)
        per = (time.process_time() - start) / calls * 1e6
        best = per if best is None else min(best, per)
    out[name] = best
print(json.dumps(out))
'''

# Which measured static-file run stands for Apache's own work on each workload's response.
FRONT_END = {"hello": "hello", "hello-c64": "hello", "django": "hello", "django-c64": "hello", "100k": "100k"}
APP_OF = {"hello-c64": "hello", "django-c64": "django"}
STATIC = "apache static file"


def measure_apps(work_dir, calls):
    python = os.path.join(work_dir, "venv", "bin", "python")
    if not os.path.exists(python):
        sys.exit(f"floor.py: {python} is missing; run `python3 bench/run.py --quick` once to create the venv and apps")
    done = subprocess.run([python, "-c", INNER, work_dir, str(calls)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"floor.py: measuring the applications failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def in_server_app_cost(cpu):
    """Django's own work as it costs inside a loaded server (cold caches, other threads and
    processes on the same cores): gunicorn gthread's CPU per request on Django minus on hello,
    two small responses whose HTTP handling is the same (not so for 100k or post1m, whose
    bodies gunicorn itself moves). Empty where the run lacks them."""
    hello = cpu.get("hello|gunicorn gthread 2x8")
    django = cpu.get("django|gunicorn gthread 2x8")
    return {"django": django - hello} if hello and django else {}


def bounds(run, apps):
    """One row per compared pair of the run: the best ratio an Apache-fronted server could reach,
    with the application's work measured alone (a strict floor) and inside a server."""
    cpu = {key: row.get("cpu_us_per_req") for key, row in run["summary"].items()}
    in_server = in_server_app_cost(cpu)
    rows = []
    for pair in run["ratios"]:
        workload, a, b = pair["workload"], pair["a"], pair["b"]
        front = cpu.get(f"{FRONT_END.get(workload, '')}|{STATIC}")
        app_name = APP_OF.get(workload, workload)
        app = apps.get(app_name)
        peer = cpu.get(f"{workload}|{b}")
        ours = cpu.get(f"{workload}|{a}")
        if not (a.startswith("ours") and front and app is not None and peer and ours):
            continue
        served = in_server.get(app_name)
        rows.append({
            "workload": workload, "a": a, "b": b, "target": pair.get("target"), "ratio": pair.get("ratio"),
            "cpu_ratio": peer / ours, "apache_us": front, "app_us": app, "app_in_server_us": served,
            "ours_us": ours, "peer_us": peer, "above_floor_us": ours - front - app, "best_ratio": peer / (front + app),
            "best_ratio_in_server": peer / (front + max(app, served)) if served is not None else None,
        })
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", default=WORK_DIR, help="bench/run.py's work directory (venv and apps)")
    parser.add_argument("--calls", type=int, default=4000, help="calls per timed batch (1 MB POST: a twentieth)")
    parser.add_argument("--json", metavar="PATH", help="a bench/run.py --json file: print the bounds for its pairs")
    args = parser.parse_args()
    apps = measure_apps(args.work_dir, args.calls)
    print("| workload | the application alone, CPU µs per call (best of 5 batches) |")
    print("|---|---:|")
    for name, us in apps.items():
        print(f"| {name} | {us:.1f} |")
    if not args.json:
        return
    with open(args.json) as f:
        run = json.load(f)
    print()
    print("| workload | A | B | A/B req/s | CPU B/A | target | Apache static µs | app alone µs | app in a server µs"
          " | A µs | B µs | best B/A (app alone) | best B/A (app in a server) |")
    print("|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in bounds(run, apps):
        target = f"≥ {r['target']}" if r["target"] else "(reference)"
        served = "–" if r["app_in_server_us"] is None else f"{r['app_in_server_us']:.0f}"
        best_served = "–" if r["best_ratio_in_server"] is None else f"{r['best_ratio_in_server']:.2f}"
        print(f"| {r['workload']} | {r['a']} | {r['b']} | {r['ratio']:.2f} | {r['cpu_ratio']:.2f} | {target}"
              f" | {r['apache_us']:.0f} | {r['app_us']:.0f} | {served} | {r['ours_us']:.0f} | {r['peer_us']:.0f}"
              f" | {r['best_ratio']:.2f} | {best_served} |")


if __name__ == "__main__":
    main()
