"""Done-when: an app wrapped in wsgiref.validate.validator passes through the module on every path."""
import os

import pytest

from apache_harness import module_apache, error_level_lines

val = module_apache(r"""
WSGIScriptAlias /v @APPS@/validated.wsgi
WSGIChunkedRequest On
""")


def _no_errors(a, mark):
    text = a.log(mark)
    assert "AssertionError" not in text and "WSGIWarning" not in text, text
    assert "Traceback" not in text, text


def test_get(val):
    mark = val.log_size()
    r = val.get("/v/hello?x=1")
    assert r.status == 200 and r.body == b"validated hello"
    _no_errors(val, mark)


def test_head(val):
    mark = val.log_size()
    r = val.head("/v/hello")
    assert r.status == 200 and r.body == b""
    _no_errors(val, mark)


def test_post_read(val):
    mark = val.log_size()
    body = b"first line\nsecond line\n" * 100
    r = val.post("/v/read", body, headers={"Content-Type": "text/plain"})
    assert r.status == 200 and r.body == body
    _no_errors(val, mark)


def test_post_iterate_lines(val):
    mark = val.log_size()
    r = val.post("/v/lines", b"a\nb\nc\n", headers={"Content-Type": "text/plain"})
    assert r.status == 200 and r.body == b"3 lines"
    _no_errors(val, mark)


def test_chunked_post(val):
    from apache_harness import parse_raw
    mark = val.log_size()
    req = (b"POST /v/lines HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n"
           b"Connection: close\r\n\r\n4\r\na\nb\n\r\n2\r\nc\n\r\n0\r\n\r\n")
    status, _, body = parse_raw(val.raw(req))
    assert status == 200 and body == b"3 lines"
    _no_errors(val, mark)


def test_write(val):
    mark = val.log_size()
    r = val.get("/v/write")
    assert r.status == 200 and r.body == b"written;returned"
    _no_errors(val, mark)


def test_file_wrapper(val):
    mark = val.log_size()
    r = val.get("/v/file")
    assert r.status == 200 and r.body == open(os.path.join(val.apps, "validated.wsgi"), "rb").read()
    _no_errors(val, mark)


def test_errors_stream(val):
    mark = val.log_size()
    r = val.get("/v/error")
    assert r.status == 404 and r.body == b"not here"
    val.wait_log(r"validated app logging", since=mark)
    _no_errors(val, mark)
