"""Issue 2, point 3 (response side): start_response validation, exc_info, write(), Content-Length,
close(), HEAD."""
import re
import socket
import time

import pytest

from apache_harness import REFERENCE_VERSION, module_apache, parse_raw

resp = module_apache(r"""
WSGIScriptAlias /b @APPS@/behave.wsgi
""")


def raw_get(a, path, method="GET"):
    return a.raw(("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % (method, path)).encode())


# The header line of an exception's report: mod_wsgi 4.9's, or 6.x's naming the class.
EXC_LINE = r"(Exception occurred|\w+ exception raised) processing WSGI script '.*behave\.wsgi'"


def per_version(of_4_9, of_6_1):
    """What mod_wsgi 4.9 says, or 6.1 (which this project follows)."""
    return of_4_9 if REFERENCE_VERSION == "4.9" else of_6_1


@pytest.mark.parametrize("path,message", [
    ("/b/status_bad", per_version(r"ValueError: status code is not a 3 digit integer",
                                  r"ValueError: status code must be a 3 digit integer")),
    ("/b/status_int", per_version(r"TypeError: expected unicode object, value of type int found",
                                  r"TypeError: must be str, not int")),
    ("/b/header_nonlatin", per_version(r"ValueError: unicode object contains non latin-1 characters",
                                       r"UnicodeEncodeError: 'latin-1' codec can't encode character")),
    ("/b/header_crlf", per_version(r"ValueError: carriage return/line feed character present in header value",
                                   r"ValueError: carriage return/line feed character in header value")),
    ("/b/header_lf", per_version(r"ValueError: carriage return/line feed character present in header value",
                                 r"ValueError: carriage return/line feed character in header value")),
    ("/b/header_name_crlf", per_version(r"ValueError: control character present in header name",
                                        r"ValueError: control character in header name")),
    ("/b/header_not_tuple", per_version(
        r"TypeError: list of tuple values expected for headers, value of type str found",
        r"TypeError: each header must be a 2-tuple, not str")),
])
def test_start_response_validation(resp, path, message):
    mark = resp.log_size()
    raw = raw_get(resp, path)
    status, headers, body = parse_raw(raw)
    assert status == 500, raw[:500]
    names = [k.lower() for k, v in headers]
    assert "x-bad" not in names and "x-injected" not in names, raw[:500]
    assert b"X-Injected" not in raw.split(b"\r\n\r\n")[0]
    assert b"never" not in body
    resp.wait_log(EXC_LINE, since=mark)
    resp.wait_log(message, since=mark)


@pytest.mark.mod_wsgi_61
@pytest.mark.parametrize("path,line", [
    ("/b/status_bad", "ValueError: status code must be a 3 digit integer: b'abc'"),
    ("/b/header_crlf", "ValueError: carriage return/line feed character in header value: "
                       "b'a\\\\r\\\\nX-Injected: yes'"),
    ("/b/header_name_crlf", "ValueError: control character in header name: b'X-Bad\\\\r\\\\nX-Injected'"),
    ("/b/header_nonlatin", "UnicodeEncodeError: 'latin-1' codec can't encode character '\\\\u2603' in position 5: "
                           "ordinal not in range(256)"),
])
def test_bad_status_or_header_is_named_in_the_log(resp, path, line):
    """mod_wsgi 4.9 says what is wrong but not which value; 6.x names it (the bytes' repr, so a
    CR/LF in it never reaches the log or the client raw; Apache escapes backslashes)."""
    mark = resp.log_size()
    raw = raw_get(resp, path)
    assert parse_raw(raw)[0] == 500 and b"X-Injected" not in raw
    resp.wait_log(re.escape(line), since=mark)


def test_start_response_twice_before_output_second_wins(resp):
    """As mod_wsgi 4.9 (not PEP 3333's fatal error): a user moving over sees no new 500."""
    raw = raw_get(resp, "/b/twice")
    status, headers, body = parse_raw(raw)
    assert status == 201 and body == b"second wins", raw[:500]
    names = [k for k, v in headers]
    assert "X-Second" in names and "X-First" not in names


def test_start_response_again_after_output_raises(resp):
    mark = resp.log_size()
    raw = raw_get(resp, "/b/twice_after_output")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and b"never" not in raw
    resp.wait_log(EXC_LINE, since=mark)
    resp.wait_log(per_version(r"RuntimeError: headers have already been sent",
                              r"RuntimeError: start_response\(\) called more than once without exc_info"), since=mark)


def test_start_response_exc_info_not_a_tuple_raises(resp):
    mark = resp.log_size()
    raw = raw_get(resp, "/b/exc_info_not_tuple")
    assert parse_raw(raw)[0] == 500 and b"never" not in raw
    resp.wait_log(per_version(r"RuntimeError: exception info must be a tuple",
                              r"RuntimeError: start_response\(\) argument 'exc_info' must be a 3-tuple or None"),
                  since=mark)


def test_exc_info_before_output_replaces_headers(resp):
    raw = raw_get(resp, "/b/exc_info_before?token=x1")
    status, headers, body = parse_raw(raw)
    assert raw.startswith(b"HTTP/1.1 500 Oops\r\n")
    names = [k for k, v in headers]
    assert "X-Second" in names and "X-First" not in names
    assert body == b"custom error page"


def test_exc_info_after_output_reraises(resp):
    mark = resp.log_size()
    raw = raw_get(resp, "/b/exc_info_after?token=x2")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"first chunk;" in body
    assert b"never" not in body
    assert not body.endswith(b"0\r\n\r\n"), "a truncated chunked response must not be terminated cleanly"
    resp.wait_log(r"ValueError: late failure x2", since=mark)


def test_write_callable(resp):
    r = resp.get("/b/write")
    assert r.status == 200 and r.body == b"one;two;three"
    r = resp.get("/b/write_only")
    assert r.status == 200 and r.body == b"abcdef" and r.header("Content-Length") == "6"


def test_content_length_cuts_extra_bytes(resp):
    raw = raw_get(resp, "/b/cl_extra")
    status, headers, body = parse_raw(raw)
    assert status == 200 and body == b"01234"
    assert dict(headers)["Content-Length"] == "5"


def test_content_length_short_body_is_truncated(resp):
    raw = raw_get(resp, "/b/cl_short")
    status, headers, body = parse_raw(raw)
    assert status == 200 and body == b"01234"
    assert dict(headers)["Content-Length"] == "10"


@pytest.mark.ours_only
def test_content_length_short_body_is_logged(resp):
    """mod_wsgi 4.9 closes the connection silently; the issue asks for a log line."""
    mark = resp.log_size()
    raw_get(resp, "/b/cl_short")
    resp.wait_log(r"(?i)(content.length.*(short|truncat|fewer|\b10\b)|(short|truncat).*content.length)",
                  since=mark)


def test_close_called_on_success(resp):
    r = resp.get("/b/close_ok?name=ok1")
    assert r.body == b"abc"
    assert resp.wait_marker("close-ok1") == "3"


def test_close_called_when_iteration_fails_first(resp):
    mark = resp.log_size()
    r = resp.get("/b/close_error_first?name=err1")
    assert r.status == 500
    assert resp.wait_marker("close-err1") == "0"
    resp.wait_log(r"RuntimeError: iteration failed on purpose err1", since=mark)


def test_close_called_when_iteration_fails_midway(resp):
    mark = resp.log_size()
    raw = raw_get(resp, "/b/close_error_mid?name=err2")
    assert raw.startswith(b"HTTP/1.1 200 OK")
    assert not raw.endswith(b"0\r\n\r\n")
    assert resp.wait_marker("close-err2") == "2"
    resp.wait_log(r"RuntimeError: iteration failed on purpose err2", since=mark)


def test_close_called_on_client_disconnect(resp):
    with resp.connect() as s:
        s.sendall(b"GET /b/stream?name=gone1&chunks=2000&delay=0.002 HTTP/1.1\r\nHost: x\r\n\r\n")
        got = s.recv(4096)
        assert got.startswith(b"HTTP/1.1 200 OK")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sent = resp.wait_marker("close-gone1", timeout=15)
    assert sent is not None, "close() not called after the client went away"
    assert int(sent) < 2000


@pytest.mark.parametrize("path", ["/b/head", "/b/write", "/b/close_ok?name=head1"])
def test_head(resp, path):
    raw = raw_get(resp, path, method="HEAD")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body == b""
    if path == "/b/head":
        assert b"Content-Length: 140" in head
    if "close_ok" in path:
        assert resp.wait_marker("close-head1") is not None
