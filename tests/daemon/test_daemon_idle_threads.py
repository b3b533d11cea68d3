"""Idle daemon threads wait in the process's poller together; stopping wakes them all.

Every idle worker thread of a daemon process waits for a connection in the same epoll set (no
thread hands the wait to another). When the process stops taking requests, it must wake them
all at once: the process exits only after joining them, so a thread left waiting for its
poll timeout would hold every graceful restart for that long.
"""
import threading
import time

from daemon_harness import harness, DaemonApache  # noqa: F401  (fixtures)


def _app(group_opts):
    return ("WSGIDaemonProcess g %s\n"
            "WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%%{GLOBAL}\n" % group_opts)


def _pid(a):
    r = a.get("/d/pid", timeout=30)
    assert r.status == 200, (r, a.log()[-3000:])
    return int(r.body)


def _gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_idle_threads_do_not_delay_a_graceful_restart(apache_factory):
    # 16 threads, all idle but the one that serves the last request it may take.
    a = apache_factory(_app("threads=16 maximum-requests=1"))
    for _ in range(3):
        first = _pid(a)
        start = time.monotonic()
        while not _gone(first) and time.monotonic() - start < 10:
            time.sleep(0.02)
        took = time.monotonic() - start
        assert _gone(first), a.log()[-3000:]
        # The threads' poll timeout is 5 s: woken by the stop, the process is gone at once.
        assert took < 2.5, (took, a.log()[-3000:])
        a.wait_log(r"reached maximum-requests=1; restarting gracefully")


def test_many_threads_serve_concurrent_requests_on_kept_connections(apache_factory):
    """With every idle thread waiting on the poller, concurrent requests on the children's
    kept connections each find a thread: 8 slow requests at once take one sleep, not eight."""
    a = apache_factory(_app("threads=8"))
    _pid(a)
    results = []

    def one():
        r = a.get("/d/sleep?1", timeout=30)
        results.append(r.status)

    start = time.monotonic()
    ts = [threading.Thread(target=one) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    took = time.monotonic() - start
    assert results == [200] * 8, (results, a.log()[-3000:])
    assert took < 4, took
