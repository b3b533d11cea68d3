# Shared by the hook scripts: record what a hook saw, for the tests to read.
import json
import os
import sys

MARKERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "markers")


def record(name, environ, **extra):
    out = {}
    for k, v in environ.items():
        out[k] = v if isinstance(v, str) else {"type": type(v).__name__, "repr": repr(v)}
    out["_"] = extra
    path = os.path.join(MARKERS, name + ".json")
    import threading
    tmp = "%s.%d.%d.tmp" % (path, os.getpid(), threading.get_ident())
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.replace(tmp, path)


def interpreter():
    import mod_wsgi
    return {"application_group": mod_wsgi.application_group, "process_group": mod_wsgi.process_group,
            "pid": os.getpid()}
