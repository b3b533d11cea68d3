"""A generated set of misbehaving WSGI applications, one per URL: /<case name>.

Loaded as the application script by reliability.py (embedded and daemon mode). Each case is
wrong in one way: environ keys deleted or replaced with the wrong type (then answering or
raising), wrong types for every start_response argument and for every item of the returned
iterable, exceptions in close(), writes and start_response after the request ended, runaway
recursion, and threads that touch the request after it ended. Whatever the app does, the server
must answer every request (any status) and no process may crash.

CASES lists the names; `application` dispatches on PATH_INFO.
"""
import sys
import threading
import time

OK = ("200 OK", [("Content-Type", "text/plain")])

ENVIRON_KEYS = ["wsgi.input", "wsgi.errors", "wsgi.version", "wsgi.url_scheme", "wsgi.multithread",
                "wsgi.multiprocess", "wsgi.run_once", "wsgi.file_wrapper", "wsgi.input_terminated",
                "REQUEST_METHOD", "PATH_INFO", "SCRIPT_NAME", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
                "SERVER_PROTOCOL", "HTTP_HOST", "CONTENT_LENGTH", "mod_wsgi.process_group",
                "mod_wsgi.application_group", "mod_wsgi.request_handler", "mod_wsgi.application_start",
                "apache.version", "mod_wsgi.version", "mod_wsgi.request_id", "mod_wsgi.connection_id"]


class Weird:
    """An object of no useful type."""


class BadStr(str):
    def __str__(self):
        raise RuntimeError("BadStr.__str__")

    def encode(self, *a, **k):
        raise RuntimeError("BadStr.encode")


class BadBytes(bytes):
    def __len__(self):
        raise RuntimeError("BadBytes.__len__")


WRONG = {"none": None, "int": 1, "bytes": b"x", "list": [1], "dict": {"a": 1}, "object": Weird(),
         "badstr": BadStr("x"), "float": 1.5, "huge": "x" * 100000, "nul": "a\0b"}


def _answer(start_response, body=b"ok\n"):
    start_response(*OK)
    return [body]


def _environ_case(key, wrong, then):
    def app(environ, start_response):
        if wrong == "deleted":
            environ.pop(key, None)
        else:
            environ[key] = WRONG[wrong]
        if then == "raise":
            raise RuntimeError("app fails after changing %s" % key)
        if then == "read":
            environ["wsgi.input"].read()
            environ["wsgi.errors"].write("after %s\n" % key)
        return _answer(start_response)
    return app


def _status_case(value):
    def app(environ, start_response):
        start_response(value, [("Content-Type", "text/plain")])
        return [b"ok\n"]
    return app


def _headers_case(value):
    def app(environ, start_response):
        start_response("200 OK", value)
        return [b"ok\n"]
    return app


def _exc_info_case(value):
    def app(environ, start_response):
        start_response("200 OK", [], value)
        return [b"ok\n"]
    return app


def _item_case(value, position):
    def app(environ, start_response):
        start_response(*OK)
        return [b"first\n", value] if position == "second" else [value]
    return app


STATUS = {"none": None, "int": 200, "bytes": b"200 OK", "empty": "", "no-reason": "200", "words": "abc def",
          "crlf": "200 OK\r\nX-Injected: 1", "huge-code": "99999 Big", "negative": "-1 Neg", "badstr": BadStr("200 OK"),
          "nul": "200 O\0K", "non-latin1": "200 \u263a", "object": Weird(), "tuple": ("200", "OK")}
HEADERS = {"none": None, "str": "Content-Type: text/plain", "dict": {"a": "b"}, "short-tuple": [("a",)],
           "long-tuple": [("a", "b", "c")], "int-name": [(1, "b")], "none-value": [("X", None)],
           "bytes-name": [(b"X", "y")], "bytes-value": [("X", b"y")], "newline-name": [("X\n", "y")],
           "crlf-value": [("X", "y\r\nZ: 1")], "colon-name": [("X: y", "z")], "empty-name": [("", "z")],
           "list-item": [["X", "y"]], "object": [Weird()], "badstr-value": [("X", BadStr("y"))],
           "hop-by-hop": [("Connection", "close"), ("Transfer-Encoding", "chunked")],
           "content-length-wrong": [("Content-Length", "abc")], "content-length-short": [("Content-Length", "1")],
           "content-length-long": [("Content-Length", "100")], "generator": (h for h in [("X", "y")])}
EXC_INFO = {"str": "x", "triple-ints": (1, 2, 3), "none-triple": (None, None, None), "short": (1,),
            "object": Weird()}
