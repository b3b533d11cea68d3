"""Issue 2, point 4: errors in the app, str bodies, clients that go away."""
import re
import socket
import time

import pytest

from apache_harness import REFERENCE_VERSION, module_apache, error_level_lines

errs = module_apache(r"""
WSGIScriptAlias /b @APPS@/behave.wsgi
""")


def test_exception_gives_500_and_traceback(errs):
    mark = errs.log_size()
    r = errs.get("/b/exception?token=boom-1")
    assert r.status == 500
    assert b"boom-1" not in r.body, "the traceback must not leak to the client"
    # The header: 4.9's, or 6.x's naming the class (test_v61_requests.py has its exact words).
    errs.wait_log(r"(Exception occurred|RuntimeError exception raised) processing WSGI script '.*behave\.wsgi'",
                  since=mark)
    if REFERENCE_VERSION != "6.1":  # mod_wsgi 6.1.1 loses the traceback, printing only its last line
        errs.wait_log(r"Traceback \(most recent call last\):", since=mark)
        errs.wait_log(r'File ".*behave\.wsgi", line \d+, in application', since=mark)
    errs.wait_log(r"RuntimeError: app exploded boom-1", since=mark)
    errs.wait_access('"GET /b/exception?token=boom-1 HTTP/1.1" 500')


@pytest.mark.ours_only
def test_every_traceback_line_has_the_message_prefix(errs):
    """One log format: the traceback's lines carry the header's `MW1106: `, and the same
    Apache decoration (pid and thread, client)."""
    mark = errs.log_size()
    assert errs.get("/b/exception?token=prefix-1").status == 500
    errs.wait_log(r"RuntimeError: app exploded prefix-1", since=mark)
    lines = errs.log(mark).splitlines()
    first = next(i for i, l in enumerate(lines) if "exception raised processing WSGI script" in l)
    last = next(i for i, l in enumerate(lines) if "RuntimeError: app exploded prefix-1" in l)
    prefix = re.search(r"\[pid \d+:tid \d+\] \[client [^]]*\] MW1106: ", lines[first]).group(0)
    block = lines[first:last + 1]
    assert any("Traceback (most recent call last):" in l for l in block), block
    assert all(prefix in l for l in block), block


def test_exception_after_start_response_gives_500(errs):
    mark = errs.log_size()
    r = errs.get("/b/exception_after_start?token=boom-2")
    assert r.status == 500
    errs.wait_log(r"KeyError: 'late explosion boom-2'", since=mark)


@pytest.mark.parametrize("path", ["/b/str_body", "/b/str_body_plain"])
def test_str_body_gives_500_and_clear_line(errs, path):
    mark = errs.log_size()
    r = errs.get(path)
    assert r.status == 500
    assert b"a str, not bytes" not in r.body
    errs.wait_log(r"TypeError: (sequence of byte string values expected, value of type str found|"
                  r"response iterable must yield bytes, not str)", since=mark)


def _disconnect_midway(a, name, status="200 OK"):
    s = a.connect()
    s.sendall(("GET /b/stream?name=%s&chunks=3000&delay=0.002&status=%s HTTP/1.1\r\nHost: x\r\n"
               "User-Agent: disconnect-%s\r\n\r\n" % (name, status.replace(" ", "%20"), name)).encode())
    got = s.recv(65536)
    assert got.startswith(b"HTTP/1.1 " + status.encode()), got[:100]
    # read a little more, then reset the connection
    s.recv(65536)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


@pytest.mark.parametrize("status", ["200 OK", "203 Non-Authoritative Information"])
def test_client_disconnect_keeps_app_status_and_no_error_noise(errs, status):
    name = "dc" + status[:3]
    mark = errs.log_size()
    _disconnect_midway(errs, name, status)
    assert errs.wait_marker("close-" + name, timeout=15) is not None
    lines = errs.wait_access("disconnect-" + name)
    assert ('HTTP/1.1" %s ' % status[:3]) in lines[0], lines
    time.sleep(0.3)
    text = errs.log(mark)
    assert not error_level_lines(text), text
    assert "Traceback" not in text, text
    # the server is fine afterwards
    assert errs.get("/b/write").body == b"one;two;three"
