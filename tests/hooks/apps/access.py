# WSGIAccessScript: the answer is the last path segment of the URL.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hookutil  # noqa: E402

KEPT = []
VERSION = "v1"


def allow_access(environ, host):
    answer = environ["REQUEST_URI"].split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    is_https = environ["mod_ssl.is_https"]()
    lookup = environ["mod_ssl.var_lookup"]("SSL_PROTOCOL")
    KEPT[:] = [environ["mod_ssl.is_https"], environ["mod_ssl.var_lookup"]]
    hookutil.record("access-" + answer, environ, host=host, is_https=is_https, ssl_protocol=lookup,
                    version=VERSION, **hookutil.interpreter())
    environ["wsgi.errors"].write("access hook saw %s\n" % answer)
    if answer == "raise":
        raise ValueError("access hook failed on purpose")
    return {"true": True, "false": False, "none": None, "bad": 42}.get(answer, True)
