# One script, many behaviours, chosen by PATH_INFO (mounted at /b).
import json
import os
import sys
import time
from urllib.parse import parse_qs

MARKERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "markers")


def mark(name, text="1"):
    path = os.path.join(MARKERS, name)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


class Closing:
    """An iterable that records in a marker file whether close() was called."""

    def __init__(self, name, chunks, fail_at=None, delay=0.0):
        self.name = name
        self.chunks = chunks
        self.fail_at = fail_at
        self.delay = delay
        self.sent = 0

    def __iter__(self):
        for i, c in enumerate(self.chunks):
            if self.fail_at is not None and i == self.fail_at:
                raise RuntimeError("iteration failed on purpose " + self.name)
            if self.delay:
                time.sleep(self.delay)
            self.sent += 1
            yield c

    def close(self):
        mark("close-" + self.name, str(self.sent))


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    name = q.get("name", "x")
    token = q.get("token", "tok")
    ok = [("Content-Type", "text/plain")]

    if path == "/status_bad":
        start_response("abc", ok)
        return [b"never"]
    if path == "/status_int":
        start_response(200, ok)
        return [b"never"]
    if path == "/header_nonlatin":
        start_response("200 OK", ok + [("X-Bad", "snow \u2603")])
        return [b"never"]
    if path == "/header_crlf":
        start_response("200 OK", ok + [("X-Bad", "a\r\nX-Injected: yes")])
        return [b"never"]
    if path == "/header_lf":
        start_response("200 OK", ok + [("X-Bad", "a\nX-Injected: yes")])
        return [b"never"]
    if path == "/header_name_crlf":
        start_response("200 OK", ok + [("X-Bad\r\nX-Injected", "yes")])
        return [b"never"]
    if path == "/header_not_tuple":
        start_response("200 OK", ok + ["X-Bad: yes"])
        return [b"never"]
    if path == "/twice":
        start_response("200 OK", ok + [("X-First", "1")])
        start_response("201 Created", ok + [("X-Second", "1")])
        return [b"second wins"]
    if path == "/twice_after_output":
        write = start_response("200 OK", ok)
        write(b"out;")
        start_response("201 Created", ok)
        return [b"never"]
    if path == "/exc_info_not_tuple":
        start_response("200 OK", ok, "not a tuple")
        return [b"never"]
    if path == "/exc_info_before":
        start_response("200 OK", ok + [("X-First", "1")])
        try:
            raise ValueError("replaced " + token)
        except ValueError:
            start_response("500 Oops", [("Content-Type", "text/plain"), ("X-Second", "1")], sys.exc_info())
        return [b"custom error page"]
    if path == "/exc_info_after":
        def gen():
            yield b"first chunk;"
            try:
                raise ValueError("late failure " + token)
            except ValueError:
                start_response("500 Oops", ok, sys.exc_info())
            yield b"never"
        start_response("200 OK", ok)
        return gen()
    if path == "/write":
        write = start_response("200 OK", ok)
        write(b"one;")
        write(b"two;")
        return [b"three"]
    if path == "/write_only":
        write = start_response("200 OK", ok + [("Content-Length", "6")])
        write(b"abc")
        write(b"def")
        return []
    if path == "/cl_extra":
        start_response("200 OK", ok + [("Content-Length", "5")])
        return [b"01234", b"56789"]
    if path == "/cl_short":
        start_response("200 OK", ok + [("Content-Length", "10")])
        return [b"01234"]
    if path == "/close_ok":
        start_response("200 OK", ok)
        return Closing(name, [b"a", b"b", b"c"])
    if path == "/close_error_first":
        start_response("200 OK", ok)
        return Closing(name, [b"a", b"b"], fail_at=0)
    if path == "/close_error_mid":
        start_response("200 OK", ok)
        return Closing(name, [b"a" * 1000, b"b" * 1000, b"c"], fail_at=2)
    if path == "/stream":
        n = int(q.get("chunks", "400"))
        size = int(q.get("size", "65536"))
        start_response(q.get("status", "200 OK"), ok)
        return Closing(name, [b"x" * size] * n, delay=float(q.get("delay", "0.005")))
    if path == "/exception":
        raise RuntimeError("app exploded " + token)
    if path == "/exception_after_start":
        start_response("200 OK", ok)
        raise KeyError("late explosion " + token)
    if path == "/str_body":
        start_response("200 OK", ok)
        return ["a str, not bytes"]
    if path == "/str_body_plain":
        start_response("200 OK", ok)
        return "a str, not bytes"
    if path == "/errors":
        err = environ["wsgi.errors"]
        err.write("wsgi.errors write " + token + "\n")
        err.writelines(["wsgi.errors writelines " + token + "\n"])
        err.flush()
        start_response("200 OK", ok)
        return [b"logged"]
    if path == "/errors_read":
        results = []
        for name in ("read", "readline"):
            try:
                getattr(environ["wsgi.errors"], name)()
                results.append("%s returned" % name)
            except OSError as e:
                results.append("%s OSError: %s" % (name, e))
        start_response("200 OK", ok)
        return ["\n".join(results).encode()]
    if path == "/print":
        print("print() output " + token)
        sys.stdout.flush()
        print("stderr output " + token, file=sys.stderr)
        sys.stderr.flush()
        start_response("200 OK", ok)
        return [b"printed"]
    if path == "/stdin":
        try:
            data = sys.stdin.read()
            result = "read ok: %r" % (data,)
        except Exception as e:
            result = "error: %s: %s" % (type(e).__name__, e)
        start_response("200 OK", ok)
        return [result.encode()]
    if path == "/file":
        f = open(q["path"], "rb")
        wrapper = environ["wsgi.file_wrapper"]
        headers = ok + [("X-Wrapper", type(wrapper).__name__)]
        if "cl" in q:
            headers.append(("Content-Length", q["cl"]))
        start_response("200 OK", headers)
        return wrapper(f, int(q.get("blksize", "8192")))
    if path == "/file_tell":
        # A real file whose position is recorded when the response closes it: the server
        # either sent it itself (sendfile: the position never moved) or read it through.
        class Told:
            def __init__(self, f):
                self.f = f
            def fileno(self):
                return self.f.fileno()
            def tell(self):
                return self.f.tell()
            def read(self, n=-1):
                return self.f.read(n)
            def close(self):
                mark("tell-" + name, str(self.f.tell()))
                self.f.close()
        start_response("200 OK", ok)
        return environ["wsgi.file_wrapper"](Told(open(q["path"], "rb")), 8192)
    if path == "/file_close":
        class F:
            def __init__(self, data):
                self.data = data
            def read(self, n=-1):
                d, self.data = (self.data, b"") if n < 0 else (self.data[:n], self.data[n:])
                return d
            def close(self):
                mark("close-" + name)
        start_response("200 OK", ok)
        return environ["wsgi.file_wrapper"](F(b"filelike data"), 4)
    if path == "/head":
        body = b"body for head " * 10
        start_response("200 OK", ok + [("Content-Length", str(len(body))),
                                       ("X-Method", environ["REQUEST_METHOD"])])
        return [body]
    if path == "/warn":
        import warnings
        try:
            warnings.warn("a user warning " + token, UserWarning)
            result = "no exception"
        except UserWarning as e:
            result = "raised: %s" % e
        start_response("200 OK", ok)
        return [result.encode()]
    if path == "/sleep":
        time.sleep(float(q.get("s", "1")))
        start_response("200 OK", ok)
        return [b"slept"]
    if path == "/big":
        size = int(q.get("mb", "8")) * 1024 * 1024
        start_response("200 OK", ok + [("Content-Length", str(size))])
        return [b"z" * size]
    if path == "/read_slow_body":
        data = environ["wsgi.input"].read()
        start_response("200 OK", ok)
        return [b"got " + str(len(data)).encode()]
    if path == "/status":
        start_response(q.get("s", "200 OK"), ok)
        return [b"status"]
    start_response("404 Not Found", ok)
    return [b"unknown behaviour " + path.encode()]
