"""Issue 12, item 6: a script's reload_required(resource) in daemon mode: consulted on each
request while script reloading is on; True restarts the daemon process (as mod_wsgi 6.x),
whose replacement serves the request."""
import os

from daemon_harness import harness  # noqa: F401


def _token(a, path="/rr"):
    r = a.get(path)
    assert r.status == 200, a.log()[-3000:]
    token, _, resource = r.body.decode().partition(" ")
    return token, resource


def test_reload_required_true_reloads_in_daemon_mode(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g processes=1 threads=2 display-name=%{GROUP}
WSGIScriptAlias /rr @APPS@/reload_required.wsgi process-group=g application-group=%{GLOBAL}
""")
    pids = a.wait_daemons(1)
    t1, resource = _token(a)
    t1, resource = _token(a)
    assert resource == os.path.join(a.apps, "reload_required.wsgi")
    assert _token(a)[0] == t1
    since = a.log_size()
    open(os.path.join(a.markers, "reload-flag"), "w").close()
    assert _token(a)[0] != t1
    a.wait_log(r"Forcing restart of daemon process 'g' due to modification of script '%s'\." % resource, since)
    assert a.wait_daemons(1, exclude=pids) != pids  # a new process, which loaded the script
