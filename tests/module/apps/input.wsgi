# Reads wsgi.input in the way named by ?mode=... and echoes what it got, as JSON.
import json
import sys
from urllib.parse import parse_qs


def application(environ, start_response):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    mode = q.get("mode", ["read"])[0]
    n = int(q.get("n", ["7"])[0])
    inp = environ["wsgi.input"]
    out = {"mode": mode}
    if mode == "read":
        data = inp.read()
        out["after"] = inp.read().hex()
    elif mode == "readn":
        parts = []
        while True:
            b = inp.read(n)
            if not b:
                break
            assert len(b) <= n, (len(b), n)
            parts.append(b)
        data = b"".join(parts)
        out["sizes"] = [len(p) for p in parts]
        out["after"] = inp.read(n).hex()
    elif mode == "read_big":
        data = inp.read(10 ** 7)
        out["after"] = inp.read(10).hex()
    elif mode == "read_max":
        data = inp.read(sys.maxsize)
        out["after"] = inp.read(10).hex()
    elif mode == "read0":
        out["zero"] = inp.read(0).hex()
        data = inp.read()
    elif mode == "readline":
        lines = []
        while True:
            l = inp.readline()
            if not l:
                break
            lines.append(l)
        data = b"".join(lines)
        out["lines"] = [l.hex() for l in lines]
    elif mode == "readline_n":
        lines = []
        while True:
            l = inp.readline(n)
            if not l:
                break
            assert len(l) <= n
            lines.append(l)
        data = b"".join(lines)
        out["lines"] = [l.hex() for l in lines]
    elif mode == "readlines":
        lines = inp.readlines()
        data = b"".join(lines)
        out["lines"] = [l.hex() for l in lines]
    elif mode == "iter":
        lines = list(iter(inp))
        data = b"".join(lines)
        out["lines"] = [l.hex() for l in lines]
    elif mode == "none":
        data = b""
    else:
        raise ValueError(mode)
    out["data"] = data.hex()
    out["len"] = len(data)
    out["CONTENT_LENGTH"] = environ.get("CONTENT_LENGTH", "<absent>")
    out["CONTENT_TYPE"] = environ.get("CONTENT_TYPE", "<absent>")
    out["HTTP_TRANSFER_ENCODING"] = environ.get("HTTP_TRANSFER_ENCODING", "<absent>")
    out["input_terminated"] = environ.get("wsgi.input_terminated", "<absent>")
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
