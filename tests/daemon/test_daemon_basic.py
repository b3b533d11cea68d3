"""Issue 4, points 1 and 4: process groups serve requests; fidelity across the socket."""
import http.client
import os
import signal
import socket
import threading
import time

import pytest

from daemon_harness import harness

error_level_lines = harness.error_level_lines

BASIC = """
WSGIDaemonProcess g1 processes=1 threads=3 display-name=%{GROUP}
WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g1 application-group=%{GLOBAL}
WSGIImportScript @APPS@/preload_daemon.py process-group=g1 application-group=%{GLOBAL}
WSGIScriptAlias /env @APPS@/env.wsgi
WSGIScriptAlias /envd @APPS@/env.wsgi
WSGIScriptAlias /e @APPS@/daemon.wsgi
<Location /envd>
    WSGIProcessGroup g1
</Location>
WSGIChunkedRequest On
"""


@pytest.fixture
def basic(apache_factory):
    return apache_factory(BASIC)


def test_serves_from_daemon_process(basic):
    a = basic
    pid = int(a.get("/d/pid").body)
    assert pid in a.daemon_pids()
    embedded = int(a.get("/e/pid").body)
    assert embedded != pid and embedded not in a.daemon_pids()
    info = a.get("/d/info").json()
    assert info["ppid"] == a.pid
    assert info["uid"] != 0 and info["gid"] != 0
    assert info["process_group"] == "g1" and info["mod_wsgi.process_group"] == "g1"
    assert info["application_group"] == "" and info["mod_wsgi.application_group"] == ""
    assert info["preloaded"] == pid
    assert info["multithread"] is True and info["multiprocess"] is True  # processes= given
    assert info["threads_per_process"] == 3 and info["maximum_processes"] == 1
    assert "(wsgi:g1)" in info["cmdline"]
    assert os.path.exists(a.marker("daemon-preload-%d" % pid))
    assert a.socket_files(), os.listdir(a.run)
    assert not error_level_lines(a.log()), a.log()


def test_process_group_directive_and_restrict(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g1 threads=2
WSGIDaemonProcess g2 threads=2
WSGIScriptAlias /a @APPS@/daemon.wsgi
WSGIScriptAlias /b @APPS@/daemon.wsgi
WSGIScriptAlias /c @APPS@/daemon.wsgi
WSGIScriptAlias /n @APPS@/daemon.wsgi
WSGIScriptAlias /r @APPS@/daemon.wsgi
SetEnvIf Request_URI "^/c" PG=g2
<Location /a>
    WSGIProcessGroup g1
</Location>
<Location /b>
    WSGIProcessGroup %{GLOBAL}
</Location>
<Location /c>
    WSGIProcessGroup %{ENV:PG}
</Location>
<Location /n>
    WSGIProcessGroup nosuchgroup
</Location>
<Location /r>
    WSGIProcessGroup g2
    WSGIRestrictProcess g1
</Location>
""")
    assert a.get("/a/info").json()["process_group"] == "g1"
    assert a.get("/b/info").json()["process_group"] == ""
    assert a.get("/c/info").json()["process_group"] == "g2"
    pids = {int(a.get(p + "/pid").body) for p in ("/a", "/b", "/c")}
    assert len(pids) == 3
    mark = a.log_size()
    assert a.get("/n/pid").status == 500
    a.wait_log(r"No WSGI daemon process called 'nosuchgroup' has been configured", since=mark)
    assert a.get("/r/pid").status == 500
    a.wait_log(r"cannot be accessed by this WSGI application", since=mark)


def test_script_alias_both_groups_preloads(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g1 threads=1
WSGIScriptAlias /p @APPS@/env.wsgi process-group=g1 application-group=apps
""", start=False)
    with open(os.path.join(a.apps, "env.wsgi")) as f:
        src = f.read()
    with open(os.path.join(a.apps, "env.wsgi"), "w") as f:
        f.write("import os\nopen(os.path.join(%r, 'alias-preload-%%d' %% os.getpid()), 'w').close()\n" % a.markers + src)
    a.start()
    deadline = time.time() + 10
    while time.time() < deadline and not [m for m in os.listdir(a.markers) if m.startswith("alias-preload-")]:
        time.sleep(0.05)
    marks = [m for m in os.listdir(a.markers) if m.startswith("alias-preload-")]
    assert marks, a.log()
    env = a.get("/p/").json()
    assert env["mod_wsgi.application_group"] == "apps"
    assert marks == ["alias-preload-%d" % env["_"]["pid"]]  # loaded once, before the request


