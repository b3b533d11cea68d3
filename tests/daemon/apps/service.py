# A threads=0 service script (mod_wsgi-express --service-script): records its life in markers.
import os
import sys
import time

MARKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "markers")
pid = os.getpid()


def mark(name):
    with open(os.path.join(MARKERS, name), "w") as f:
        f.write(str(pid))


mark("service-start-%d" % pid)
if not os.path.exists(os.path.join(MARKERS, "service-ran-once")):
    mark("service-ran-once")
    time.sleep(0.3)
    mark("service-end-%d" % pid)
else:
    try:
        mark("service-looping-%d" % pid)
        while True:
            time.sleep(0.2)
    except SystemExit:
        mark("service-systemexit-%d" % pid)
        raise
