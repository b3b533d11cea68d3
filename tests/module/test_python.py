"""Issue 2, points 5 and 6: the mod_wsgi Python module, and Python start-up."""
import http.client
import json
import os
import re
import socket
import threading
import time

import pytest

from apache_harness import REFERENCE, module_apache, error_level_lines


@pytest.mark.mod_wsgi_49("mod_wsgi.version and the module attributes stay 4.9.4's (not request handling)")
@pytest.mark.parametrize("mpm,conf,procs,threads", [
    ("event", "StartServers 2\nServerLimit 2\nThreadsPerChild 16\nMaxRequestWorkers 32\nThreadLimit 64\n", 2, 16),
    ("worker", "StartServers 3\nServerLimit 3\nThreadsPerChild 5\nMaxRequestWorkers 15\nThreadLimit 64\n", 3, 5),
    ("prefork", "StartServers 1\nServerLimit 6\nMaxRequestWorkers 6\nMinSpareServers 1\nMaxSpareServers 2\n", 6, 1),
])
def test_mod_wsgi_module_attributes(apache_factory, mpm, conf, procs, threads):
    a = apache_factory("WSGIScriptAlias /env @APPS@/env.wsgi\n", mpm=mpm, mpm_conf=conf)
    deadline = time.time() + 10
    while len(a.children()) < procs and time.time() < deadline:
        time.sleep(0.05)
    e = a.get("/env").json()
    m = e["_"]["mod_wsgi_module"]
    assert m["version"] == e["_"]["mod_wsgi.version"]
    assert m["version"][:2] == [4, 9]
    assert m["process_group"] == ""
    assert m["application_group"] == "127.0.0.1:%d|/env" % a.port
    # mod_wsgi 4.9 reports AP_MPMQ_MAX_DAEMON_USED (how many process slots have been used so far,
    # updated by the MPM's once-a-second maintenance), falling back to AP_MPMQ_MAX_DAEMONS
    assert 1 <= m["maximum_processes"] <= procs
    assert m["threads_per_process"] == threads
    assert e["_"]["wsgi.multithread"] is (threads > 1)
    assert e["_"]["wsgi.multiprocess"] is (procs > 1)


@pytest.mark.mod_wsgi_49("6.x's import of a mod_wsgi package differs (6.1.1: mod_wsgi.server not found); module set-up, not request handling")
@pytest.mark.parametrize("group", ["%{GLOBAL}", "%{RESOURCE}"])
def test_pure_python_mod_wsgi_package_is_not_shadowed(apache_factory, group):
    a = apache_factory("WSGIPythonPath @APPS@/pkg\nWSGIScriptAlias /m @APPS@/modpkg.wsgi\n"
                       "WSGIApplicationGroup %s\n" % group)
    r = a.get("/m")
    assert r.status == 200, (r, a.log()[-3000:])
    j = r.json()
    assert j["server"] == "mod_wsgi.server imported"
    assert j["pure"] == "pure python mod_wsgi package"
    assert j["file"].endswith("pkg/mod_wsgi/__init__.py")
    # ... and the module's attributes were attached to it
    assert j["version"][:2] == [4, 9]
    assert j["process_group"] == ""
    assert j["maximum_processes"] == 1 and j["threads_per_process"] == 8
    if group == "%{RESOURCE}":
        assert j["application_group"] == "127.0.0.1:%d|/m" % a.port


# ---------------------------------------------------------------- start-up
def test_python_initialised_in_child_not_parent(apache_factory):
    a = apache_factory("WSGIScriptAlias /env @APPS@/env.wsgi\n")
    e = a.get("/env").json()
    assert e["_"]["pid"] in a.children()
    assert e["_"]["pid"] != a.pid
    # the parent has no libpython mapped... unless the module links it; but it must not run it:
    # no interpreter state means no Python threads: the parent stays single-threaded
    with open("/proc/%d/status" % a.pid) as f:
        threads = int(re.search(r"Threads:\s+(\d+)", f.read()).group(1))
    assert threads == 1


