"""--drain-timeout / --drain-delay: SIGTERM drains (in-flight requests finish, new connections
are refused, kept-alive connections close at a request boundary, exit status 0), as a real
PID 1 without a terminal (httpd exec'd in a PID namespace of its own) and as the child of the
command on a terminal; the timeout cuts what is left and says so; without the option SIGTERM
stays 4.9's immediate stop."""
import http.client
import os
import signal
import socket
import subprocess
import threading
import time

import pexpect
import pytest

from expresslib import EXPRESS, fetch, run, wait_for, wait_gone, write

APP = b"""
import os, time

def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path.startswith('/sleep/'):
        time.sleep(float(path.split('/')[2]))
    body = ('%s %s\\n' % (path, environ.get('mod_wsgi.request_id'))).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
"""


@pytest.fixture
def app(workdir):
    return write(os.path.join(workdir, "app.py"), APP)


@pytest.fixture
def procs(workdir):
    """Kills (SIGKILL, by process group) whatever a test started and left running."""
    started = []
    yield started.append
    for p in started:
        for pid in [p.pid] + children(p.pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            p.wait(timeout=10)
        except Exception:
            pass


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def server_args(app, workdir, port, *extra, log_to_terminal=True):
    logs = ["--log-to-terminal", "--log-level", "info"] if log_to_terminal else []
    return ["start-server", app, "--host", "127.0.0.1", "--port", str(port),
            "--server-root", os.path.join(workdir, "root")] + logs + list(extra)


def start_pid1(app, workdir, port, procs, *extra):
    """mod_wsgi-express as PID 1 of a new PID namespace, without a terminal: it execs httpd,
    which is then that namespace's PID 1 (what a container runs). Returns (unshare's Popen,
    httpd's pid as seen from here)."""
    p = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", EXPRESS] + server_args(app, workdir, port, *extra),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    procs(p)
    wait_for("http://127.0.0.1:%d/" % port, proc=p)
    kids = children(p.pid)
    assert len(kids) == 1, kids
    with open("/proc/%d/status" % kids[0]) as f:
        nspid = [line.split()[1:] for line in f if line.startswith("NSpid:")][0]
    assert nspid[-1] == "1", "httpd is PID 1 in its namespace: %s" % nspid
    with open("/proc/%d/comm" % kids[0]) as f:
        assert f.read().strip() in ("apache2", "httpd")
    return p, kids[0]


def start_exec(app, workdir, port, procs, *extra):
    """Without a terminal the command becomes httpd: its pid is httpd's."""
    p = subprocess.Popen([EXPRESS] + server_args(app, workdir, port, *extra), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    procs(p)
    wait_for("http://127.0.0.1:%d/" % port, proc=p)
    return p, p.pid


class InFlight(threading.Thread):
    """One request on its own connection, started now; .result is (status, headers, body) or an exception."""

    def __init__(self, port, path, conn=None):
        super().__init__(daemon=True)
        self.port, self.path, self.conn, self.result = port, path, conn, None
        self.start()

    def run(self):
        c = self.conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            c.request("GET", self.path)
            r = c.getresponse()
            self.result = (r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read())
        except Exception as e:  # noqa: BLE001 - what the client saw is the result
            self.result = e

    def get(self, timeout=60):
        self.join(timeout)
        assert not self.is_alive(), "request %s hung" % self.path
        return self.result


def connect_refused(port):
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def output(p):
    try:
        return p.stdout.read().decode(errors="replace")
    except Exception:
        return ""


def test_sigterm_drains_as_pid_1(app, workdir, port, procs):
    p, httpd = start_pid1(app, workdir, port, procs, "--drain-timeout", "20")
    slow = [InFlight(port, "/sleep/%s" % s) for s in ("2", "3")]
    time.sleep(0.5)
    t0 = time.time()
    os.kill(httpd, signal.SIGTERM)
    time.sleep(0.5)
    assert connect_refused(port), "a new connection is refused once the drain started"
    for r, s in zip(slow, ("2", "3")):
        status, headers, body = r.get()
        assert status == 200 and body.startswith(b"/sleep/%s " % s.encode()), r.result
        assert headers.get("connection") == "close"
    assert p.wait(timeout=30) == 0, "exit status 0 after a clean drain"
    elapsed = time.time() - t0
    assert 2.0 < elapsed < 10, elapsed
    out = output(p)
    assert "MW1800" in out and "Received SIGTERM: draining" in out, out
    assert "MW1802" in out and "every request in flight completed" in out, out
    assert "MW1803" not in out and "MW1807" not in out
    assert "AH00492" in out  # Apache's own graceful stop ran
    # The daemon process stopped cleanly (no shutdown-timeout, no SIGKILL).
    assert "MW1267" in out and "MW1266" not in out and "MW1269" not in out


def test_sigterm_drains_on_a_terminal(app, workdir, port, procs):
    root = os.path.join(workdir, "root")
    child = pexpect.spawn(EXPRESS, ["start-server"] + server_args(app, workdir, port, "--drain-timeout", "20", log_to_terminal=False)[1:],
                          timeout=30, encoding="utf-8")
    try:
        child.expect("Server URL")
        wait_for("http://127.0.0.1:%d/" % port)
        with open(os.path.join(root, "httpd.pid")) as f:
            httpd = int(f.read())
        assert httpd != child.pid, "on a terminal httpd is a child of the command"
        slow = InFlight(port, "/sleep/2")
        time.sleep(0.5)
        os.kill(child.pid, signal.SIGTERM)  # forwarded to httpd
        time.sleep(0.5)
        assert connect_refused(port)
        status, _, body = slow.get()
        assert status == 200 and body.startswith(b"/sleep/2 ")
        child.expect(pexpect.EOF, timeout=30)
        child.close()
        assert child.exitstatus == 0, (child.exitstatus, child.signalstatus)
        with open(os.path.join(root, "error_log")) as f:
            log = f.read()
        assert "MW1800" in log and "MW1802" in log, log
    finally:
        if child.isalive():
            os.killpg(child.pid, signal.SIGKILL)
        try:
            os.killpg(httpd, signal.SIGKILL)
        except (OSError, NameError):
            pass


def test_kept_alive_connections_close_at_a_request_boundary(app, workdir, port, procs):
    p, httpd = start_exec(app, workdir, port, procs, "--drain-timeout", "20")
    busy = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for c in (busy, idle):  # both kept alive after a first request
        c.request("GET", "/first")
        r = c.getresponse()
        assert r.status == 200 and r.read() and r.getheader("Connection") != "close"
    inflight = InFlight(port, "/sleep/2", conn=busy)
    time.sleep(0.5)
    os.kill(httpd, signal.SIGTERM)
    # The response in flight on a kept-alive connection arrives whole, then the connection closes.
    status, headers, body = inflight.get()
    assert status == 200 and body.startswith(b"/sleep/2 ") and headers.get("connection") == "close"
    # The idle kept-alive connection is closed by the server (an orderly end, not a reset).
    idle.sock.settimeout(10)
    assert idle.sock.recv(100) == b""
    assert p.wait(timeout=30) == 0


def test_drain_delay_keeps_serving_with_health_503(app, workdir, port, procs):
    p, httpd = start_exec(app, workdir, port, procs, "--drain-timeout", "20", "--drain-delay", "3",
                          "--health-url", "/healthz")
    url = "http://127.0.0.1:%d" % port
    assert fetch(url + "/healthz")[:2] == (200, b"OK\n")
    t0 = time.time()
    os.kill(httpd, signal.SIGTERM)
    # From the moment Apache's parent has taken the signal (kill(2) returns before that).
    while fetch(url + "/healthz")[0] != 503:
        assert time.time() - t0 < 1.0
        time.sleep(0.02)
    seen = []
    while time.time() - t0 < 2.5:
        status, body, headers = fetch(url + "/healthz")
        assert (status, body) == (503, b"draining\n")
        assert headers["Connection"] == "close"
        status, body, headers = fetch(url + "/during")
        assert status == 200 and body.startswith(b"/during ") and headers["Connection"] == "close"
        seen.append(time.time() - t0)
        time.sleep(0.2)
    assert len(seen) >= 5
    assert wait_gone(port, timeout=5) and time.time() - t0 >= 3.0
    assert p.wait(timeout=30) == 0
    out = output(p)
    assert "for 3 seconds (WSGIDrainDelay)" in out, out


@pytest.mark.parametrize("mode", ["daemon", "embedded"])
def test_drain_timeout_cuts_and_logs(app, workdir, port, procs, mode):
    extra = ["--drain-timeout", "3"] + (["--embedded-mode"] if mode == "embedded" else [])
    p, httpd = start_exec(app, workdir, port, procs, *extra)
    quick, slow = InFlight(port, "/sleep/1"), InFlight(port, "/sleep/30")
    time.sleep(0.5)
    t0 = time.time()
    os.kill(httpd, signal.SIGTERM)
    assert quick.get()[0] == 200
    cut = slow.get(timeout=20)
    assert isinstance(cut, Exception) or cut[0] >= 500, cut
    assert p.wait(timeout=30) == 0
    elapsed = time.time() - t0
    assert 3.0 <= elapsed < 9, elapsed
    out = output(p)
    assert "MW1803" in out and "1 request(s) still running are cut" in out, out
    if mode == "daemon":
        # The daemon process stops at once (not after its shutdown-timeout) and says why.
        assert "MW1804" in out and "drain timed out" in out, out
    else:
        # Apache's child busy in Python is killed past the timeout, not 9 s later.
        assert "MW1807" in out, out


def test_sigterm_right_after_a_graceful_restart_drains(app, workdir, port, procs):
    """A graceful restart (SIGUSR1) makes Apache install its own handlers again; a SIGTERM in
    the second before ours are back is held, not taken as Apache's immediate stop."""
    p, httpd = start_exec(app, workdir, port, procs, "--drain-timeout", "20")
    slow = InFlight(port, "/sleep/2")
    time.sleep(0.3)
    os.kill(httpd, signal.SIGUSR1)
    time.sleep(0.02)
    os.kill(httpd, signal.SIGTERM)
    status, _, body = slow.get()
    assert status == 200 and body.startswith(b"/sleep/2 ")
    assert p.wait(timeout=30) == 0
    out = output(p)
    assert "AH00493" in out and "MW1800" in out and "MW1802" in out and "AH00491" not in out, out


def test_second_sigterm_stops_at_once(app, workdir, port, procs):
    p, httpd = start_exec(app, workdir, port, procs, "--drain-timeout", "60")
    slow = InFlight(port, "/sleep/30")
    time.sleep(0.5)
    os.kill(httpd, signal.SIGTERM)
    time.sleep(1.0)
    assert p.poll() is None, "still draining"
    t0 = time.time()
    os.kill(httpd, signal.SIGTERM)
    assert p.wait(timeout=20) is not None and time.time() - t0 < 10
    assert isinstance(slow.get(), Exception) or slow.result[0] >= 500
    assert "MW1801" in output(p)


def test_without_drain_timeout_sigterm_stops_at_once(app, workdir, port, procs):
    p, httpd = start_exec(app, workdir, port, procs)
    with open(os.path.join(workdir, "root", "httpd.conf")) as f:
        conf = f.read()
    assert "WSGIDrainOnTerm" not in conf and "GracefulShutdownTimeout" not in conf
    slow = InFlight(port, "/sleep/5")
    time.sleep(0.5)
    os.kill(httpd, signal.SIGTERM)
    result = slow.get(timeout=20)
    assert isinstance(result, Exception), "4.9's SIGTERM cuts the request in flight: %r" % (result,)
    assert p.wait(timeout=30) == 0
    assert "MW1800" not in output(p)


def test_drain_options_render_and_are_checked(workdir, hello):
    root = os.path.join(workdir, "root")
    r = run(["setup-server", hello, "--server-root", root, "--drain-timeout", "30", "--drain-delay", "5",
             "--health-url", "/healthz", "--health-allow", "10.0.0.0/8"])
    assert r.returncode == 0, r.stderr
    with open(os.path.join(root, "httpd.conf")) as f:
        conf = f.read()
    for line in ("GracefulShutdownTimeout 30", "WSGIDrainOnTerm On", "WSGIDrainDelay 5",
                 "WSGIHealthURL '/healthz'", "WSGIHealthAllow 10.0.0.0/8"):
        assert line + "\n" in conf, line
    for args, message in (
        (["--drain-timeout", "0"], "--drain-timeout must be a number of seconds from 1 to 86400, not 0"),
        (["--drain-delay", "2"], "--drain-delay needs --drain-timeout"),
        (["--drain-timeout", "5", "--drain-delay", "5000"], "--drain-delay must be a number of seconds from 0 to 3600, not 5000"),
        (["--drain-timeout", "5", "--debug-mode"], "--drain-timeout has no effect in debug mode"),
        (["--health-url", "healthz"], "--health-url must be a URL path such as /healthz, not 'healthz'"),
        (["--health-url", "/m", "--metrics-url", "/m"], "--health-url and --metrics-url are both '/m'"),
        (["--health-allow", "127.0.0.1"], "--health-allow needs --health-url"),
        (["--health-url", "/h", "--health-allow", "localhost"], "--health-allow takes an IP address or a network"),
    ):
        r = run(["setup-server", hello, "--server-root", os.path.join(workdir, "bad")] + args)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
