"""Issue 4, points 2, 3 and 6: timeouts, graceful restarts, sockets, managed tasks."""
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from daemon_harness import harness


def _pid_of(a, path="/d/pid"):
    r = a.get(path, timeout=30)
    assert r.status == 200, (r, a.log()[-3000:])
    return int(r.body)


def _concurrent(a, paths, timeout=30):
    out = [None] * len(paths)

    def hit(i, p):
        try:
            out[i] = a.get(p, timeout=timeout)
        except Exception as e:  # pragma: no cover
            out[i] = e

    ts = [threading.Thread(target=hit, args=(i, p)) for i, p in enumerate(paths)]
    for t in ts:
        t.start()
        time.sleep(0.02)
    for t in ts:
        t.join()
    return out


@pytest.mark.slow
def test_request_timeout_dumps_stacks_and_replaces(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g threads=1 request-timeout=2 shutdown-timeout=1 display-name=%{GROUP}
WSGIScriptAlias /s @APPS@/sleepy.wsgi process-group=g application-group=%{GLOBAL}
WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%{GLOBAL}
""")
    old = _pid_of(a)
    t0 = time.time()
    r = a.get("/s?30", timeout=30)
    elapsed = time.time() - t0
    assert r.status == 502 and elapsed < 10, (r, elapsed)
    a.wait_log(r"Daemon process request time limit exceeded, stopping daemon process 'g'\.")
    a.wait_log(r"Dumping stack trace for active Python threads of main interpreter of daemon process 'g'\.")
    m = a.wait_log(r"Thread (\d+) executing file \"[^\"]*sleepy.wsgi\", line 7, in application")
    assert int(m.group(1)) > 2 ** 16  # the full pthread id, not a small counter
    new = _pid_of(a)
    assert new != old


@pytest.mark.slow
def test_request_timeout_several_threads_scales(apache_factory):
    # threads=4, request-timeout=2: a request may run 2 x (1 + ln 4) = 4.8 s (mod_wsgi 6.x)
    a = apache_factory("""
WSGIDaemonProcess g threads=4 request-timeout=2 shutdown-timeout=1
WSGIScriptAlias /s @APPS@/sleepy.wsgi process-group=g application-group=%{GLOBAL}
""")
    r = a.get("/s?3", timeout=30)
    assert r.status == 200
    assert "time limit" not in a.log()


@pytest.mark.slow
def test_queue_timeout_503_then_normal(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g threads=1 queue-timeout=1
WSGIScriptAlias /s @APPS@/sleepy.wsgi process-group=g application-group=%{GLOBAL}
WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%{GLOBAL}
""")
    _pid_of(a)
    out = _concurrent(a, ["/s?2"] * 4)
    statuses = sorted(r.status for r in out)
    assert statuses.count(200) >= 1 and statuses.count(503) >= 2, statuses
    a.wait_log(r"Queue timeout expired for WSGI daemon process 'g'")
    for _ in range(3):
        assert a.get("/s?0.1").status == 200


@pytest.mark.slow
def test_connect_timeout_when_backlog_full(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g threads=1 listen-backlog=1 connect-timeout=1
WSGIScriptAlias /s @APPS@/sleepy.wsgi process-group=g application-group=%{GLOBAL}
""")
    assert a.get("/s?0").status == 200
    out = _concurrent(a, ["/s?3"] * 7)
    statuses = [r.status for r in out]
    assert 503 in statuses and 200 in statuses, statuses
    a.wait_log(r"Unable to connect to WSGI daemon process 'g' on '[^']+' after \d+ attempts within connect-timeout of 1 seconds")
    assert a.get("/s?0", timeout=30).status == 200


@pytest.mark.slow
def test_sigusr1_under_load_no_failed_request(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g processes=1 threads=4 display-name=%{GROUP} graceful-timeout=5
WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%{GLOBAL}
""")
    old = _pid_of(a)
    stop = time.time() + 4.0
    results = []
    lock = threading.Lock()

    def load():
        while time.time() < stop:
            try:
                r = a.get("/d/pid", timeout=30)
                res = (r.status, int(r.body) if r.status == 200 else r.body)
            except Exception as e:
                res = ("exc", repr(e))
            with lock:
                results.append(res)

    ts = [threading.Thread(target=load) for _ in range(4)]
    for t in ts:
        t.start()
    time.sleep(1.0)
    os.kill(old, signal.SIGUSR1)
    for t in ts:
        t.join()
    failed = [r for r in results if r[0] != 200]
    assert not failed, failed[:5]
    pids = {r[1] for r in results}
    assert old in pids and len(pids) >= 2, pids
    assert len(results) > 20


def test_long_socket_prefix_is_a_startup_error(apache_factory):
    prefix = "/tmp/" + "p" * 300
    a = apache_factory("WSGISocketPrefix %s\nWSGIDaemonProcess g\nWSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g\n"
                       % prefix, start=False)
    p = subprocess.run(["setsid", harness.HTTPD, "-f", a.conf, "-k", "start"], capture_output=True, text=True,
                       timeout=30, env=harness.APACHE_ENV)
    assert p.returncode != 0
    text = a.log() + p.stdout + p.stderr
    assert re.search(r"longer than the 107 bytes a UNIX socket path can hold. Set a shorter WSGISocketPrefix "
                     r"\(with mod_wsgi-express: --socket-path\)", text), text
    time.sleep(0.3)
    assert not os.path.exists(a.pidfile) or not harness._alive(int(open(a.pidfile).read()))


def test_socket_prefix_and_rotation_off(apache_factory):
    a = apache_factory("WSGISocketPrefix @DIR@/run/sk\nWSGISocketRotation Off\n"
                       "WSGIDaemonProcess g\nWSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g\n")
    assert _pid_of(a)
    socks = a.socket_files()
    assert socks == ["sk.%d.u%d.1.sock" % (a.pid, harness.pwd.getpwnam(harness.RUN_USER).pw_uid)], socks
    st = os.stat(os.path.join(a.run, socks[0]))
    assert oct(st.st_mode & 0o777) == oct(0o600)


@pytest.mark.slow
def test_service_script_restarted_and_sigterm_is_systemexit(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess svc threads=0
WSGIImportScript @APPS@/service.py process-group=svc application-group=%{GLOBAL}
""")
    def starts():
        return sorted(m for m in os.listdir(a.markers) if m.startswith("service-start-"))
    deadline = time.time() + 15
    while time.time() < deadline and len(starts()) < 2:
        time.sleep(0.1)
    s = starts()
    assert len(s) == 2, (s, a.log()[-3000:])
    first, second = (int(x.rsplit("-", 1)[1]) for x in s) if os.path.exists(a.marker("service-end-" + s[0].rsplit("-", 1)[1])) \
        else reversed([int(x.rsplit("-", 1)[1]) for x in s])
    assert os.path.exists(a.marker("service-end-%d" % first))
    a.wait_log(r"Service script of daemon process 'svc' has exited; the process will be replaced")
    assert harness._alive(second)
    # SIGTERM must find the script inside its try: block (not still starting up).
    assert a.wait_marker("service-looping-%d" % second, timeout=15) is not None
    a.stop(timeout=15)
    assert os.path.exists(a.marker("service-systemexit-%d" % second)), a.log()[-3000:]
    assert not harness._alive(second)
