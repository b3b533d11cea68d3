"""Issue 9, item 1: graceful restarts back to back under load. Apache's children used to hold
the daemon's listening socket (inherited at fork): a connection queued on an old generation's
socket was never accepted nor refused, so the request hung, and `stop` needed SIGKILL."""
import http.client
import os
import signal
import threading
import time

import pytest

from daemon_harness import harness

CLIENTS = 16
HANG = 10.0

# mod_wsgi-express's shape: one daemon of 5 threads behind 2 x 10 Apache workers.
MPM = ("StartServers 1\nServerLimit 4\nThreadsPerChild 10\nMaxRequestWorkers 20\n"
       "MinSpareThreads 10\nMaxSpareThreads 20\nThreadLimit 10\n")


def _load(port, stop, results):
    while not stop.is_set():
        started = time.time()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG + 20)
        try:
            conn.request("GET", "/d/pid", headers={"Connection": "close"})
            r = conn.getresponse()
            r.read()
            results.append((started, time.time() - started, r.status))
        except Exception as e:  # noqa: BLE001 - a reset or a timeout is a result here
            results.append((started, time.time() - started, type(e).__name__))
        finally:
            conn.close()


@pytest.mark.parametrize("rotation", ["Off", "On"])
def test_back_to_back_graceful_restarts_under_load(apache_factory, rotation):
    a = apache_factory("""
WSGIRestrictEmbedded On
WSGISocketRotation %s
WSGIDaemonProcess g processes=1 threads=5 display-name=%%{GROUP} graceful-timeout=15 shutdown-timeout=5
WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%%{GLOBAL}
""" % rotation, mpm_conf=MPM)
    a.wait_daemons(1)
    assert a.get("/d/pid").status == 200
    stop, results = threading.Event(), []
    clients = [threading.Thread(target=_load, args=(a.port, stop, results)) for _ in range(CLIENTS)]
    for t in clients:
        t.start()
    try:
        time.sleep(3)
        for _ in range(4):
            os.kill(a.pid, signal.SIGUSR1)  # apachectl graceful
            time.sleep(3)
    finally:
        stop.set()
        for t in clients:
            t.join(HANG + 30)
    hung = [r for r in results if r[1] > HANG]
    failed = [r for r in results if r[2] != 200]
    assert results and not hung, "%d of %d requests took more than %ss: %r\n%s" % (
        len(hung), len(results), HANG, hung[:5], a.log()[-3000:])
    assert not failed, "%d of %d requests failed: %r\n%s" % (len(failed), len(results), failed[:10], a.log()[-3000:])
    # Stop with nothing left behind and without Apache having to SIGKILL its children.
    kids = a.children()
    mark = a.log_size()
    t0 = time.time()
    a.stop(timeout=20)
    took = time.time() - t0
    log = a.log(since=mark)
    assert "AH00045" not in log and "AH00046" not in log, log[-3000:]
    assert took < 10, (took, log[-3000:])
    assert not [k for k in kids if harness._alive(k)]
    assert a.socket_files() == []


def _listener_inodes(path):
    # The kernel lists a socket under the name it was bound to: the module binds it under a
    # staging name of the same length (the path's last character replaced by "~") and renames
    # it into place once it has its owner and mode.
    names = {path, path[:-1] + "~"}
    with open("/proc/net/unix") as f:
        next(f)
        return {int(p[6]) for p in (line.split() for line in f) if len(p) >= 8 and p[7] in names and p[5] == "01"}


def _holders(inodes, pids):
    out = []
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:[") and int(link[8:-1]) in inodes:
                out.append(pid)
    return out


def test_only_the_parent_and_the_daemon_hold_the_listening_socket(apache_factory):
    a = apache_factory("""
WSGIRestrictEmbedded On
WSGIDaemonProcess g processes=1 threads=2 display-name=%{GROUP}
WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%{GLOBAL}
""", mpm_conf=MPM)
    daemons = a.wait_daemons(1)
    assert a.get("/d/pid").status == 200
    socks = a.socket_files()
    assert len(socks) == 1
    inodes = _listener_inodes(os.path.join(a.run, socks[0]))
    assert inodes
    workers = [p for p in a.children() if p not in daemons]
    assert workers
    assert _holders(inodes, workers) == []
    assert _holders(inodes, [a.pid]) == [a.pid] and _holders(inodes, daemons) == daemons


def test_stop_with_requests_in_flight_and_queued(apache_factory):
    """8 clients on a 5-thread daemon: 5 requests run, 3 wait in the socket's queue. Stop must not
    wait on the queued ones (their listener is closed and they give up at once), leave nothing
    behind, and need no SIGKILL."""
    a = apache_factory("""
WSGIRestrictEmbedded On
WSGISocketRotation Off
WSGIDaemonProcess g processes=1 threads=5 display-name=%{GROUP} shutdown-timeout=5
WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%{GLOBAL}
""", mpm_conf=MPM)
    a.wait_daemons(1)
    stop, results = threading.Event(), []

    def client():
        while not stop.is_set():
            t0 = time.time()
            try:
                get = http.client.HTTPConnection("127.0.0.1", a.port, timeout=HANG + 20)
                get.request("GET", "/d/sleep?1")
                results.append((t0, time.time() - t0, get.getresponse().status))
            except Exception as e:  # noqa: BLE001
                results.append((t0, time.time() - t0, type(e).__name__))
                time.sleep(0.05)

    clients = [threading.Thread(target=client) for _ in range(8)]
    for t in clients:
        t.start()
    time.sleep(1.5)
    kids = a.children()
    mark = a.log_size()
    t0 = time.time()
    a.stop(timeout=20)
    took = time.time() - t0
    stop.set()
    for t in clients:
        t.join(HANG + 30)
    log = a.log(since=mark)
    assert took < 6, (took, log[-3000:])
    assert "AH00045" not in log and "AH00046" not in log, log[-3000:]
    assert not [r for r in results if r[1] > HANG], results
    assert not [k for k in kids if harness._alive(k)]
    assert a.socket_files() == []
