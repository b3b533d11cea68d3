"""Connections between Apache's children and a daemon process are kept open and reused across
requests (DaemonConnectionPool, DaemonPoller). Their failure stories: a daemon killed or
restarted with kept connections open, a request whose body was consumed before its daemon
died (never sent again), Apache's graceful restart, maximum-requests and inactivity-timeout
with an idle kept connection, and an idle connection never occupying a daemon thread."""
import os
import re
import shutil
import signal
import socket
import threading
import time

import pytest

from daemon_harness import harness  # noqa: F401  (pytest plugin set-up)
from apache_harness import strace_while
from test_daemon_wire import exchange, request

# One Apache child, so that successive requests share its pool.
ONE_CHILD = ("StartServers 1\nServerLimit 1\nThreadsPerChild 10\nMaxRequestWorkers 10\n"
             "MinSpareThreads 1\nMaxSpareThreads 10\nThreadLimit 10\n")


def conf(options=""):
    return """
SetEnv MARKERS @MARKERS@
WSGIDaemonProcess g threads=2 display-name=%%{GROUP} %s
WSGIScriptAlias /p @APPS@/pool.wsgi process-group=g application-group=%%{GLOBAL}
WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%%{GLOBAL}
""" % options


def connected_sockets(pid):
    """Inodes of the connected UNIX sockets a process holds (not its listening socket)."""
    connected = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[5] == "03":
                connected.add(fields[6])
    held = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(target[8:-1])
    return held & connected


def send_and_read_response(s, data):
    """Sends one request on a kept connection and reads up to its end frame ('Z')."""
    s.sendall(data)
    got = b""
    while not got.endswith(b"Z\x04\x00\x00\x00\x00\x00\x00\x00"):
        chunk = s.recv(65536)
        assert chunk, got
        got += chunk
    return got


def test_one_connection_carries_successive_requests(apache_factory):
    a = apache_factory(conf(), mpm_conf=ONE_CHILD)
    pid = a.wait_daemons(1)[0]
    assert a.get("/p/pid").status == 200
    first = connected_sockets(pid)
    assert len(first) == 1, first
    for _ in range(10):
        r = a.get("/p/pid")
        assert r.status == 200 and int(r.body) == pid
    assert connected_sockets(pid) == first


def test_an_idle_kept_connection_occupies_no_daemon_thread(apache_factory):
    """threads=1: a connection left open after its request must not hold the only thread."""
    a = apache_factory(conf().replace("threads=2", "threads=1 socket-timeout=30"))
    pid = a.wait_daemons(1)[0]
    path = os.path.join(a.run, a.socket_files()[0])
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        send_and_read_response(s, request(a))
        # The connection stays open and idle; Apache's own requests are served meanwhile.
        t0 = time.time()
        r = a.get("/p/pid", timeout=10)
        assert r.status == 200 and int(r.body) == pid
        assert time.time() - t0 < 5
        # And the idle connection carries a second request.
        got = send_and_read_response(s, request(a))
        assert str(pid).encode() in got


def test_daemon_killed_with_kept_connections_next_requests_succeed(apache_factory):
    a = apache_factory(conf(), mpm_conf=ONE_CHILD)
    pid = a.wait_daemons(1)[0]
    for _ in range(5):
        assert a.get("/p/pid").status == 200
    assert connected_sockets(pid)
    os.kill(pid, signal.SIGKILL)
    new = a.wait_daemons(1, exclude=[pid])[0]
    for _ in range(10):
        r = a.get("/p/pid")
        assert r.status == 200 and int(r.body) == new, (r.status, r.body, a.log()[-3000:])
    assert "MW1262" not in a.log()


def test_body_consumed_then_daemon_dies_is_not_sent_again(apache_factory):
    a = apache_factory(conf(), mpm_conf=ONE_CHILD)
    pid = a.wait_daemons(1)[0]
    assert a.get("/p/pid").status == 200           # a kept connection to the daemon
    r = a.post("/p/consume_then_die", b"x" * 100000)
    assert r.status >= 500, r.status
    new = a.wait_daemons(1, exclude=[pid])[0]
    time.sleep(0.5)
    with open(a.marker("consumed")) as f:
        runs = f.read().split("\n")[:-1]
    assert runs == ["%d 100000" % pid], runs
    r = a.get("/p/pid")
    assert r.status == 200 and int(r.body) == new


def test_graceful_restart_with_kept_connections(apache_factory):
    a = apache_factory(conf())
    pid = a.wait_daemons(1)[0]
    for _ in range(5):
        assert a.get("/p/pid").status == 200
    # A request in flight across the restart, in an old child that keeps connections.
    inflight = {}
    t = threading.Thread(target=lambda: inflight.setdefault("r", a.get("/d/sleep?1.5", timeout=30)))
    t.start()
    time.sleep(0.5)
    a.graceful()
    new = a.wait_daemons(1, exclude=[pid], timeout=20)[0]
    for _ in range(10):
        r = a.get("/p/pid")
        assert r.status == 200 and int(r.body) == new
    t.join(30)
    assert inflight["r"].status == 200, inflight["r"]
    assert "MW1262" not in a.log()


def test_maximum_requests_with_kept_connections(apache_factory):
    a = apache_factory(conf("maximum-requests=3"), mpm_conf=ONE_CHILD)
    pids = set()
    for _ in range(12):
        r = a.get("/p/pid")
        assert r.status == 200, (r.status, a.log()[-3000:])
        pids.add(int(r.body))
    assert len(pids) >= 3, pids


def test_an_idle_kept_connection_is_not_activity(apache_factory):
    a = apache_factory(conf("inactivity-timeout=2"), mpm_conf=ONE_CHILD)
    pid = a.wait_daemons(1)[0]
    assert a.get("/p/pid").status == 200
    assert connected_sockets(pid)
    # Idle with the connection kept: the daemon restarts for inactivity all the same.
    new = a.wait_daemons(1, exclude=[pid], timeout=15)[0]
    r = a.get("/p/pid")
    assert r.status == 200 and int(r.body) == new


def test_child_waits_for_the_response_in_poll_not_recv(apache_factory):
    # A thread asleep in recv() on a UNIX socket is also woken when the peer reads what it
    # wrote (the kernel's write-space wake-up): the child would wake once more per request,
    # when the daemon reads the request. It waits in poll() for input instead.
    if not shutil.which("strace"):
        pytest.skip("needs strace (scripts/install-deps installs it)")
    a = apache_factory(ONE_CHILD + conf())
    assert a.get("/d/sleep?0.01").status == 200
    child = [p for p in a.children() if p not in a.daemon_pids()][0]

    def requests():
        for _ in range(5):
            assert a.get("/d/sleep?0.1").status == 200

    trace = strace_while([child], ["-e", "trace=recvfrom,poll"], os.path.join(a.dir, "strace.out"), requests)
    # Each request: the response is not there yet (a non-blocking recv finds nothing), then
    # the thread sleeps in poll() for input on the daemon socket.
    waits = re.findall(r"recvfrom\((\d+), [^\n]*MSG_DONTWAIT[^\n]*= -1 EAGAIN[^\n]*\n(?:\d+ +)?poll\(\[\{fd=\1, events=POLLIN\}\]",
                       trace)
    assert len(waits) >= 5, trace[-3000:]
