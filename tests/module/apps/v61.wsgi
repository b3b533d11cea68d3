# mod_wsgi 6.1's request handling, one behaviour per PATH_INFO (mounted at /v, in embedded
# mode and in a daemon process group). Checks that the application can observe itself answer
# with JSON; the rest shows in the response and the error log.
import io
import json
import os
import sys
import threading
import time
from urllib.parse import parse_qs

import mod_wsgi

MARKERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "markers")

OK = [("Content-Type", "text/plain")]

# start_response(*args) for each case of /v/sr?case=NAME: what 6.1 raises, if anything.
SR_CASES = {
    "status_int": (200, OK),
    "status_bytes": (b"200 OK", OK),
    "status_none": (None, OK),
    "status_no_space": ("200OK", OK),
    "status_four_digits": ("2000 OK", OK),
    "status_two_digits": ("20 OK", OK),
    "status_letters": ("abc", OK),
    "status_empty": ("", OK),
    "status_bare": ("200", OK),
    "status_crlf": ("200 OK\r\nX-Injected: yes", OK),
    "status_tab": ("200 O\tK", OK),
    "status_del": ("200 O\x7fK", OK),
    "status_nonlatin": ("200 \u2603", OK),
    "headers_tuple": ("200 OK", (("Content-Type", "text/plain"),)),
    "headers_dict": ("200 OK", {"Content-Type": "text/plain"}),
    "headers_str": ("200 OK", "Content-Type: text/plain"),
    "headers_none": ("200 OK", None),
    "header_list_item": ("200 OK", [["Content-Type", "text/plain"]]),
    "header_str_item": ("200 OK", ["Content-Type: text/plain"]),
    "header_three_items": ("200 OK", [("Content-Type", "text/plain", "x")]),
    "header_one_item": ("200 OK", [("Content-Type",)]),
    "header_name_int": ("200 OK", [(1, "x")]),
    "header_name_bytes": ("200 OK", [(b"X-A", "x")]),
    "header_value_int": ("200 OK", [("X-A", 1)]),
    "header_value_bytes": ("200 OK", [("X-A", b"x")]),
    "header_name_empty": ("200 OK", [("", "x")]),
    "header_name_space": ("200 OK", [("X A", "x")]),
    "header_name_trailing_space": ("200 OK", [("X-A ", "x")]),
    "header_name_tab": ("200 OK", [("X\tA", "x")]),
    "header_name_crlf": ("200 OK", [("X-A\r\nX-Injected", "yes")]),
    "header_name_ctl": ("200 OK", [("X-\x01A", "x")]),
    "header_name_nonlatin": ("200 OK", [("X-\u2603", "x")]),
    "header_value_crlf": ("200 OK", [("X-A", "a\r\nX-Injected: yes")]),
    "header_value_lf": ("200 OK", [("X-A", "a\nX-Injected: yes")]),
    "header_value_cr": ("200 OK", [("X-A", "a\rb")]),
    "header_value_nonlatin": ("200 OK", [("X-A", "snow \u2603")]),
    "exc_info_str": ("200 OK", OK, "not a tuple"),
    "exc_info_list": ("200 OK", OK, [None, None, None]),
    "too_few": ("200 OK",),
    "too_many": ("200 OK", OK, None, None),
    "none_args": (),
}


# Events, by request id: for each event its keys and the types of its values, and the
# timing values themselves.
EVENTS = {}
EVENTS_LOCK = threading.Lock()
TIMING = ("request_start", "queue_start", "daemon_start", "application_start", "application_finish",
          "application_time", "cpu_user_time", "cpu_system_time", "cpu_time", "input_time", "output_time",
          "gil_wait_time", "thread_id", "server_pid", "daemon_connects", "daemon_restarts", "status",
          "callable_object")


def on_event(name, **event):
    # mod_wsgi 6.1 leaves request_id out of a daemon process's events: the request is known
    # by its request_data() (tagged by the application) or its environ.
    rid = (event.get("request_data") or {}).get("rid")
    if rid is None and "request_environ" in event:
        rid = event["request_environ"].get("mod_wsgi.request_id")
    if rid is None or name not in ("request_started", "response_started", "request_finished",
                                   "request_exception"):
        return
    record = {"keys": sorted(event), "types": {k: type(v).__name__ for k, v in event.items()},
              "values": {k: event[k] for k in TIMING if k in event}}
    with EVENTS_LOCK:
        EVENTS.setdefault(rid, {})[name] = record


mod_wsgi.subscribe_events(on_event)


def reload_required(resource):
    flag = os.path.join(MARKERS, "v61-reload")
    if os.path.exists(flag):
        os.unlink(flag)
        return True
    return False


def describe(e):
    return {"type": type(e).__name__, "message": str(e)}


def outcome(call):
    try:
        call()
    except BaseException as e:  # noqa: B902 - the point is to see what is raised
        return describe(e)
    return None


