"""--health-url / --health-allow against a running server: 200 while every daemon process
group has a live process that accepts, 503 while none does (starting, killed, replaced) and
from the moment a drain starts; answered by Apache's child without Python."""
import http.client
import os
import signal
import subprocess
import threading
import time

from expresslib import fetch, wait_for, write

# Importing the application takes a while (two seconds when the marker file is there): a
# daemon process accepts only after it.
SLOW_START = b"""
import os, time
if os.path.exists(os.path.join(os.path.dirname(__file__), 'slow-start')):
    time.sleep(2)

def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/pid':
        body = str(os.getpid()).encode()
    elif path.startswith('/sleep/'):
        time.sleep(float(path.split('/')[2]))
        body = b'slept'
    else:
        body = b'app'
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
"""


def health(sr, path="/healthz", method="GET", source=None):
    c = http.client.HTTPConnection("127.0.0.1", sr.port, timeout=5,
                                   source_address=(source, 0) if source else None)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r.read(), r.getheader("Cache-Control")
    finally:
        c.close()


def daemon_pids(sr):
    """The daemon processes of the server (children of httpd whose title is its group's)."""
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(sr.pid())], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "(wsgi:" in line]


def wait_status(sr, want, timeout=20):
    deadline = time.time() + timeout
    seen = None
    while time.time() < deadline:
        try:
            seen = health(sr)
            if seen[0] == want:
                return seen
        except OSError as e:
            seen = e
        time.sleep(0.05)
    raise AssertionError("health never answered %s: last %r" % (want, seen))


def test_health_url_follows_daemon_processes(setup_server, workdir):
    app = write(os.path.join(workdir, "app.py"), SLOW_START)
    write(os.path.join(workdir, "slow-start"), b"")
    sr = setup_server([app, "--health-url", "/healthz", "--processes", "2"])
    with open(os.path.join(sr.root, "httpd.conf")) as f:
        assert "WSGIHealthURL '/healthz'\n" in f.read()
    assert sr.apachectl("start").returncode == 0
    # While both daemon processes import the application, none accepts: 503, naming the group.
    status, body, cache = wait_status(sr, 503, timeout=10)
    assert b"has no process accepting requests" in body and cache == "no-store", body
    assert wait_status(sr, 200)[1] == b"OK\n"
    assert wait_for(sr.url + "/pid")[0] == 200

    # One of two processes killed: the other still accepts.
    first, second = daemon_pids(sr)
    os.kill(first, signal.SIGKILL)
    time.sleep(0.3)
    assert health(sr)[0] == 200, sr.error_log()
    wait_status(sr, 200)
    # Both killed: 503 until a replacement has imported the application and accepts.
    replacement = [p for p in daemon_pids(sr) if p not in (first, second)]
    for pid in [second] + replacement:
        os.kill(pid, signal.SIGKILL)
    t0 = time.time()
    status, body, _ = wait_status(sr, 503, timeout=5)
    assert b"daemon process group" in body
    wait_status(sr, 200, timeout=20)
    assert time.time() - t0 >= 1.5, "200 only once a new process has loaded the application"
    assert fetch(sr.url + "/")[:2] == (200, b"app")


def test_health_url_needs_no_python(setup_server, workdir):
    """One daemon thread, busy in a long request: the probe is still answered at once,
    by Apache's child (no daemon round trip), and the request is not held up either."""
    app = write(os.path.join(workdir, "app.py"), SLOW_START)
    sr = setup_server([app, "--health-url", "/healthz", "--threads", "1", "--access-log"])
    sr.apachectl("start")
    wait_status(sr, 200)
    busy = threading.Thread(target=lambda: fetch(sr.url + "/sleep/3", timeout=10), daemon=True)
    busy.start()
    time.sleep(0.5)
    for _ in range(20):
        t = time.time()
        assert health(sr)[:2] == (200, b"OK\n")
        assert time.time() - t < 0.5
    busy.join(10)
    assert health(sr, method="HEAD")[:2] == (200, b"")
    assert health(sr, method="POST")[0] == 405
    # The probes never reached the application: its daemon process served one request.
    with open(os.path.join(sr.root, "access_log")) as f:
        log = f.read()
    assert log.count("GET /healthz") >= 20 and log.count("/sleep/3") == 1


def test_health_url_503_from_the_start_of_a_drain(setup_server, workdir):
    app = write(os.path.join(workdir, "app.py"), SLOW_START)
    sr = setup_server([app, "--health-url", "/healthz", "--drain-timeout", "10", "--drain-delay", "2"])
    sr.apachectl("start")
    wait_status(sr, 200)
    t0 = time.time()
    os.kill(sr.pid(), signal.SIGTERM)
    # As soon as Apache's parent has taken the signal (kill(2) returns before that).
    assert wait_status(sr, 503, timeout=1)[:2] == (503, b"draining\n")
    assert fetch(sr.url + "/")[:2] == (200, b"app")  # still serving during --drain-delay
    assert time.time() - t0 < 2


def test_health_allow(setup_server, workdir):
    app = write(os.path.join(workdir, "app.py"), SLOW_START)
    sr = setup_server([app, "--health-url", "/healthz", "--health-allow", "127.0.0.2", "--health-allow",
                       "10.0.0.0/8"])
    with open(os.path.join(sr.root, "httpd.conf")) as f:
        assert "WSGIHealthAllow 127.0.0.2 10.0.0.0/8\n" in f.read()
    sr.apachectl("start")
    wait_for(sr.url + "/")
    assert health(sr, source="127.0.0.1")[0] == 403
    assert health(sr, source="127.0.0.2")[:2] == (200, b"OK\n")
    assert "MW1805" in sr.error_log()


def test_health_url_in_embedded_mode(setup_server, workdir):
    app = write(os.path.join(workdir, "app.py"), SLOW_START)
    sr = setup_server([app, "--health-url", "/healthz", "--embedded-mode"])
    sr.apachectl("start")
    assert wait_status(sr, 200)[1] == b"OK\n"
    assert fetch(sr.url + "/")[:2] == (200, b"app")
