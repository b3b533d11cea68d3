# Kept connections between Apache's children and the daemon (test_daemon_pool.py).
import os
import signal


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/pid":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(str(os.getpid()))))])
        return [str(os.getpid()).encode()]
    if path == "/consume_then_die":
        # Reads the whole body, records that it ran, and dies before answering: the Apache
        # child must not send this request again (the body has been consumed).
        body = environ["wsgi.input"].read()
        with open(os.path.join(environ["MARKERS"], "consumed"), "a") as f:
            f.write("%d %d\n" % (os.getpid(), len(body)))
        os.kill(os.getpid(), signal.SIGKILL)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"unknown " + path.encode()]
