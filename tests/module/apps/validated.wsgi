# An app wrapped in wsgiref.validate.validator; any WSGIWarning is turned into an error.
import os
import warnings
from wsgiref.validate import validator, WSGIWarning

warnings.simplefilter("error", WSGIWarning)


def inner(environ, start_response):
    path = environ.get("PATH_INFO", "")
    ct = [("Content-Type", "text/plain")]
    if path == "/read":
        inp = environ["wsgi.input"]
        n = int(environ.get("CONTENT_LENGTH") or 0)
        first = inp.readline(10)
        rest = inp.read(max(n - len(first), 0))
        body = first + rest
        start_response("200 OK", ct + [("Content-Length", str(len(body)))])
        return [body]
    if path == "/lines":
        lines = list(environ["wsgi.input"])
        start_response("200 OK", ct)
        return [b"%d lines" % len(lines)]
    if path == "/write":
        write = start_response("200 OK", ct)
        write(b"written;")
        return [b"returned"]
    if path == "/file":
        f = open(os.path.abspath(__file__), "rb")
        start_response("200 OK", ct)
        return environ["wsgi.file_wrapper"](f, 4096)
    if path == "/error":
        environ["wsgi.errors"].write("validated app logging\n")
        environ["wsgi.errors"].flush()
        start_response("404 Not Found", ct)
        return [b"not here"]
    body = b"validated hello"
    start_response("200 OK", ct + [("Content-Length", str(len(body)))])
    return [body]


application = validator(inner)
