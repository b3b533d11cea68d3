import os
import time


def application(environ, start_response):
    secs = float(environ.get("QUERY_STRING") or 1)
    time.sleep(secs)  # SLEEPY-LINE
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
