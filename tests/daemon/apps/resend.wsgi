# Requests re-sent across a daemon's restart (test_daemon_resend.py): every run of the
# application is recorded with the request's id, so that a request run twice is seen.
import os
import time


def application(environ, start_response):
    rid = environ.get("HTTP_X_REQUEST_ID", "-")
    with open(os.path.join(environ["MARKERS"], "runs"), "a") as f:
        f.write("%s %d\n" % (rid, os.getpid()))
    time.sleep(float(environ.get("QUERY_STRING") or 0))
    body = ("%s %d" % (rid, os.getpid())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
