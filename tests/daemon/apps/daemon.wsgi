# Daemon-mode behaviours, chosen by PATH_INFO.
import json
import os
import sys
import threading
import time


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/pid":
        body = str(os.getpid()).encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]
    if path == "/info":
        import mod_wsgi
        body = json.dumps({
            "pid": os.getpid(), "ppid": os.getppid(), "uid": os.getuid(), "gid": os.getgid(),
            "cwd": os.getcwd(), "umask": _umask(), "sys.path": sys.path,
            "process_group": environ.get("mod_wsgi.process_group"),
            "application_group": environ.get("mod_wsgi.application_group"),
            "mod_wsgi.process_group": mod_wsgi.process_group,
            "mod_wsgi.application_group": mod_wsgi.application_group,
            "maximum_processes": mod_wsgi.maximum_processes,
            "threads_per_process": mod_wsgi.threads_per_process,
            "multithread": environ["wsgi.multithread"], "multiprocess": environ["wsgi.multiprocess"],
            "preloaded": getattr(sys, "_mwt_preloaded", None),
            "lang": os.environ.get("LANG"), "lc_all": os.environ.get("LC_ALL"),
            "home": os.environ.get("HOME"), "eggs": os.environ.get("PYTHON_EGG_CACHE"),
            "cmdline": open("/proc/self/cmdline", "rb").read().decode("latin-1"),
            "limits": _limits(),
            "thread": threading.get_ident(),
        }).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path == "/auth2":
        start_response("401 Unauthorized", [("Content-Type", "text/plain"),
                                            ("WWW-Authenticate", 'Basic realm="one, with comma"'),
                                            ("WWW-Authenticate", 'Digest realm="two", qop="auth"'),
                                            ("X-Multi", "a"), ("X-Multi", "b, c")])
        return [b"auth"]
    if path == "/stream":
        n = int(environ.get("QUERY_STRING") or 5)
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            for i in range(n):
                yield ("chunk %d\n" % i).encode()
                time.sleep(0.05)
        return gen()
    if path == "/big":
        size = int(environ.get("QUERY_STRING") or 1000000)
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])
        block = b"x" * 65536

        def gen():
            left = size
            while left > 0:
                n = min(left, len(block))
                yield block[:n]
                left -= n
        return gen()
    if path == "/echo":
        data = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("X-Length", str(len(data)))])
        return [data]
    if path == "/echo_lines":
        lines = list(environ["wsgi.input"])
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Lines", str(len(lines)))])
        return [b"".join(lines)]
    if path == "/ignore_body":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [b"y" * 2000000]
    if path == "/sleep":
        secs = float(environ.get("QUERY_STRING") or 1)
        time.sleep(secs)  # SLEEP-LINE
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [("slept %s in %d" % (secs, os.getpid())).encode()]
    if path == "/bigheader":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Big", "h" * 40000)])
        return [b"never"]
    if path == "/head":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "11")])
        return [b"hello world"]
    if path == "/error_mid":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            yield b"partial"
            raise RuntimeError("failed mid-stream on purpose")
        return gen()
    if path == "/gil_sleep":
        import ctypes
        ctypes.PyDLL(None).sleep(int(environ.get("QUERY_STRING") or 10))  # holds the GIL
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"woke"]
    if path == "/authz":
        body = json.dumps({"auth": environ.get("HTTP_AUTHORIZATION"), "user": environ.get("REMOTE_USER")}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path == "/groups":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(os.getgroups()).encode()]
    if path == "/exit":
        os._exit(3)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"unknown " + path.encode()]


def _umask():
    m = os.umask(0)
    os.umask(m)
    return "%04o" % m


def _limits():
    import resource
    out = {}
    for name in ("RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_AS"):
        out[name] = resource.getrlimit(getattr(resource, name))[0]
    return out