def answer(start_response, value, status="200 OK"):
    body = json.dumps(value, sort_keys=True).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/https/"):  # a Location with SetEnv HTTPS on
        path = path[len("/https"):]
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}

    if path == "/sr":
        args = SR_CASES[q["case"]]
        return answer(start_response, outcome(lambda: start_response(*args)))

    if path == "/sr_status":
        # A status 6.1 accepts: what the client gets.
        start_response(q["s"], OK)
        return [b"status " + q["s"].encode()]

    if path == "/sr_second_after_output":
        write = start_response("200 OK", OK)
        write(b"first;")
        got = outcome(lambda: start_response("500 Oops", OK))
        return [json.dumps(got).encode()]

    if path == "/sr_exc_info_after_output":
        write = start_response("200 OK", OK)
        write(b"first;")
        got = outcome(lambda: start_response("500 Oops", OK, ("a", "b")))
        return [json.dumps(got).encode()]

    if path == "/sr_exc_info_pair_before_output":
        # exc_info is only unpacked once output has started.
        got = outcome(lambda: start_response("200 OK", OK, ("a", "b")))
        return answer(start_response, got)

    if path == "/no_start":
        # Content without start_response(): 500 and the error logged.
        return [b"content"] if q.get("body") else []

    if path == "/write_str":
        write = start_response("200 OK", OK)
        got = outcome(lambda: write("text"))
        return [json.dumps(got).encode()]

    if path == "/bad_content_length":
        write = start_response("200 OK", OK + [("Content-Length", q.get("cl", "abc"))])
        got = outcome(lambda: write(b"x"))
        mark_file = q.get("mark")
        if mark_file:
            with open(mark_file, "w") as f:
                json.dump(got, f)
        return []

    if path == "/yield_str":
        start_response("200 OK", OK)
        return ["text, not bytes"]

    if path == "/raise":
        exc = {"RuntimeError": RuntimeError, "ValueError": ValueError, "KeyError": KeyError,
               "SystemExit": SystemExit}[q.get("exc", "RuntimeError")]
        if q.get("after") == "start":
            start_response("200 OK", OK)
        raise exc("raised on purpose " + q.get("token", ""))

    if path == "/raise_in_iter":
        def gen():
            yield b"first;"
            raise ValueError("failed in the iterable " + q.get("token", ""))
        start_response("200 OK", OK)
        return gen()

    if path == "/environ":
        keys = q.get("keys", "")
        return answer(start_response, {k: repr(environ.get(k, "<absent>")) for k in keys.split(",") if k})

    if path == "/environ_types":
        value = {k: type(v).__name__ for k, v in environ.items() if k.startswith("mod_wsgi.")}
        value["wsgi.errors"] = type(environ["wsgi.errors"]).__module__ + "." + type(environ["wsgi.errors"]).__name__
        return answer(start_response, value)

    if path == "/environ_keys":
        return answer(start_response, sorted(environ))

    if path == "/headers":
        # Repeated response headers as the application gives them.
        start_response("200 OK", OK + [tuple(h.split(":", 1)) for h in q["h"].split("|")])
        return [b"headers"]

    if path == "/errors":
        err = environ["wsgi.errors"]
        out = {
            "type": type(err).__module__ + "." + type(err).__name__,
            "isinstance_textio": isinstance(err, io.TextIOWrapper),
            "encoding": err.encoding,
            "errors": err.errors,
            "line_buffering": err.line_buffering,
            "buffer_type": type(err.buffer).__module__ + "." + type(err.buffer).__name__,
            "name": err.name,
            "stderr_type": type(sys.stderr).__module__ + "." + type(sys.stderr).__name__,
            "stdout_type": type(sys.stdout).__module__ + "." + type(sys.stdout).__name__,
            "stderr_name": getattr(sys.stderr, "name", None),
            "stderr_buffer_name": getattr(getattr(sys.stderr, "buffer", None), "name", None),
        }
        err.write("wsgi.errors line " + q.get("token", "") + "\n")
        print("sys.stderr line " + q.get("token", ""), file=sys.stderr)
        print("sys.stdout line " + q.get("token", ""))
        sys.stdout.flush()
        return answer(start_response, out)

    if path == "/errors_kept":
        global KEPT_ERRORS
        KEPT_ERRORS = environ["wsgi.errors"]
        return answer(start_response, None)

    if path == "/errors_kept_write":
        got = outcome(lambda: (KEPT_ERRORS.write("late line\n"), KEPT_ERRORS.flush()))
        return answer(start_response, got)

    if path == "/events":
        # The events of an earlier request (by its id), and that request's environ timings.
        with EVENTS_LOCK:
            got = EVENTS.get(q["id"])
            if got and "request_finished" in got:
                del EVENTS[q["id"]]
        return answer(start_response, got)

    if path == "/event_source":
        # A request to observe: its id and environ timing values.
        mod_wsgi.request_data()["rid"] = environ["mod_wsgi.request_id"]
        keys = ("mod_wsgi.request_id", "mod_wsgi.request_start", "mod_wsgi.queue_start",
                "mod_wsgi.daemon_start", "mod_wsgi.application_start", "mod_wsgi.thread_id",
                "mod_wsgi.server_pid")
        if q.get("fail"):
            raise ValueError("event source failed on purpose")
        return answer(start_response, {k: environ.get(k) for k in keys})

    if path == "/forget_mtime":
        # The module's __mtime__ made unreadable: mod_wsgi 6.1 then loads the script anew.
        g = globals()
        if q.get("how") == "delete":
            g.pop("__mtime__", None)
        else:
            g["__mtime__"] = "not a number"
        return answer(start_response, None)

    if path == "/identity":
        return answer(start_response, {"module": __name__, "pid": os.getpid(), "loaded": LOADED_AT,
                                       "mtime": repr(globals().get("__mtime__"))})

    start_response("404 Not Found", OK)
    return [b"unknown: " + path.encode()]


LOADED_AT = time.time()
