# asgiref-style check: is the request thread mistaken for the main thread?
import json
import threading


def application(environ, start_response):
    body = json.dumps({
        "main_is_current": threading.main_thread() is threading.current_thread(),
        "main_ident": threading.main_thread().ident,
        "current_ident": threading.get_ident(),
        "group": environ["mod_wsgi.application_group"],
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
