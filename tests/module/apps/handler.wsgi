# A WSGIHandlerScript: serves the requested resource with a prefix.
import json


import os


def handle_request(environ, start_response):
    if not os.path.exists(environ["SCRIPT_FILENAME"]):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"handler says: no such resource"]
    with open(environ["SCRIPT_FILENAME"], "rb") as f:
        content = f.read()
    body = json.dumps({
        "content": content.decode(),
        "SCRIPT_FILENAME": environ.get("SCRIPT_FILENAME"),
        "SCRIPT_NAME": environ.get("SCRIPT_NAME"),
        "PATH_INFO": environ.get("PATH_INFO"),
        "handler_script": environ.get("mod_wsgi.handler_script"),
        "request_handler": environ.get("mod_wsgi.request_handler"),
        "application_group": environ.get("mod_wsgi.application_group"),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
