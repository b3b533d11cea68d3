# Applications that poke at the module's memory and file-descriptor safety (mounted at /safe).
import io
import os
import sys
import threading
import time
from urllib.parse import parse_qs

MARKERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "markers")


def mark(name, text="1"):
    path = os.path.join(MARKERS, name)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


class MarkingFile(io.FileIO):
    """A real file (so the module sends it with sendfile) that records when it is closed."""

    def __init__(self, path, marker):
        super().__init__(path, "rb")
        self.marker = marker

    def close(self):
        fd = self.fileno()
        super().close()
        mark(self.marker, str(fd))


def stack_probe_5e1f(seconds):
    # The largest reference count this function's own name reached while it ran: the
    # supervisor's stack dump of this thread must give back every reference it takes.
    name = sys._getframe().f_code.co_name
    base = highest = sys.getrefcount(name)
    deadline = time.time() + seconds
    while time.time() < deadline:
        time.sleep(0.05)
        highest = max(highest, sys.getrefcount(name))
    return base, highest


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    ok = [("Content-Type", "application/octet-stream")]

    if path == "/pid":
        start_response("200 OK", ok)
        return [str(os.getpid()).encode()]

    if path == "/file":
        # wsgi.file_wrapper over a real file; close() (after the handler has passed the file
        # to Apache) leaves a marker.
        f = MarkingFile(q["path"], q["marker"])
        size = os.fstat(f.fileno()).st_size
        start_response("200 OK", ok + [("Content-Length", str(size))])
        return environ["wsgi.file_wrapper"](f, 65536)

    if path == "/hold":
        # Opens files (taking the lowest free descriptor numbers) and keeps them open.
        files = [open(q["path"], "rb") for _ in range(int(q.get("n", "4")))]
        mark(q["marker"], " ".join(str(f.fileno()) for f in files))
        time.sleep(float(q.get("s", "3")))
        for f in files:
            f.close()
        start_response("200 OK", ok)
        return [b"held"]

    if path == "/borrowed":
        # The module writes the first item while another thread drops the list's
        # references to it: the module must hold its own reference while it writes.
        size = int(q.get("mb", "40")) * 1024 * 1024
        body = [b"a" * size, b"end"]

        def drop():
            time.sleep(float(q.get("after", "1")))
            if q.get("how") == "clear":
                body.clear()  # the list ends early: what is written stays whole
            else:
                body[0] = b""
            filler = [b"X" * size for _ in range(2)]  # reuse the freed memory, if it was
            mark(q["marker"])
            time.sleep(2)
            del filler

        threading.Thread(target=drop, daemon=True).start()
        start_response("200 OK", ok + [("Content-Length", str(size + 3))])
        return body

    if path == "/no_errors":
        # An application may do anything to its environ, even remove wsgi.errors.
        del environ["wsgi.errors"]
        if "raise" in q:
            raise RuntimeError("no wsgi.errors and an exception " + q.get("token", ""))
        start_response("200 OK", ok)
        return [b"no errors stream"]

    if path == "/readline_max":
        # A size as large as Python allows, after the stream's buffer has been read from.
        stream = environ["wsgi.input"]
        first = stream.readline()
        rest = stream.readline(sys.maxsize)
        start_response("200 OK", ok)
        return [first, b"|", rest]

    if path == "/concurrent_write":
        # write() from a second thread while the module writes the returned body without
        # the GIL: one of them must be refused, never both run at once.
        write = start_response("200 OK", ok)
        size = int(q.get("mb", "8")) * 1024 * 1024
        outcome = []

        def other():
            time.sleep(float(q.get("after", "1")))
            try:
                write(b"B" * 65536)
                outcome.append("written")
            except Exception as e:
                outcome.append("%s: %s" % (type(e).__name__, e))
            mark(q["marker"], outcome[0])

        threading.Thread(target=other, daemon=True).start()
        return [b"a" * size]

    if path == "/bad_exc_info":
        # exc_info after the headers went out re-raises it: here it is not an exception.
        write = start_response("200 OK", ok)
        write(b"started ")
        start_response("500 Oops", ok, (1, 2, 3))
        return [b"never"]

    if path == "/stack_probe":
        base, highest = stack_probe_5e1f(float(q.get("s", "4")))
        mark(q["marker"], "%d %d" % (base, highest))
        start_response("200 OK", ok)
        return [b"probed"]

    start_response("404 Not Found", ok)
    return [b"unknown path " + path.encode()]
