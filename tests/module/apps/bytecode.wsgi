# Imports a module from a fresh directory the run user can write, then lists its __pycache__.
import importlib
import json
import os
import sys
import tempfile


def application(environ, start_response):
    d = tempfile.mkdtemp(prefix="bc-", dir=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "markers"))
    with open(os.path.join(d, "mwt_bcmod_%s.py" % os.path.basename(d).replace("-", "_")), "w") as f:
        f.write("X = 1\n")
    sys.path.insert(0, d)
    try:
        mod = importlib.import_module("mwt_bcmod_%s" % os.path.basename(d).replace("-", "_"))
    finally:
        sys.path.remove(d)
    cache = os.path.join(d, "__pycache__")
    body = json.dumps({"imported": mod.X == 1,
                       "pycache": sorted(os.listdir(cache)) if os.path.isdir(cache) else []}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