ITEMS = {"none": None, "int": 1, "str": "text", "bytearray": bytearray(b"x"), "memoryview": memoryview(b"x"),
         "object": Weird(), "list": [b"x"], "badbytes": BadBytes(b"xyz"), "float": 1.0}


class RaisingIterable:
    def __init__(self, where):
        self.where = where

    def __iter__(self):
        if self.where == "iter":
            raise RuntimeError("__iter__")
        return self

    def __next__(self):
        if self.where == "next":
            raise RuntimeError("__next__")
        raise StopIteration

    def __len__(self):
        if self.where == "len":
            raise RuntimeError("__len__")
        return 1

    def close(self):
        if self.where == "close":
            raise RuntimeError("close()")


class CloseNotCallable:
    close = 1

    def __iter__(self):
        return iter([b"ok\n"])


def _iterable_case(kind):
    def app(environ, start_response):
        start_response(*OK)
        if kind in ("iter", "next", "len", "close"):
            return RaisingIterable(kind)
        if kind == "close-not-callable":
            return CloseNotCallable()
        if kind == "generator-raises":
            def gen():
                yield b"first\n"
                raise RuntimeError("generator fails after its first item")
            return gen()
        if kind == "generator-close-raises":
            def gen():
                try:
                    yield b"first\n"
                    yield b"second\n"
                finally:
                    raise RuntimeError("generator's finally raises")
            return gen()
        return {"none": None, "int": 7, "str": "text", "bytes": b"bytes, not a list of bytes",
                "dict": {b"a": 1}}[kind]
    return app


def _no_start_response(environ, start_response):
    return [b"never started\n"]


def _start_response_twice(environ, start_response):
    start_response(*OK)
    start_response(*OK)
    return [b"ok\n"]


def _start_response_after_body(environ, start_response):
    start_response(*OK)

    def gen():
        yield b"first\n"
        start_response("500 Late", [], (RuntimeError, RuntimeError("late"), None))
        yield b"second\n"
    return gen()


_kept = []


def _write_after_return(environ, start_response):
    write = start_response(*OK)
    _kept.append((write, start_response, environ))
    return [b"ok\n"]


def _use_kept(environ, start_response):
    """Calls the write(), start_response and environ kept from an earlier request."""
    for write, sr, env in list(_kept):
        for f in (lambda: write(b"late\n"), lambda: sr(*OK), lambda: env["wsgi.input"].read(),
                  lambda: env["wsgi.errors"].write("late\n"), lambda: env["wsgi.errors"].flush(),
                  lambda: env["wsgi.input"].readline(), lambda: env["wsgi.file_wrapper"](open(__file__, "rb"))):
            try:
                f()
            except Exception:  # noqa: BLE001 - raising is the right answer here
                pass
    return _answer(start_response)


def _thread_after_return(environ, start_response):
    write = start_response(*OK)
    inp, err = environ["wsgi.input"], environ["wsgi.errors"]

    def late():
        for _ in range(20):
            time.sleep(0.01)
            for f in (lambda: write(b"late\n"), lambda: inp.read(10), lambda: err.write("late\n"),
                      lambda: err.flush(), lambda: start_response(*OK)):
                try:
                    f()
                except Exception:  # noqa: BLE001
                    pass
    threading.Thread(target=late, daemon=True).start()
    return [b"ok\n"]


def _thread_during_response(environ, start_response):
    write = start_response(*OK)
    inp = environ["wsgi.input"]

    def busy():
        for _ in range(200):
            try:
                write(b"x")
                inp.read(1)
            except Exception:  # noqa: BLE001
                pass
    t = threading.Thread(target=busy, daemon=True)
    t.start()

    def gen():
        for _ in range(50):
            yield b"y"
        t.join(5)
    return gen()


def _recursion(environ, start_response):
    def down(n):
        return down(n + 1) + 1
    down(0)
    return _answer(start_response)


def _recursion_in_iterable(environ, start_response):
    start_response(*OK)

    class Deep:
        def __iter__(self):
            return iter(self)
    return Deep()


def _recursion_limit_raised(environ, start_response):
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(3000)
    try:
        def down(n):
            return down(n + 1) + 1
        try:
            down(0)
        except RecursionError:
            pass
    finally:
        sys.setrecursionlimit(old)
    return _answer(start_response)


def _exit(environ, start_response):
    raise SystemExit(3)


def _keyboard_interrupt(environ, start_response):
    raise KeyboardInterrupt()


def _environ_replaced(environ, start_response):
    environ.clear()
    return _answer(start_response)


