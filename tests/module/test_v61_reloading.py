"""Issue 23: reloading as mod_wsgi 6.1 does it, in embedded mode and in a daemon process group:
a changed script, the script's reload_required(resource) returning True, and a module whose
__mtime__ can no longer be read all give a fresh load (a new module in embedded mode; a new
daemon process in daemon mode, which then serves the request), each logged."""
import hashlib
import os
import re
import time

import pytest

from apache_harness import Apache

MODES = {
    "embedded": ("main interpreter in embedded mode", ""),
    "daemon": ("main interpreter of daemon process 'v61'",
               "WSGIDaemonProcess v61 threads=2\nWSGIProcessGroup v61\n"),
}


@pytest.fixture(params=sorted(MODES))
def srv(request, module_file):
    context, daemon = MODES[request.param]
    a = Apache("WSGIScriptAlias /v @APPS@/v61.wsgi\n" + daemon + "WSGIApplicationGroup %{GLOBAL}\n",
               name="v61r")
    a.mode = request.param
    a.context = context
    a.script = os.path.join(a.apps, "v61.wsgi")
    try:
        a.start()
        yield a
    finally:
        a.cleanup()


def identity(a):
    r = a.get("/v/identity", timeout=30)
    assert r.status == 200, (r, a.log()[-3000:])
    return r.json()


def assert_reloaded(a, before, since):
    """The next request runs a fresh load of the script, and the log says why."""
    after = identity(a)
    assert after["loaded"] != before["loaded"], (before, after)
    loading = r"(?m)\] (?:(?:MW|WSGI)\d{4}: )?Loading WSGI script '%s' into %s\.$" % (
        re.escape(a.script), re.escape(a.context))
    if a.mode == "embedded":
        assert after["pid"] == before["pid"]
        a.wait_log(r"(?m)\] (?:MW\d{4}: )?Reloading WSGI script '%s' into %s\.$"
                   % (re.escape(a.script), re.escape(a.context)), since=since)
    else:
        # mod_wsgi 6.1 restarts the daemon process, and the request is served by the new one.
        assert after["pid"] != before["pid"]
        m = a.wait_log(r"(?m)\[wsgi:info\] .*\] (?:MW\d{4}: )?Forcing restart of daemon process 'v61' due to "
                       r"modification of script '%s'\.$" % re.escape(a.script), since=since)
        a.wait_log(loading, since=since + m.end())
    return after


@pytest.mark.mod_wsgi_61
def test_the_script_module_is_named_by_the_md5_of_its_path(srv):
    # As mod_wsgi names it; in a daemon process too, whose runtime computes it without APR.
    want = "_mod_wsgi_" + hashlib.md5(srv.script.encode()).hexdigest()
    assert identity(srv)["module"] == want


@pytest.mark.mod_wsgi_61
def test_reload_required_true_gives_a_fresh_load(srv):
    before = identity(srv)
    assert identity(srv)["loaded"] == before["loaded"]
    since = srv.log_size()
    open(os.path.join(srv.markers, "v61-reload"), "w").close()
    after = assert_reloaded(srv, before, since)
    assert identity(srv)["loaded"] == after["loaded"]  # once


@pytest.mark.mod_wsgi_61
@pytest.mark.parametrize("how", ["delete", "garble"])
def test_a_module_whose_mtime_cannot_be_read_is_loaded_anew(srv, how):
    before = identity(srv)
    assert srv.get("/v/forget_mtime?how=" + how).status == 200
    since = srv.log_size()
    after = assert_reloaded(srv, before, since)
    assert re.fullmatch(r"\d+", after["mtime"]), after  # the fresh module has its own again
    assert identity(srv)["loaded"] == after["loaded"]


@pytest.mark.mod_wsgi_61
def test_a_changed_script_is_loaded_anew(srv):
    before = identity(srv)
    st = os.stat(srv.script)
    os.utime(srv.script, (st.st_atime, st.st_mtime + 5))
    since = srv.log_size()
    assert_reloaded(srv, before, since)
