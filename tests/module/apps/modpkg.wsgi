import json


def application(environ, start_response):
    import mod_wsgi.server
    import mod_wsgi
    out = {
        "file": getattr(mod_wsgi, "__file__", None),
        "pure": getattr(mod_wsgi, "PURE_PYTHON_MARK", None),
        "server": mod_wsgi.server.SERVER_MARK,
        "version": list(getattr(mod_wsgi, "version", ())),
        "process_group": getattr(mod_wsgi, "process_group", None),
        "application_group": getattr(mod_wsgi, "application_group", None),
        "maximum_processes": getattr(mod_wsgi, "maximum_processes", None),
        "threads_per_process": getattr(mod_wsgi, "threads_per_process", None),
    }
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
