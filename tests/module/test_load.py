"""Issue 2, point 1: build and load under every MPM; graceful/restart cycles without crash or leak."""
import os
import re
import subprocess
import time

import pytest

from apache_harness import MODULE, REFERENCE, error_level_lines

CRASH = re.compile(r"Segmentation fault|exit signal|core dumped|Fatal Python error|AH00052")

THREADED_2x4 = ("StartServers 2\nServerLimit 2\nThreadsPerChild 4\nMaxRequestWorkers 8\n"
                "MinSpareThreads 1\nMaxSpareThreads 8\nThreadLimit 64\n")
MPM_CONF = {"event": THREADED_2x4, "worker": THREADED_2x4, "prefork": None}


def test_module_links_cleanly(module_file):
    out = subprocess.run(["ldd", module_file], capture_output=True, text=True, timeout=30).stdout
    assert "not found" not in out, out
    assert "libpython3" in out, out


def test_configtest_syntax_ok(apache_factory):
    a = apache_factory("WSGIScriptAlias /hello @APPS@/hello.wsgi\n", start=False)
    rc, out = a.configtest()
    assert rc == 0 and "Syntax OK" in out, out


@pytest.mark.parametrize("mpm", ["event", "worker", "prefork"])
def test_loads_and_serves_under_mpm(apache_factory, mpm):
    a = apache_factory("WSGIScriptAlias /hello @APPS@/hello.wsgi\nWSGIScriptAlias /env @APPS@/env.wsgi\n",
                       mpm=mpm, mpm_conf=MPM_CONF[mpm])
    for _ in range(5):
        r = a.get("/hello")
        assert r.status == 200 and r.body == b"Hello World!", r
    env = a.get("/env/").json()
    assert env["_"]["wsgi.multithread"] is (mpm != "prefork")
    assert env["_"]["wsgi.multiprocess"] is True
    assert env["_"]["wsgi.run_once"] is False
    assert a.get("/index.html").body == b"static\n"
    log = a.log()
    assert not CRASH.search(log), log
    assert not error_level_lines(log), log


def _rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _cycles(a, verb, n, path="/hello"):
    for i in range(n):
        getattr(a, verb)()
        for _ in range(3):
            r = a.get(path)
            assert r.status == 200, (verb, i, r, a.log()[-3000:])


GROUPS = [pytest.param("%{GLOBAL}", id="global"), pytest.param("%{RESOURCE}", id="subinterp")]


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_graceful_and_restart_cycles(apache_factory, mpm, group):
    if REFERENCE and mpm == "event" and group == "%{RESOURCE}":
        pytest.skip("ours only: the reference 4.9.4 hangs destroying sub-interpreters of a threaded "
                    "child under Python 3.11")
    a = apache_factory("WSGIScriptAlias /hello @APPS@/hello.wsgi\nWSGIApplicationGroup %s\n" % group,
                       mpm=mpm, mpm_conf=MPM_CONF[mpm])
    parent = a.pid
    assert a.get("/hello").status == 200
    _cycles(a, "graceful", 2)
    _cycles(a, "restart", 2)
    rss_before = _rss_kb(parent)
    _cycles(a, "graceful", 4)
    _cycles(a, "restart", 4)
    rss_after = _rss_kb(parent)
    assert _alive_pid(parent), "the Apache parent died:\n" + a.log()[-4000:]
    log = a.log()
    assert not CRASH.search(log), log[-6000:]
    assert len(re.findall(r"SIGUSR1 received|Graceful restart requested", log)) == 6
    assert len(re.findall(r"SIGHUP received", log)) == 6
    # the parent re-loads the module on every restart: it must not keep growing
    assert rss_after - rss_before < 3 * 1024, (rss_before, rss_after)
    if group == "%{RESOURCE}":
        # old children must really finish (interpreters destroyed, no hang) after a graceful restart
        deadline = time.time() + 10
        while len(a.children()) > 2 and time.time() < deadline:
            time.sleep(0.1)
        assert len(a.children()) <= 2 + (2 if mpm == "prefork" else 0), a.children()


def _alive_pid(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def test_child_memory_bounded_under_requests(apache_factory):
    """Many requests in one child: the resident size settles instead of growing with the count."""
    a = apache_factory("WSGIScriptAlias /env @APPS@/env.wsgi\nWSGIScriptAlias /b @APPS@/behave.wsgi\n",
                       mpm="event")
    import http.client

    def burst(n):
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
        for i in range(n):
            if i % 50 == 0:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
            path = ("/env/p?q=%d" % i) if i % 2 else "/b/write"
            method = "POST" if i % 3 == 0 else "GET"
            conn.request(method, path, body=b"y" * 3000 if method == "POST" else None,
                         headers={"X-Hdr": "v" * 200})
            r = conn.getresponse()
            r.read()
            assert r.status == 200
        conn.close()

    burst(400)
    kids = a.children()
    assert len(kids) == 1, kids
    rss1 = _rss_kb(kids[0])
    burst(1600)
    rss2 = _rss_kb(kids[0])
    assert a.children() == kids
    assert rss2 - rss1 < 4 * 1024, (rss1, rss2)


def test_stop_is_prompt_with_global_interpreter(apache_factory):
    a = apache_factory("WSGIScriptAlias /hello @APPS@/hello.wsgi\nWSGIApplicationGroup %{GLOBAL}\n")
    assert a.get("/hello").status == 200
    t = time.time()
    a.stop(timeout=10)
    assert time.time() - t < 5
    assert "still did not exit" not in a.log(), a.log()


@pytest.mark.ours_only
def test_stop_is_prompt_with_sub_interpreters(apache_factory):
    """The reference hangs ~10 s in 'End interpreter' under Python 3.11; we must not."""
    a = apache_factory("WSGIScriptAlias /hello @APPS@/hello.wsgi\nWSGIScriptAlias /env @APPS@/env.wsgi\n")
    assert a.get("/hello").status == 200
    assert a.get("/env").status == 200
    t = time.time()
    a.stop(timeout=10)
    assert time.time() - t < 5
    assert "still did not exit" not in a.log(), a.log()
