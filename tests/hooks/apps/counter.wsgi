import json
import os

COUNT = 0


def application(environ, start_response):
    global COUNT
    COUNT += 1
    body = json.dumps({"name": __name__, "count": COUNT, "pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
