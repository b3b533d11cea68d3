# Exercises the mod_wsgi Python API: module attributes, metrics, events, request_data.
# Used in embedded mode, daemon mode and sub-interpreters (tests/module/test_api.py,
# tests/daemon/test_daemon_api.py).
import json
import os
import sys
import threading
import time

import mod_wsgi

EVENTS = []
LOCK = threading.Lock()
MARKERS = os.environ.get("MWT_MARKERS") or os.path.join(os.path.dirname(os.path.dirname(__file__)), "markers")


def _summary(value):
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return type(value).__name__


def recorder(name, **event):
    values = {k: _summary(v) for k, v in event.items()}
    if name == "request_started":
        values["path"] = event["request_environ"].get("PATH_INFO")
    with LOCK:
        EVENTS.append({"name": name, "keys": sorted(event), "values": values})
    if name == "request_started":
        environ = event["request_environ"]
        event["request_data"]["seen_by_callback"] = True
        if environ.get("PATH_INFO") == "/replace":
            return {"application_object": replacement}
    if name == "process_stopping":
        path = os.path.join(MARKERS, "stopping-%d" % os.getpid())
        with open(path, "w") as f:
            json.dump({"reason": event.get("shutdown_reason"), "keys": sorted(event)}, f)


def broken(name, **event):
    raise ValueError("broken callback for %s" % name)


def shutdown_callback(name, **event):
    path = os.path.join(MARKERS, "shutdown-%d" % os.getpid())
    with open(path, "w") as f:
        json.dump({"name": name, "reason": event.get("shutdown_reason")}, f)


mod_wsgi.subscribe_events(broken)
mod_wsgi.subscribe_events(recorder)
mod_wsgi.subscribe_shutdown(shutdown_callback)


def replacement(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"replaced"]


def attributes(environ):
    import apache
    m = mod_wsgi
    return {
        "version": list(m.version),
        "process_group": m.process_group,
        "application_group": m.application_group,
        "maximum_processes": m.maximum_processes,
        "threads_per_process": m.threads_per_process,
        "file_wrapper_is_type": environ["wsgi.file_wrapper"] is m.FileWrapper,
        "file_wrapper_type": isinstance(m.FileWrapper, type),
        "callables": {n: callable(getattr(m, n, None)) for n in (
            "server_metrics", "process_metrics", "request_metrics", "subscribe_events",
            "subscribe_shutdown", "request_data")},
        "active_requests_type": type(m.active_requests).__name__,
        "apache": {n: _summary(getattr(apache, n, "<missing>")) for n in (
            "version", "description", "mpm_name", "build_date", "maximum_processes",
            "threads_per_process")},
        "apache_version": list(apache.version),
        "sys_stdout": type(sys.stdout).__name__,
    }


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    body = {}
    if path == "/attrs":
        body = attributes(environ)
    elif path == "/process_metrics":
        body = mod_wsgi.process_metrics()
    elif path == "/request_metrics":
        body = mod_wsgi.request_metrics()
    elif path == "/server_metrics":
        body = {"value": mod_wsgi.server_metrics()}
    elif path == "/request_data":
        data = mod_wsgi.request_data()
        data["mine"] = 1
        rid = environ.get("mod_wsgi.request_id")
        body = {"data": data, "active": mod_wsgi.active_requests.get(rid) is data,
                "n_active": len(mod_wsgi.active_requests)}
    elif path == "/sleep":
        time.sleep(float(environ.get("QUERY_STRING") or "0.1"))
    elif path == "/post":
        body = {"read": len(environ["wsgi.input"].read()), "id": environ.get("mod_wsgi.request_id")}
    elif path == "/raise":
        raise RuntimeError("raised by the application")
    elif path == "/events":
        with LOCK:
            body = {"events": list(EVENTS)}
            if environ.get("QUERY_STRING") == "clear":
                del EVENTS[:]
    elif path == "/nodata":
        out = {}

        def other():
            try:
                mod_wsgi.request_data()
                out["error"] = None
            except Exception as e:
                out["error"] = "%s: %s" % (type(e).__name__, e)
        t = threading.Thread(target=other)
        t.start()
        t.join()
        body = out
    elif path == "/stdio":
        body = {}
        for name, use in (("stdin", lambda: sys.stdin.read()), ("stdout", lambda: print("x")),
                          ("stderr", lambda: sys.stderr.write("to stderr\n"))):
            stream = getattr(sys, name)
            try:
                use()
                outcome = None
            except Exception as e:
                outcome = "%s: %s" % (type(e).__name__, e)
            body[name] = {"type": "%s.%s" % (type(stream).__module__, type(stream).__name__),
                          "error": outcome}
        body["stderr_text"] = isinstance(sys.stderr, __import__("io").TextIOBase) or hasattr(sys.stderr, "encoding")
    elif path == "/errors":
        errors = environ["wsgi.errors"]
        body = {"type": "%s.%s" % (type(errors).__module__, type(errors).__name__),
                "has_buffer": hasattr(errors, "buffer")}
        errors.write("text line one\n")
        errors.writelines(["text line two\n", "text line three\n"])
        errors.flush()
        if body["has_buffer"]:
            b = errors.buffer
            outcome = {}
            for label, data in (("bytes", b"buffer bytes line\n"), ("bytearray", bytearray(b"buffer bytearray line\n")),
                                ("memoryview", memoryview(b"buffer memoryview line\n"))):
                try:
                    outcome[label] = b.write(data)
                except Exception as e:
                    outcome[label] = "%s: %s" % (type(e).__name__, e)
            try:
                b.writelines([b"buffer writelines one\n", b"buffer writelines two\n"])
                outcome["writelines"] = None
            except Exception as e:
                outcome["writelines"] = "%s: %s" % (type(e).__name__, e)
            try:
                b.write("a str")
                outcome["str"] = None
            except Exception as e:
                outcome["str"] = type(e).__name__
            b.flush()
            body["buffer"] = outcome
    elif path == "/spin":
        # a Python loop (an injected exception is raised between bytecodes)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                time.sleep(0.02)
            except BaseException as e:
                if environ.get("QUERY_STRING") != "swallow":
                    raise
                body["swallowed"] = type(e).__name__
    elif path == "/file":
        f = open(__file__, "rb")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](f, 4096)
    elif path == "/wrapper":
        w = mod_wsgi.FileWrapper(open(__file__, "rb"))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return w
    data = json.dumps(body, default=repr).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
