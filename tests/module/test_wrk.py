"""Done-when: a short wrk run under the event MPM with 2 x 16 threads ends with 0 errors.

16 connections (-c16) can all land on one child of 16 threads; when all its workers are busy the
event MPM closes keep-alive connections (wrk counts "read" errors) -- with the reference mod_wsgi too,
about one run in two here. So the run uses 12 connections: workers > connections on every child,
whatever the kernel's accept distribution."""
import re
import shutil
import subprocess

import pytest

CONF = ("StartServers 2\nServerLimit 2\nThreadsPerChild 16\nMaxRequestWorkers 32\nThreadLimit 64\n"
        "MinSpareThreads 1\nMaxSpareThreads 32\n")


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk not installed")
@pytest.mark.parametrize("group", ["%{GLOBAL}", "%{RESOURCE}"])
def test_wrk_no_errors(apache_factory, group):
    # keep-alive connections are not cut under wrk's feet (MaxKeepAliveRequests 100 would close
    # them mid-run and show up as wrk read errors, with any module)
    a = apache_factory("MaxKeepAliveRequests 0\nKeepAliveTimeout 15\n"
                       "WSGIScriptAlias /hello @APPS@/hello.wsgi\nWSGIApplicationGroup %s\n" % group,
                       mpm="event", mpm_conf=CONF)
    assert a.get("/hello").status == 200
    p = subprocess.run(["wrk", "-t2", "-c12", "-d3s", "--timeout", "5s", "http://127.0.0.1:%d/hello" % a.port],
                       capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "Socket errors" not in out, out
    assert "Non-2xx or 3xx responses" not in out, out
    m = re.search(r"(\d+) requests in", out)
    assert m and int(m.group(1)) > 300, out
    log = a.log()
    assert not re.search(r"Segmentation fault|exit signal", log), log[-3000:]
