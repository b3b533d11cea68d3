"""HTTP requests the harness makes itself: readiness and smoke checks."""

import http.client
import time


def http_request(port, path, method="GET", body=None, timeout=5.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Host": "127.0.0.1:%d" % port}
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_for_200(running, path, timeout):
    """Poll until GET path answers 200.  Returns seconds waited, or raises RuntimeError."""
    t0 = time.perf_counter()
    deadline = t0 + timeout
    last = "no answer"
    first_error_status = None
    while time.perf_counter() < deadline:
        if not running.alive():
            raise RuntimeError("exited with status %s before serving" % running.popen.returncode)
        try:
            status, _ = http_request(running.port, path, timeout=2)
            if status == 200:
                return time.perf_counter() - t0
            last = "HTTP %d" % status
            # Apache is up but the application keeps failing: give it 3 s, not the whole timeout.
            first_error_status = first_error_status or time.perf_counter()
            if time.perf_counter() - first_error_status > 3:
                raise RuntimeError("answers %s, not 200" % last)
        except (OSError, http.client.HTTPException) as e:
            last = type(e).__name__
        time.sleep(0.005)
    raise RuntimeError("no 200 within %.0f s (last: %s)" % (timeout, last))


def smoke_check(port, wl, path):
    body = b"x" * wl.body_size if wl.method == "POST" else None
    status, data = http_request(port, path, wl.method, body, timeout=15)
    if status != 200:
        raise RuntimeError("%s %s answered HTTP %d: %r" % (wl.method, path, status, data[:120]))
    if wl.expect is not None and data != wl.expect:
        raise RuntimeError("%s %s: unexpected body %r" % (wl.method, path, data[:60]))
    if wl.expect_contains is not None and wl.expect_contains not in data:
        raise RuntimeError("%s %s: the body lacks %r" % (wl.method, path, wl.expect_contains))
    if wl.expect_len is not None and len(data) != wl.expect_len:
        raise RuntimeError("%s %s: body of %d bytes, expected %d" % (wl.method, path, len(data), wl.expect_len))
    if body is not None and data != body:
        raise RuntimeError("POST %s: echoed body differs" % path)