@pytest.mark.ours_only
@pytest.mark.parametrize("kind", ["missing", "version-mismatch"])
def test_bad_python_home_one_clear_line_no_respawn_storm(apache_factory, kind):
    """mod_wsgi 4.9 aborts every child ("Fatal Python error") and Apache respawns them in a loop."""
    a = apache_factory("WSGIScriptAlias /hello @APPS@/hello.wsgi\n", mpm="prefork", start=False,
                       mpm_conf="StartServers 2\nMinSpareServers 2\nMaxSpareServers 4\nServerLimit 4\n"
                                "MaxRequestWorkers 4\n")
    if kind == "missing":
        home = "/nonexistent/python-home"
    else:
        # a readable home laid out for another Python version than the libpython we run
        home = os.path.join(a.dir, "python-home")
        os.makedirs(os.path.join(home, "lib", "python3.9", "encodings"))
        for f in ("os.py", "encodings/__init__.py"):
            open(os.path.join(home, "lib", "python3.9", f), "w").close()
    with open(a.conf, "a") as f:
        f.write("WSGIPythonHome %s\n" % home)
    a.start()
    for _ in range(3):
        try:
            a.get("/hello", timeout=3)
        except Exception:
            pass
    time.sleep(3)
    log = a.log()
    mentions = [l for l in log.splitlines() if home in l]
    assert mentions, log[-4000:]
    assert len(mentions) <= 2, "\n".join(mentions)
    assert len(re.findall(r"exit signal|Fatal Python error", log)) <= 1, log[-4000:]
    assert a.children(), "Apache must keep running"


def test_bad_python_home_is_reported(apache_factory):
    a = apache_factory("WSGIPythonHome /nonexistent/python-home\nWSGIScriptAlias /hello @APPS@/hello.wsgi\n")
    try:
        r = a.get("/hello", timeout=3)
    except (OSError, http.client.HTTPException):
        r = None  # the reference mod_wsgi's child aborts: no response at all
    if REFERENCE:
        assert r is None or r.status != 200, r
    else:
        assert r is not None and r.status == 500, r
    a.wait_log(r"/nonexistent/python-home", timeout=5)


def test_main_thread_in_global_interpreter(apache_factory):
    a = apache_factory("WSGIScriptAlias /t @APPS@/threads.wsgi\nWSGIApplicationGroup %{GLOBAL}\n")
    j = a.get("/t").json()
    assert j["main_is_current"] is False
    assert j["main_ident"] != j["current_ident"]


@pytest.mark.ours_only
def test_main_thread_in_sub_interpreter(apache_factory):
    """mod_wsgi 4.9 lets the first request thread that imports threading become main_thread()
    in a sub-interpreter (breaks asgiref's check)."""
    a = apache_factory("WSGIScriptAlias /t @APPS@/threads.wsgi\n")
    j = a.get("/t").json()
    assert j["main_is_current"] is False
    assert j["main_ident"] != j["current_ident"]


def test_print_goes_to_error_log(apache_factory):
    a = apache_factory("WSGIScriptAlias /b @APPS@/behave.wsgi\n")
    mark = a.log_size()
    assert a.get("/b/print?token=pp-1").body == b"printed"
    a.wait_log(r"print\(\) output pp-1", since=mark)
    a.wait_log(r"stderr output pp-1", since=mark)


# ---------------------------------------------------------------- the GIL is released during I/O
gil = module_apache(r"""
WSGIScriptAlias /b @APPS@/behave.wsgi
WSGIApplicationGroup %{GLOBAL}
""")


def test_gil_released_while_reading_body(gil):
    s = gil.connect(timeout=15)
    try:
        s.sendall(b"POST /b/read_slow_body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n")
        time.sleep(0.3)  # the app is now blocked reading the body
        t = time.time()
        r = gil.get("/b/write", timeout=5)
        assert r.body == b"one;two;three"
        assert time.time() - t < 1.5
        s.sendall(b"0123456789")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        assert data.startswith(b"HTTP/1.1 200 OK") and b"got 10" in data
    finally:
        s.close()


def test_gil_released_while_writing_response(gil):
    s = gil.connect(timeout=15)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /b/big?mb=32 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        time.sleep(0.5)  # the app is now blocked writing: we do not read
        t = time.time()
        r = gil.get("/b/write", timeout=5)
        assert r.body == b"one;two;three"
        assert time.time() - t < 1.5
    finally:
        s.close()
