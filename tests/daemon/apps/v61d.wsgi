# Daemon-mode behaviours of mod_wsgi 6.1 (issue 23), by PATH_INFO.
import os
import sys
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    ok = [("Content-Type", "text/plain")]
    if path == "/pid":
        start_response("200 OK", ok)
        return [str(os.getpid()).encode()]
    if path == "/spin":
        # Busy in Python (not in one long C call): mod_wsgi.RequestTimeout can be raised here.
        if q.get("after") == "headers":
            write = start_response("200 OK", ok)
            write(b"started;")
        deadline = time.time() + float(q.get("s", "30"))
        while time.time() < deadline:
            time.sleep(0.05)
        if q.get("after") != "headers":
            start_response("200 OK", ok)
        return [b"finished"]
    if path == "/spin_iter":
        # Headers and a first block out, then busy in the response iterable.
        def body():
            yield b"started;"
            deadline = time.time() + float(q.get("s", "30"))
            while time.time() < deadline:
                time.sleep(0.05)
            yield b"finished"
        start_response("200 OK", ok)
        return body()
    if path == "/log":
        token = q.get("token", "")
        print("wsgi.errors line " + token, file=environ["wsgi.errors"])
        print("sys.stderr line " + token, file=sys.stderr)
        if q.get("raise"):
            raise RuntimeError("raised on purpose " + token)
        start_response("200 OK", ok)
        return [b"logged"]
    if path == "/die":
        # The daemon process goes away before any response headers.
        os._exit(1)
    start_response("404 Not Found", ok)
    return [b"unknown"]
