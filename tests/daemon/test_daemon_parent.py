"""Issue 4, points 1 and 6: the Apache parent stays single-threaded and never runs Python;
daemons survive Apache graceful restarts with requests in flight; routing variants."""
import os
import re
import threading
import time

import pytest

from daemon_harness import harness


def _threads(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])


@pytest.mark.parametrize("mpm", ["event", "worker", "prefork"])
def test_parent_single_threaded_without_python(apache_factory, mpm):
    a = apache_factory("""
WSGIRestrictEmbedded On
WSGIDaemonProcess g processes=2 threads=3 display-name=%{GROUP}
WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%{GLOBAL}
""", mpm=mpm)
    assert len(a.wait_daemons(2)) == 2
    for _ in range(4):
        assert a.get("/d/pid").status == 200
    a.graceful()
    assert a.get("/d/pid").status == 200
    assert _threads(a.pid) == 1
    log = a.log()
    assert not re.search(r"\[pid %d:[^\]]*\] MW1003" % a.pid, log)  # no Python in the parent
    # WSGIRestrictEmbedded On: the Apache children do not start Python either
    inits = re.findall(r"Initialized Python [\d.]+ in (.*)\.", log)
    assert inits and all("daemon process group" in i for i in inits), inits
    for pid in a.wait_daemons(2):
        with open("/proc/%d/status" % pid) as f:
            uid_line = [l for l in f if l.startswith("Uid:")][0]
        assert uid_line.split()[1:] == [str(harness.pwd.getpwnam(harness.RUN_USER).pw_uid)] * 4


def test_graceful_with_request_in_flight(apache_factory):
    a = apache_factory("""
WSGISocketRotation Off
WSGIDaemonProcess g threads=2 display-name=%{GROUP}
WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%{GLOBAL}
""")
    old = a.wait_daemons(1)
    res = []
    t = threading.Thread(target=lambda: res.append(a.get("/d/sleep?2", timeout=30)))
    t.start()
    time.sleep(0.5)
    a.graceful()
    new = a.get("/d/pid")
    assert new.status == 200 and int(new.body) not in old
    t.join()
    assert res[0].status == 200 and res[0].body.endswith(b" in %d" % old[0]), res
    a.wait_daemons(1, exclude=old)


def test_script_alias_match_and_vhost(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g threads=2
WSGIScriptAliasMatch ^/m/([a-z]+) @APPS@/$1.wsgi process-group=g application-group=%{GLOBAL}
<VirtualHost 127.0.0.1:@PORT@>
    ServerName vhost.test
    WSGIScriptAlias /v @APPS@/daemon.wsgi process-group=g application-group=vgroup
</VirtualHost>
""")
    r = a.get("/m/daemon/info")
    assert r.status == 200 and r.json()["process_group"] == "g"
    r = a.get("/v/info", headers={"Host": "vhost.test"})
    assert r.status == 200, a.log()[-2000:]
    info = r.json()
    assert info["process_group"] == "g" and info["application_group"] == "vgroup"