@pytest.mark.parametrize("procs,threads", [(1, 1), (2, 4)])
def test_processes_and_threads(apache_factory, procs, threads):
    a = apache_factory("""
WSGIDaemonProcess g processes=%d threads=%d
WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%%{GLOBAL}
""" % (procs, threads))
    results = []
    errors = []

    def hit():
        try:
            r = a.get("/d/sleep?0.3", timeout=20)
            results.append(r.body.split()[-1])
        except Exception as e:  # pragma: no cover
            errors.append(e)

    ts = [threading.Thread(target=hit) for _ in range(procs * threads * 2)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.time() - t0
    assert not errors
    assert len(set(results)) == procs, results
    # 2 rounds of sleeps when every thread of every process works at once
    assert elapsed < 0.3 * 2 + 4.0, elapsed
    info = a.get("/d/info").json()
    assert info["multithread"] is (threads > 1)
    assert info["multiprocess"] is True  # processes= given
    assert info["threads_per_process"] == threads and info["maximum_processes"] == procs


def test_environ_parity(basic):
    a = basic
    emb = a.get("/env/x?q=1", headers={"X-Custom": "v"}).json()
    dae = a.get("/envd/x?q=1", headers={"X-Custom": "v"}).json()
    ek = set(k for k in emb if k != "_")
    dk = set(k for k in dae if k != "_")
    # mod_wsgi 6.x: the same keys in both modes (queue_start and daemon_start are 0.0 in
    # embedded mode; daemon_connects and daemon_restarts are in request_started only).
    assert dk == ek
    assert dae["mod_wsgi.process_group"] == "g1" and emb["mod_wsgi.process_group"] == ""
    for k in ("REQUEST_METHOD", "QUERY_STRING", "PATH_INFO", "HTTP_X_CUSTOM", "SERVER_PORT", "REMOTE_ADDR",
              "wsgi.url_scheme", "SERVER_PROTOCOL", "mod_wsgi.path_info"):
        assert dae[k] == emb[k], k
    now = time.time()
    rs, qs, ds, app = (float(dae[k]["repr"]) for k in ("mod_wsgi.request_start", "mod_wsgi.queue_start",
                                                        "mod_wsgi.daemon_start", "mod_wsgi.application_start"))
    assert now - 60 < rs <= qs <= ds <= app <= now + 1
    assert float(emb["mod_wsgi.queue_start"]["repr"]) == 0.0 and float(emb["mod_wsgi.daemon_start"]["repr"]) == 0.0
    # The Apache child that relayed it, not the daemon.
    assert dae["mod_wsgi.server_pid"] != str(dae["_"]["pid"]) and int(dae["mod_wsgi.server_pid"]) in a.children()
    assert dae["_"]["pid"] != emb["_"]["pid"]


def test_two_www_authenticate_headers(basic):
    raw = basic.raw(b"GET /d/auth2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, headers, body = harness.parse_raw(raw)
    assert status == 401
    auth = [v for k, v in headers if k.lower() == "www-authenticate"]
    assert auth == ['Basic realm="one, with comma"', 'Digest realm="two", qop="auth"']
    # Apache's CGI header parser in the Apache child merges repeated names (mod_wsgi 6.x;
    # WWW-Authenticate and Set-Cookie excepted).
    assert [v for k, v in headers if k.lower() == "x-multi"] == ["a, b, c"]


def test_streamed_chunked_response(basic):
    s = basic.connect()
    s.sendall(b"GET /d/stream?10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    t0 = time.time()
    first = s.recv(65536)
    t_first = time.time() - t0
    data = first
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    total = time.time() - t0
    s.close()
    status, headers, body = harness.parse_raw(data)
    assert status == 200
    assert ("Transfer-Encoding", "chunked") in headers
    assert body == b"".join(b"chunk %d\n" % i for i in range(10))
    assert t_first < total - 0.2, (t_first, total)  # the first block came before the end


def test_large_response_with_content_length(basic):
    r = basic.get("/d/big?5000000", timeout=30)
    assert r.status == 200 and len(r.body) == 5000000
    assert r.header("Content-Length") == "5000000"


def test_head(basic):
    r = basic.head("/d/head")
    assert r.status == 200 and r.body == b""
    assert r.header("Content-Length") == "11"


def test_post_bodies(basic):
    a = basic
    body = os.urandom(3 * 1024 * 1024 + 7)
    r = a.post("/d/echo", body, timeout=30)
    assert r.status == 200 and r.body == body
    r = a.post("/d/echo", b"")
    assert r.status == 200 and r.body == b"" and r.header("X-Length") == "0"
    r = a.post("/d/echo_lines", b"one\ntwo\nthree")
    assert r.header("X-Lines") == "3" and r.body == b"one\ntwo\nthree"
    # chunked request body
    raw = a.raw(b"POST /d/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    status, headers, rbody = harness.parse_raw(raw)
    assert status == 200 and rbody == b"hello world"


def test_large_body_not_read_by_app_does_not_deadlock(basic):
    body = b"z" * (8 * 1024 * 1024)
    r = basic.post("/d/ignore_body", body, timeout=30)
    assert r.status == 200 and len(r.body) == 2000000


def test_error_mid_stream_cuts_connection(basic):
    raw = basic.raw(b"GET /d/error_mid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"partial" in raw
    assert not raw.endswith(b"0\r\n\r\n")  # no clean end of the chunked body
    basic.wait_log(r"failed mid-stream on purpose")


def test_bad_response_header_is_500_not_split(basic):
    r = basic.get("/d/bigheader")
    assert r.status == 500
    basic.wait_log(r"X-Big.*header-buffer-size")


def test_client_disconnect_keeps_status(basic):
    s = basic.connect()
    s.sendall(b"GET /d/big?50000000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nUser-Agent: gone-client\r\n\r\n")
    s.recv(1000)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
    lines = basic.wait_access("gone-client", timeout=15)
    assert '" 200 ' in lines[0], lines
    assert basic.get("/d/pid").status == 200


def test_kill_9_replaced(basic):
    a = basic
    old = int(a.get("/d/pid").body)
    os.kill(old, signal.SIGKILL)
    deadline = time.time() + 15
    new = old
    while time.time() < deadline:
        r = a.get("/d/pid", timeout=20)
        if r.status == 200:
            new = int(r.body)
            if new != old:
                break
        time.sleep(0.1)
    assert new != old and new in a.daemon_pids()
    for _ in range(5):
        assert int(a.get("/d/pid").body) == new
    a.wait_log(r"Process %d of daemon process group 'g1' was killed by signal 9; starting a new one" % old)


def test_exit_in_app_replaced(basic):
    a = basic
    old = int(a.get("/d/pid").body)
    r = a.get("/d/exit")
    assert r.status == 502  # mod_wsgi 6.x: the daemon went away before its response headers
    deadline = time.time() + 15
    while time.time() < deadline:
        r = a.get("/d/pid")
        if r.status == 200 and int(r.body) != old:
            break
        time.sleep(0.1)
    assert int(a.get("/d/pid").body) != old


@pytest.mark.parametrize("mpm", ["event", "prefork"])
@pytest.mark.parametrize("rotation", ["On", "Off"])
def test_graceful_restart_stop_clean(apache_factory, mpm, rotation):
    a = apache_factory("""
WSGISocketRotation %s
WSGIDaemonProcess g1 processes=2 threads=2 display-name=%%{GROUP} shutdown-timeout=3
WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g1 application-group=%%{GLOBAL}
""" % rotation, mpm=mpm)
    pids0 = set(a.wait_daemons(2))
    socks0 = a.socket_files()
    assert len(socks0) == 1
    for verb in ("graceful", "restart", "graceful"):
        getattr(a, verb)()
        for i in range(4):
            # With rotation On, an old-generation child that took the request before it noticed
            # the restart follows the group to the new generation's socket: no 503.
            r = a.get("/d/pid", timeout=20)
            assert r.status == 200, (verb, r, a.log()[-3000:])
        pids = set(a.wait_daemons(2, exclude=pids0))
        pids0 = pids
        socks = a.socket_files()
        assert len(socks) == 1, socks
        if rotation == "Off":
            assert socks == socks0  # the same path for the server's life
        else:
            assert socks != socks0  # a new path per configuration generation
            socks0 = socks
    parent = a.pid
    kids = a.children()
    t0 = time.time()
    a.stop(timeout=15)
    assert time.time() - t0 < 10
    assert not harness._alive(parent)
    assert not [k for k in kids if harness._alive(k)]
    assert a.socket_files() == []
    assert not re.search(r"Segmentation fault|exit signal|Fatal Python error", a.log())


import re  # noqa: E402


def test_blocked_socket_write_does_not_hold_the_gil(basic):
    # A client that stops reading a huge response blocks the daemon thread writing it;
    # the other threads of the daemon must keep running Python.
    s = basic.connect()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /d/big?200000000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    s.recv(100)
    time.sleep(1.0)  # let every buffer on the way fill up
    t0 = time.time()
    for _ in range(5):
        assert basic.get("/d/pid", timeout=10).status == 200
    assert time.time() - t0 < 3
    s.close()
