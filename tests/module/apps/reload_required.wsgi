# reload_required(resource): mod_wsgi consults it on each request when script reloading is on.
import os

TOKEN = os.urandom(6).hex()
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEN = []


def reload_required(resource):
    SEEN.append(resource)
    flag = os.path.join(HERE, "markers", "reload-flag")
    if os.path.exists(os.path.join(HERE, "markers", "reload-raise")):
        raise ValueError("reload_required failed on purpose")
    if os.path.exists(flag):
        os.unlink(flag)
        return True
    return False


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s %s" % (TOKEN, SEEN[-1] if SEEN else "-")).encode()]