def _environ_key_types(environ, start_response):
    environ[1] = "int key"
    environ[b"bytes"] = "bytes key"
    environ[None] = None
    return _answer(start_response)


def _input_misuse(environ, start_response):
    inp = environ["wsgi.input"]
    for f in (lambda: inp.read(-5), lambda: inp.read("x"), lambda: inp.read(None), lambda: inp.readline(-1),
              lambda: inp.readline("x"), lambda: inp.readlines("x"), lambda: inp.read(1 << 62),
              lambda: list(inp), lambda: inp.close(), lambda: inp.read()):
        try:
            f()
        except Exception:  # noqa: BLE001
            pass
    return _answer(start_response)


def _errors_misuse(environ, start_response):
    err = environ["wsgi.errors"]
    for f in (lambda: err.write(None), lambda: err.write(b"bytes"), lambda: err.write(1), lambda: err.writelines(None),
              lambda: err.writelines([1, None]), lambda: err.write(BadStr("x")), lambda: err.write("\0" * 10000),
              lambda: err.close(), lambda: err.write("after close\n")):
        try:
            f()
        except Exception:  # noqa: BLE001
            pass
    return _answer(start_response)


def _file_wrapper_misuse(environ, start_response):
    fw = environ["wsgi.file_wrapper"]
    start_response(*OK)
    kind = environ.get("QUERY_STRING", "")
    if kind == "none":
        return fw(None)
    if kind == "closed":
        f = open(__file__, "rb")
        f.close()
        return fw(f)
    if kind == "blksize":
        return fw(open(__file__, "rb"), -1)
    return fw(Weird())


# Issue 26: what the sanitizers and the soak point at. Every thread or child these cases start is
# bounded (LONG seconds at most): a test leaves nothing behind.
LONG = 120


def _thread_outlives_request(daemon):
    def app(environ, start_response):
        def outlive():
            end = time.time() + LONG
            while time.time() < end:
                time.sleep(0.05)
                _kept_objects.append(bytearray(64))  # allocates while other requests run
                del _kept_objects[:-100]
        threading.Thread(target=outlive, daemon=daemon, name="hostile-outlives-request").start()
        return _answer(start_response)
    return app


_kept_objects = []


def _own_socket_fds():
    """The fds of this process's connected sockets: the client's connection (embedded mode) or
    the Apache child's (daemon mode): fds the app does not own."""
    import os
    import socket
    fds = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if not os.readlink("/proc/self/fd/%d" % fd).startswith("socket:"):
                continue
            s = socket.socket(fileno=fd)
        except OSError:
            continue
        try:
            if not s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                s.getpeername()
                fds.append(fd)
        except OSError:
            pass
        finally:
            s.detach()
    return fds


def _close_fds_not_owned(environ, start_response):
    import os
    for fd in _own_socket_fds():
        os.close(fd)
    return _answer(start_response)


def _close_stdio(environ, start_response):
    import os
    for fd in (0, 1):
        try:
            os.close(fd)
        except OSError:
            pass
    return _answer(start_response)


def _fork(then):
    def app(environ, start_response):
        import os
        pid = os.fork()
        if pid == 0:
            if then == "exit":
                os._exit(0)
            if then == "raise":
                raise RuntimeError("the forked child raises")
            return _answer(start_response, b"from the forked child\n")  # returns into the server
        end = time.time() + 10  # reaps its child (bounded: a test leaves nothing behind)
        while time.time() < end and os.waitpid(pid, os.WNOHANG) == (0, 0):
            time.sleep(0.01)
        return _answer(start_response, b"from the parent\n")
    return app


def _signal_handler(environ, start_response):
    import signal
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGCHLD):
        signal.signal(sig, lambda *a: None)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    return _answer(start_response)


def _signal_handler_raw(environ, start_response):
    import _signal
    _signal.signal(_signal.SIGTERM, lambda *a: None)  # past the restricted signal.signal
    return _answer(start_response)


def _huge_header_count(n):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")] + [("X-H%d" % i, "v") for i in range(n)])
        return [b"ok\n"]
    return app


def _blocks_forever(where):
    def app(environ, start_response):
        start_response(*OK)

        def gen():
            yield b"first\n"
            ev = threading.Event()
            end = time.time() + LONG
            if where == "c":
                ev.wait(LONG)  # one call in C: no Python bytecode runs to take an interrupt
            while time.time() < end:
                ev.wait(0.1)
            yield b"never\n"
        return gen()
    return app


