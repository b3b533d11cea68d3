"""Responses whose every byte differs, for the Apache child's relay of response blocks: a
block misplaced, repeated, cut or reused after Apache was given it shows as wrong bytes."""
import hashlib
import os
import signal
import tempfile


def pattern(n, seed=0):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha512(b"%d:%d" % (seed, i)).digest()
        i += 1
    return bytes(out[:n])


# Block sizes around the relay's limits: the connection's 16 KB buffer, response-buffer-size
# (64 KB), the 256 KB heap blocks and the daemon's 1 MB frames.
SIZES = [1, 7, 100, 4096, 16379, 16384, 16390, 65536, 65541, 262144, 262150, 1048576, 1048583]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
    size = int(query.get("size", 0))
    seed = int(query.get("seed", 0))
    body = pattern(size, seed)
    headers = [("Content-Type", "application/octet-stream")]
    if query.get("cl", "1") == "1":
        headers.append(("Content-Length", str(size)))
    if path == "/one":
        start_response("200 OK", headers)
        return [body]
    if path == "/many":
        write = start_response("200 OK", headers)
        blocks, at, i = [], 0, 0
        while at < size:
            n = SIZES[i % len(SIZES)]
            blocks.append(body[at:at + n])
            at += n
            i += 1
        if query.get("write") == "1":
            for b in blocks:
                write(b)
            return []
        return blocks
    if path == "/file":
        # A file of the body, gone from /tmp as soon as it is open (nothing is left behind,
        # even by a daemon process that is killed).
        fd, name = tempfile.mkstemp(prefix="relay-")
        try:
            os.write(fd, body)
            f = open(name, "rb")
        finally:
            os.close(fd)
            os.unlink(name)
        start_response("200 OK", headers)
        return environ["wsgi.file_wrapper"](f, 65536)
    if path == "/die":
        # Half the body, then the daemon process is killed mid-response.
        start_response("200 OK", headers)

        def gen():
            yield body[:size // 2]
            os.kill(os.getpid(), signal.SIGKILL)
            yield body[size // 2:]
        return gen()
    if path == "/spin":
        # Pure Python for a while: this thread holds the GIL most of the time.
        import time
        end = time.monotonic() + int(query.get("ms", 100)) / 1000.0
        n = 0
        while time.monotonic() < end:
            n += 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d" % n]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such route"]
