# Reads the request body in the way named by ?mode=... and answers its length and SHA-256,
# so that bodies of any size can be checked exactly without echoing them.
import hashlib
import sys


def application(environ, start_response):
    mode = environ.get("QUERY_STRING") or "length"
    inp = environ["wsgi.input"]
    try:
        if mode == "length":  # read(CONTENT_LENGTH), as most frameworks do
            data = inp.read(int(environ.get("CONTENT_LENGTH") or 0))
            after = inp.read(1)
        elif mode == "all":  # read()
            data = inp.read()
            after = inp.read(1)
        elif mode == "blocks":  # read(65536) until the end
            parts = []
            while True:
                b = inp.read(65536)
                if not b:
                    break
                parts.append(b)
            data, after = b"".join(parts), inp.read(1)
        elif mode == "lines":
            data, after = b"".join(inp), inp.readline()
        else:
            raise ValueError(mode)
    except OSError as e:
        print("body-read-failed: %s: %s" % (type(e).__name__, e), file=sys.stderr, flush=True)
        raise
    out = ("%d %s %d" % (len(data), hashlib.sha256(data).hexdigest(), len(after))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]
