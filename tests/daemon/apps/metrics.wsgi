# The Prometheus endpoint's tests: a status chosen by the path, an optional sleep, the pid.
import os
import time


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/status/"):
        code = int(path.split("/")[2])
        start_response("%d Chosen" % code, [("Content-Type", "text/plain")])
        return [b"chosen"]
    if path == "/sleep":
        time.sleep(float(environ.get("QUERY_STRING") or "0.1"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
