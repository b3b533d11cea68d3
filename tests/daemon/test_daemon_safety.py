"""Issue 10: memory safety in daemon mode (the same request code runs on the daemon's side of
the socket), and the supervisor's stack dump giving back the references it takes."""
import socket
import time

import pytest

from daemon_harness import harness

MB = 1024 * 1024

CONF = """
WSGIDaemonProcess g threads=2 display-name=%{GROUP}
WSGIScriptAlias /safe @APPS@/safety.wsgi process-group=g application-group=%{GLOBAL}
"""


def _pid(a):
    r = a.get("/safe/pid", timeout=30)
    assert r.status == 200, (r, a.log()[-3000:])
    return int(r.body)


@pytest.mark.parametrize("how", ["", "raise=1&token=gone-2"])
def test_app_deleting_wsgi_errors_does_not_crash_the_daemon(apache_factory, how):
    """Issue 9 item 7, daemon mode: environ['wsgi.errors'] deleted (then an exception)."""
    a = apache_factory(CONF)
    pid = _pid(a)
    mark = a.log_size()
    r = a.get("/safe/no_errors?" + how, timeout=30)
    if how:
        assert r.status == 500
        a.wait_log(r"RuntimeError: no wsgi.errors and an exception gone-2", since=mark)
    else:
        assert r.status == 200 and r.body == b"no errors stream"
    assert _pid(a) == pid, "the daemon process must not have died:\n" + a.log(since=mark)[-3000:]


@pytest.mark.parametrize("how", ["replace", "clear"])
def test_written_bytes_stay_alive_without_the_gil_in_daemon(apache_factory, how):
    """The daemon writes a list item to the socket without the GIL (blocked: the client does
    not read) while another app thread drops the list's reference to it."""
    a = apache_factory(CONF)
    pid = _pid(a)
    size = 40 * MB
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(60)
    s.connect(("127.0.0.1", a.port))
    s.sendall(b"GET /safe/borrowed?mb=40&after=1&how=%s&marker=dropped HTTP/1.1\r\nHost: x\r\n"
              b"Connection: close\r\n\r\n" % how.encode())
    assert a.wait_marker("dropped", timeout=15) is not None
    head, body = harness.read_until_close(s)
    assert head.startswith(b"HTTP/1.1 200"), head
    expected = size + 3 if how == "replace" else size  # emptied: no "end" any more
    assert len(body) == expected and body.count(b"a") == size, \
        "%d bytes, %d of them 'a', other bytes: %r" % (len(body), body.count(b"a"),
                                                        body.replace(b"a", b"")[:40])
    assert _pid(a) == pid, "the daemon process must not have died"


@pytest.mark.slow
def test_stack_dump_gives_back_its_references(apache_factory):
    """request-timeout dumps every Python thread's stack: the names it reads from each frame's
    code object must not stay referenced (they used to leak two references per frame)."""
    a = apache_factory("""
WSGIDaemonProcess g threads=1 request-timeout=1 shutdown-timeout=6
WSGIScriptAlias /safe @APPS@/safety.wsgi process-group=g application-group=%{GLOBAL}
""")
    _pid(a)
    # The probe runs 4 s; the supervisor dumps its stack after ~1 s, then waits for it to end.
    try:
        a.get("/safe/stack_probe?s=4&marker=probe", timeout=30)
    except Exception:
        pass  # the process is stopping; the marker holds the result
    a.wait_log(r'executing file "[^"]*safety\.wsgi", line \d+, in stack_probe_5e1f', timeout=15)
    result = a.wait_marker("probe", timeout=15)
    assert result is not None, a.log()[-3000:]
    base, highest = map(int, result.split())
    assert highest == base, "the stack dump kept %d references to a frame's name" % (highest - base)
