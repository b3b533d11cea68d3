#!/usr/bin/env python3
"""--reload-on-changes: how long from saving a module to the first response that shows it.

    python3 bench/reload_latency.py [--edits 10] [--ours PATH] [--real PATH]

Serves an application that imports a module, then saves that module --edits times the way
editors do (write a temporary file, rename it over the original) and polls every 5 ms until
the response shows the new value. Prints the median, min and max save->new-response latency
for ours (.build/release/mod_wsgi-express) and, when bench/run.py has created its venv
(/var/tmp/mod_wsgi-bench/venv, the real mod_wsgi-express pip-installed), for the real one.
Uses only the standard library; run as root (Apache's children run as www-data).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bench"))
from wsgibench.procs import free_port  # noqa: E402

WORK = "/var/tmp/mod_wsgi-bench/reload"
REAL = "/var/tmp/mod_wsgi-bench/venv/bin/mod_wsgi-express"

APP = """
import os
import mymod
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('%s %d' % (mymod.VALUE, os.getpid())).encode()]
"""


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except Exception:
        return None


def save(path, text):
    tmp = path + ".tmp~"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def measure(name, express, edits):
    d = os.path.join(WORK, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    os.chmod(d, 0o755)
    os.chmod(WORK, 0o755)
    app, mod, root = os.path.join(d, "app.py"), os.path.join(d, "mymod.py"), os.path.join(d, "root")
    with open(app, "w") as f:
        f.write(APP)
    save(mod, "VALUE = 'start'\n")
    port = free_port()
    args = [express, "setup-server", app, "--reload-on-changes", "--host", "127.0.0.1", "--port", str(port),
            "--server-root", root, "--working-directory", d]
    if os.getuid() == 0:
        args += ["--user", "www-data", "--group", "www-data"]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    subprocess.run([os.path.join(root, "apachectl"), "start"], check=True, capture_output=True, timeout=60)
    url = "http://127.0.0.1:%d/" % port
    try:
        deadline = time.monotonic() + 30
        while not (get(url) or "").startswith("start"):
            if time.monotonic() > deadline:
                sys.exit("%s: not serving %s" % (name, url))
            time.sleep(0.05)
        times = []
        for i in range(edits):
            value = "edit%d" % i
            t0 = time.monotonic()
            save(mod, "VALUE = %r\n" % value)
            while not (get(url) or "").startswith(value + " "):
                if time.monotonic() - t0 > 20:
                    sys.exit("%s: edit %d not served within 20 s" % (name, i))
                time.sleep(0.005)
            times.append(time.monotonic() - t0)
            time.sleep(0.3)
        return times
    finally:
        subprocess.run([os.path.join(root, "apachectl"), "stop"], capture_output=True, timeout=60)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--edits", type=int, default=10)
    p.add_argument("--ours", default=os.path.join(REPO, ".build", "release", "mod_wsgi-express"))
    p.add_argument("--real", default=REAL)
    a = p.parse_args()
    runs = [("ours", a.ours)]
    if os.access(a.real, os.X_OK):
        runs.append(("mod_wsgi-express", a.real))
    else:
        print("real mod_wsgi-express: not measured (%s missing: `python3 bench/run.py --quick` creates it)" % a.real)
    for name, exe in runs:
        t = measure(name, exe, a.edits)
        print("%-18s save -> new response over %d edits: median %.0f ms (min %.0f, max %.0f)"
              % (name, len(t), statistics.median(t) * 1000, min(t) * 1000, max(t) * 1000))


if __name__ == "__main__":
    main()
