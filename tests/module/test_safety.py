"""Issue 10: memory and file-descriptor safety at the Swift/C boundary (embedded mode).

Each test provokes the situation in which the module used to touch memory or a descriptor it
no longer owned: a file bucket Apache sets aside after the app closed its file, bytes an app
thread frees while the module writes them without the GIL, an environ without wsgi.errors.
"""
import os
import socket
import time

import pytest

from apache_harness import module_apache, read_until_close

MB = 1024 * 1024

safe = module_apache(r"""
EnableSendfile On
WSGIEnableSendfile On
WSGIScriptAlias /safe @APPS@/safety.wsgi
""")


def _slow_client(a, path, rcvbuf=4096):
    """A connection that asks for `path` and reads nothing yet (a tiny receive window)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(30)
    s.connect(("127.0.0.1", a.port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
    return s


def _pid(a):
    r = a.get("/safe/pid")
    assert r.status == 200, r
    return int(r.body)


def _summary(body, expected_byte):
    return "%d bytes, %d of them %r, first other bytes: %r" % (
        len(body), body.count(expected_byte), expected_byte,
        body.replace(expected_byte, b"")[:40])


def test_sendfile_survives_apache_setting_the_file_aside(safe):
    """The app's file is closed (and its descriptor number reused by another request) while
    Apache still holds the file bucket for a slow client: the client must still get the file.

    The handler used to pass the app's own descriptor, without a flush and without APR's
    sendfile flag. Without the flag Apache maps the file into memory and mostly waits in the
    handler, so the hazard hid (an occasional truncated response here). With the flag (what
    WSGIEnableSendfile promises) Apache sends what the socket takes, sets the file bucket
    aside, the handler returns, the app closes its file, and Apache sends from a closed
    descriptor (a truncated response, every time) or from whatever took its number (here a
    file of 'B's opened by the next request). Fixed: Apache gets its own duplicate, owned by
    the request pool (enough on its own, measured), and a flush after the file bucket."""
    size = 8 * MB
    a_path = os.path.join(safe.dir, "file-of-A")
    b_path = os.path.join(safe.dir, "file-of-B")
    for p, byte in ((a_path, b"A"), (b_path, b"B")):
        with open(p, "wb") as f:
            f.write(byte * size)
        os.chmod(p, 0o644)
    pid = _pid(safe)
    idle = safe.connect()  # accepted now: its socket number is taken before the file's is freed
    slow = _slow_client(safe, "/safe/file?path=%s&marker=sent-file-closed" % a_path)
    # With the file handed to Apache without a flush, the handler returns (and the app closes
    # the file) while most of it is still waiting for the slow client. With the fix the handler
    # waits for the flush, so the marker only appears once the client reads.
    set_aside = safe.wait_marker("sent-file-closed", timeout=4) is not None
    idle.sendall(("GET /safe/hold?path=%s&marker=held&n=4&s=3 HTTP/1.1\r\nHost: x\r\n"
                  "Connection: close\r\n\r\n" % b_path).encode())
    assert safe.wait_marker("held", timeout=15) is not None
    head, body = read_until_close(slow)
    idle.close()
    assert head.startswith(b"HTTP/1.1 200"), head
    assert len(body) == size and body.count(b"A") == size, (
        "file bucket set aside before the app closed the file: %s; got %s"
        % (set_aside, _summary(body, b"A")))
    assert _pid(safe) == pid, "the Apache child must not have died"


@pytest.mark.parametrize("how", ["replace", "clear"])
def test_written_bytes_stay_alive_without_the_gil(safe, how):
    """The module writes an item of the response list without the GIL while another app thread
    drops the list's reference to it (replacing the item, or emptying the list): the module
    must hold its own reference until the bytes are written, and not read past the list."""
    size = 40 * MB  # above glibc's largest mmap threshold: freeing unmaps it at once
    pid = _pid(safe)
    slow = _slow_client(safe, "/safe/borrowed?mb=40&after=1&how=%s&marker=dropped-%s" % (how, how))
    assert safe.wait_marker("dropped-" + how, timeout=15) is not None
    head, body = read_until_close(slow)
    assert head.startswith(b"HTTP/1.1 200"), head
    # Emptied, the list has no "end" any more: the response stops after the first item.
    expected = size + 3 if how == "replace" else size
    assert len(body) == expected and body.count(b"a") == size, _summary(body, b"a")
    assert _pid(safe) == pid, "the Apache child must not have died"


@pytest.mark.parametrize("how", ["", "raise=1&token=gone-1"])
def test_app_deleting_wsgi_errors_does_not_crash(safe, how):
    """Issue 9 item 7: environ['wsgi.errors'] deleted by the app (then an exception)."""
    pid = _pid(safe)
    mark = safe.log_size()
    r = safe.get("/safe/no_errors?" + how)
    if how:
        assert r.status == 500
        safe.wait_log(r"RuntimeError: no wsgi.errors and an exception gone-1", since=mark)
    else:
        assert r.status == 200 and r.body == b"no errors stream"
    assert _pid(safe) == pid, "the Apache child must not have died"
    assert "exit signal" not in safe.log(since=mark)


@pytest.mark.ours_only  # 4.9.4 and 6.1.1 restore a non-exception as the pending error
def test_exc_info_that_is_not_an_exception_does_not_crash(safe):
    """start_response(..., exc_info) after the headers were sent re-raises exc_info: given
    something that is not an exception, CPython would be handed garbage (a segfault)."""
    pid = _pid(safe)
    mark = safe.log_size()
    try:
        safe.get("/safe/bad_exc_info")
    except Exception:
        pass  # the response was started: the connection is cut
    safe.wait_log(r"TypeError: exc_info must be a \(type, value, traceback\) tuple", since=mark)
    assert _pid(safe) == pid, "the Apache child must not have died"


@pytest.mark.ours_only  # 4.9.4 drops the connection, 6.1.1 answers 500
def test_readline_with_the_largest_size_does_not_crash(safe):
    """wsgi.input.readline(sys.maxsize) once the buffer has been read from: the limit used to
    overflow (a trap that killed the Apache child)."""
    pid = _pid(safe)
    r = safe.post("/safe/readline_max", b"line1\nline2\nline3")
    assert r.status == 200 and r.body == b"line1\n|line2\n", r
    assert _pid(safe) == pid, "the Apache child must not have died"


@pytest.mark.ours_only  # 4.9.4 and 6.1.1 let two threads write one response at once
def test_write_from_another_thread_during_a_write_is_refused(safe):
    """write() called by an app thread while the module is writing the response (GIL released):
    two writes at once would corrupt the request's brigade; the second one is refused."""
    pid = _pid(safe)
    slow = _slow_client(safe, "/safe/concurrent_write?mb=8&after=1&marker=concurrent")
    outcome = safe.wait_marker("concurrent", timeout=15)
    head, body = read_until_close(slow)
    assert outcome is not None and outcome.startswith("RuntimeError: write() called while"), outcome
    assert head.startswith(b"HTTP/1.1 200"), head
    assert body.count(b"a") == 8 * MB and b"B" not in body, _summary(body, b"a")
    assert _pid(safe) == pid, "the Apache child must not have died"
