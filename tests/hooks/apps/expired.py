# Reports whether mod_ssl.is_https kept from an earlier hook call raises after the hook returned.
import json
import sys


def application(environ, start_response):
    access = sys.modules.get([m for m in sys.modules if m.startswith("_mod_wsgi_") and hasattr(sys.modules[m], "KEPT")][0])
    out = {}
    for key, call in (("is_https", lambda: access.KEPT[0]()), ("var_lookup", lambda: access.KEPT[1]("HTTPS"))):
        try:
            call()
            out[key] = "no error"
        except RuntimeError as e:
            out[key] = "RuntimeError: %s" % e
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
