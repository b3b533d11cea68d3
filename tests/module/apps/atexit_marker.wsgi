# Registers an atexit handler that writes a marker file when the interpreter is finalised.
import atexit
import os
import sys

MARKERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "markers")


def _at_exit(pid=os.getpid()):
    with open(os.path.join(MARKERS, "atexit-%d" % pid), "w") as f:
        f.write("atexit ran")


atexit.register(_at_exit)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
