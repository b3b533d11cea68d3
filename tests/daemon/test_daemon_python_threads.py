"""Issue 29: python-threads=N, at most N of a daemon process's threads run a request at once
(the others wait for a turn without holding the GIL)."""
import threading
import time



def _app(opts):
    return ("WSGIDaemonProcess g threads=4 %s\n"
            "WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%%{GLOBAL}\n" % opts)


def _concurrent(a, path, n):
    """Starts n requests at once; returns the seconds until the last answered, and the bodies."""
    out = [None] * n

    def one(i):
        out[i] = a.get(path, timeout=30)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.time() - t0, out


def test_one_turn_serialises_requests(apache_factory):
    a = apache_factory(_app("python-threads=1"))
    assert a.get("/d/pid").status == 200
    elapsed, rs = _concurrent(a, "/d/sleep?0.6", 3)
    assert all(r.status == 200 for r in rs), rs
    assert elapsed >= 1.7, elapsed  # three 0.6 s requests, one at a time


def test_without_a_limit_threads_run_together(apache_factory):
    a = apache_factory(_app(""))
    assert a.get("/d/pid").status == 200
    elapsed, rs = _concurrent(a, "/d/sleep?0.6", 3)
    assert all(r.status == 200 for r in rs), rs
    assert elapsed < 1.5, elapsed


def test_bad_value_is_refused(apache_factory):
    a = apache_factory(_app("python-threads=-1"), start=False)
    code, out = a.configtest()
    assert code != 0
    assert "python-threads must be a number from 0 (no limit) to 1000, not '-1'" in out, out
