# WSGIDispatchScript: route by the first path segment after the mount point.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hookutil  # noqa: E402


def _route(environ):
    return environ.get("PATH_INFO", "").strip("/").split("/")[0]


def process_group(environ):
    route = _route(environ)
    hookutil.record("dispatch-" + route, environ, **hookutil.interpreter())
    if route == "raise":
        raise ValueError("dispatch failed on purpose")
    return {"one": "one", "two": "two", "missing": "no-such-group", "bad": 42,
            "env": "%{ENV:DISPATCH_GROUP}"}.get(route)


def application_group(environ):
    return {"sub": "dispatched-sub", "global": "%{GLOBAL}"}.get(_route(environ))


def callable_object(environ):
    return {"alt": "app2"}.get(_route(environ))
