"""The example application the image serves: replace deploy/app with your own (a WSGI
script named by the container's arguments, or a package with --application-type module)."""
import os
import socket


def application(environ, start_response):
    body = ("Hello from %s (process %d)\n" % (socket.gethostname(), os.getpid())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
