"""Issue 13, points 8 and 9: the other mod_wsgi 4.9 directives have their effect (or say at
start-up that they have none), and hook scripts follow WSGIScriptReloading."""
import os
import re
import time

import pytest

from hooks_harness import HooksApache


@pytest.mark.ours_only
def test_case_sensitivity_off_makes_one_script_of_paths_differing_in_case(hooks_factory):
    # mod_wsgi 4.9.4 tests the flag the wrong way round: it lower-cases paths when
    # WSGICaseSensitivity is On (the default), so two different files whose paths differ only
    # in case run as one module there. Here the directive means what its documentation says.
    def counters(directive):
        a = hooks_factory(directive + "WSGIApplicationGroup %{GLOBAL}\n"
                          "WSGIScriptAlias /lower @DIR@/apps/counter.wsgi\n"
                          "WSGIScriptAlias /upper @DIR@/Apps/counter.wsgi\n", start=False)
        os.symlink("apps", os.path.join(a.dir, "Apps"))
        a.start()
        lower, upper = a.get("/lower").json(), a.get("/upper").json()
        return lower, upper

    lower, upper = counters("")
    assert lower["name"] != upper["name"] and upper["count"] == 1
    lower, upper = counters("WSGICaseSensitivity Off\n")
    assert lower["name"] == upper["name"] and upper["count"] == 2


def test_pass_apache_request_in_embedded_mode(hooks_factory):
    a = hooks_factory("WSGIScriptAlias /on @APPS@/env.wsgi\nWSGIScriptAlias /off @APPS@/env.wsgi\n"
                      "<Location /on>\nWSGIPassApacheRequest On\n</Location>\n")
    assert a.get("/on").json()["apache.request_rec"]["type"] == "PyCapsule"
    assert "apache.request_rec" not in a.get("/off").json()


@pytest.mark.ours_only
@pytest.mark.parametrize("line,warning", [
    ("WSGIAcceptMutex flock", "WSGIAcceptMutex flock: daemon processes here use no cross-process accept mutex"),
])
def test_directives_without_effect_here_warn_once(hooks_factory, line, warning):
    a = hooks_factory(line + "\nWSGIScriptAlias /env @APPS@/env.wsgi\n")
    assert a.get("/env").status == 200
    assert a.log().count(warning) == 1, a.log()


@pytest.mark.mod_wsgi_49("hook scripts' environ keeps 4.9's mod_wsgi.script_reloading (hooks are outside issue 23's request path)")
def test_hook_scripts_are_not_reloaded_with_script_reloading_off(hooks_factory):
    a = hooks_factory("WSGIScriptAlias /app @APPS@/env.wsgi\n<Location /app>\n"
                      "WSGIAccessScript @APPS@/access.py\nWSGIScriptReloading Off\n</Location>\n")
    assert a.get("/app/true").status == 200
    path = os.path.join(a.apps, "access.py")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace('VERSION = "v1"', 'VERSION = "v2"'))
    st = os.stat(path)
    os.utime(path, (st.st_atime, st.st_mtime + 5))
    os.remove(a.marker("access-true.json"))
    assert a.get("/app/true").status == 200
    seen = a.seen("access-true")
    assert seen["_"]["version"] == "v1" and seen["mod_wsgi.script_reloading"]["repr"] == "0"


@pytest.mark.slow
def test_ignore_activity_requests_do_not_keep_a_daemon_alive(hooks_factory):
    a = hooks_factory("WSGIDaemonProcess idle processes=1 threads=2 inactivity-timeout=2\n"
                      "WSGIProcessGroup idle\n"
                      "WSGIScriptAlias /app @APPS@/env.wsgi\nWSGIScriptAlias /health @APPS@/env.wsgi\n"
                      "<Location /health>\nWSGIIgnoreActivity On\n</Location>\n")

    def poll(path, seconds):
        mark = a.log_size()
        end = time.time() + seconds
        while time.time() < end:
            assert a.get(path).status == 200
            if re.search(r"(?i)inactivity", a.log(mark)):
                return True
            time.sleep(0.4)
        return False

    # Requests to /app are activity: the daemon stays.
    assert a.get("/app").status == 200
    assert not poll("/app", 5)
    # Health checks under WSGIIgnoreActivity On are not: the idle daemon is restarted.
    assert poll("/health", 12)