# Cases whose answer is a log line, with the line (a regex) that must be there after the request;
# "daemon" when the case runs in daemon mode only (request-timeout is a daemon-process option, as
# in mod_wsgi: an embedded request that blocks forever has nothing to end it).
EXPECTED_LOG = {
    "signal-handler": (r"callback registration for signal 15 ignored", "both"),
    "signal-handler-raw": (r"signal only works in main thread", "both"),
    "fork-return": (r"MW19\d\d: .*forked", "both"),
    "fork-raise": (r"MW19\d\d: .*forked", "both"),
    # Embedded: the app closed the client's socket; daemon: the daemon's connection to Apache,
    # before (MW1606, 6.1's words, 502) or after (MW1262) the response headers.
    "close-fds-not-owned": (r"MW1902: .*closed|MW1262: .*connection closed by peer"
                            r"|MW1606: .*closed connection before sending complete response headers", "both"),
    # mod_wsgi 6.1's line, at INFO as in 6.1 (the daemon scenario runs at --log-level info).
    "iterable-blocks-forever": (r"request time limit exceeded", "daemon"),
    "iterable-blocks-forever-in-c": (r"request time limit exceeded", "daemon"),
}
# Cases that cannot be answered in embedded mode: the app closed the client's connection itself
# (in daemon mode it closes the daemon's connection to Apache, and Apache answers 500).
UNANSWERABLE_EMBEDDED = {"close-fds-not-owned"}
DAEMON_ONLY = {name for name, (_, where) in EXPECTED_LOG.items() if where == "daemon"}

CASES = {}
for _key in ENVIRON_KEYS:
    CASES["environ-deleted-%s" % _key] = _environ_case(_key, "deleted", "answer")
    CASES["environ-deleted-%s-raise" % _key] = _environ_case(_key, "deleted", "raise")
    CASES["environ-deleted-%s-read" % _key] = _environ_case(_key, "deleted", "read")
    for _w in ("none", "int", "object", "badstr"):
        CASES["environ-%s-%s" % (_w, _key)] = _environ_case(_key, _w, "answer")
        CASES["environ-%s-%s-raise" % (_w, _key)] = _environ_case(_key, _w, "raise")
for _n, _v in STATUS.items():
    CASES["status-%s" % _n] = _status_case(_v)
for _n, _v in HEADERS.items():
    CASES["headers-%s" % _n] = _headers_case(_v)
for _n, _v in EXC_INFO.items():
    CASES["exc-info-%s" % _n] = _exc_info_case(_v)
for _n, _v in ITEMS.items():
    CASES["item-%s" % _n] = _item_case(_v, "first")
    CASES["item-second-%s" % _n] = _item_case(_v, "second")
for _k in ("iter", "next", "len", "close", "close-not-callable", "generator-raises", "generator-close-raises",
           "none", "int", "str", "bytes", "dict"):
    CASES["iterable-%s" % _k] = _iterable_case(_k)
CASES.update({
    "no-start-response": _no_start_response, "start-response-twice": _start_response_twice,
    "start-response-after-body": _start_response_after_body, "write-after-return": _write_after_return,
    "use-kept": _use_kept, "thread-after-return": _thread_after_return,
    "thread-during-response": _thread_during_response, "recursion": _recursion,
    "recursion-in-iterable": _recursion_in_iterable, "recursion-limit-raised": _recursion_limit_raised,
    "system-exit": _exit, "keyboard-interrupt": _keyboard_interrupt, "environ-cleared": _environ_replaced,
    "environ-key-types": _environ_key_types, "input-misuse": _input_misuse, "errors-misuse": _errors_misuse,
    "file-wrapper-none": _file_wrapper_misuse,
    "thread-outlives-request": _thread_outlives_request(False),
    "thread-outlives-request-daemon": _thread_outlives_request(True),
    "close-fds-not-owned": _close_fds_not_owned, "close-stdio": _close_stdio,
    "fork-exit": _fork("exit"), "fork-return": _fork("return"), "fork-raise": _fork("raise"),
    "signal-handler": _signal_handler, "signal-handler-raw": _signal_handler_raw,
    "headers-count-1000": _huge_header_count(1000), "headers-count-100000": _huge_header_count(100000),
    "iterable-blocks-forever": _blocks_forever("python"), "iterable-blocks-forever-in-c": _blocks_forever("c"),
})


def application(environ, start_response):
    name = environ.get("PATH_INFO", "/").lstrip("/")
    case = CASES.get(name)
    if case is None:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [("%d cases\n" % len(CASES)).encode() if name == "count" else b"hello\n"]
    return case(environ, start_response)


if __name__ == "__main__":
    print("\n".join(sorted(CASES)))
