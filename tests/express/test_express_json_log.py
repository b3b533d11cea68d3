"""--log-to-terminal with --access-log-format json: one JSON object per request on stdout
(method, path, query, status, bytes, duration in µs, remote address, request id, ...), the
error log on stderr; and when Apache could not reopen /dev/stdout (a socket), a piped tee."""
import http.client
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from expresslib import EXPRESS, fetch, run, wait_for, write

APP = b"""
import sys, time

def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path.startswith('/sleep/'):
        time.sleep(float(path.split('/')[2]))
    if path == '/echo':
        body = environ['wsgi.input'].read()
    elif path == '/missing':
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'no']
    else:
        body = environ['mod_wsgi.request_id'].encode()
    print('logged to wsgi.errors', path, file=environ['wsgi.errors'])
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
"""


@pytest.fixture
def server(workdir, port):
    app = write(os.path.join(workdir, "app.py"), APP)
    out = open(os.path.join(workdir, "stdout"), "w+b")
    err = open(os.path.join(workdir, "stderr"), "w+b")
    p = subprocess.Popen([EXPRESS, "start-server", app, "--host", "127.0.0.1", "--port", str(port),
                          "--server-root", os.path.join(workdir, "root"), "--log-to-terminal", "--access-log",
                          "--access-log-format", "json"],
                         stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
    try:
        wait_for("http://127.0.0.1:%d/" % port, proc=p)
        yield p, out, err
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        p.wait(timeout=10)
        out.close()
        err.close()


def request(port, method, target, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.putrequest(method, target, skip_accept_encoding=True)
    for k, v in (headers or {}).items():
        c.putheader(k, v)
    if body is not None:
        c.putheader("Content-Length", str(len(body)))
    c.endheaders(body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def records(out, want, timeout=10):
    """The JSON lines of stdout, once there are `want` of them (every line must parse)."""
    deadline = time.time() + timeout
    while True:
        with open(out.name, "rb") as f:
            lines = [line for line in f.read().splitlines() if line.startswith(b"{")]
        objs = [json.loads(line) for line in lines]
        if len(objs) >= want or time.time() > deadline:
            return objs
        time.sleep(0.1)


def test_json_access_log_fields(server, port, workdir):
    p, out, err = server
    with open(os.path.join(workdir, "root", "httpd.conf")) as f:
        conf = f.read()
    assert 'LogFormat "%^JS" json\n' in conf and 'CustomLog "/dev/stdout" json\n' in conf
    assert 'ErrorLog "/dev/stderr"' in conf
    before = len(records(out, 1))  # the start-up probe's line is written
    sent = [
        ("GET", "/hello?x=1&y=%22q%22", None, {"User-Agent": 'tester "1"/\\ok'}),
        ("GET", "/p%20a%0Ath%C3%A9%FF", None, {}),
        ("POST", "/echo", b"x" * 1000, {}),
        ("HEAD", "/hello", None, {}),
        ("GET", "/sleep/0.3", None, {}),
        ("GET", "/missing", None, {}),
    ]
    answers = [request(port, m, t, b, h) for m, t, b, h in sent]
    got = records(out, before + len(sent))[before:]
    assert len(got) == len(sent), got
    keys = {"time", "remote_addr", "method", "path", "query", "protocol", "status", "bytes", "duration_us",
            "request_id", "user_agent"}
    for (method, target, body, headers), (status, data), rec in zip(sent, answers, got):
        assert set(rec) == keys, rec
        assert rec["method"] == method and rec["status"] == status and rec["remote_addr"] == "127.0.0.1"
        path, _, query = target.partition("?")
        assert rec["path"] == path and rec["query"] == (query or None), rec
        assert rec["protocol"] == "HTTP/1.1"
        assert isinstance(rec["bytes"], int) and rec["bytes"] == len(data)
        assert isinstance(rec["duration_us"], int) and rec["duration_us"] > 0
        assert rec["time"].endswith("Z") and len(rec["time"]) == len("2026-01-01T00:00:00.000000Z")
        assert isinstance(rec["request_id"], str) and rec["request_id"]
    # The request id is the one the application saw (mod_wsgi.request_id).
    assert got[0]["request_id"] == answers[0][1].decode()
    assert got[0]["user_agent"] == 'tester "1"/\\ok'
    assert got[1]["user_agent"] is None
    assert got[2]["bytes"] == 1000
    assert got[4]["duration_us"] >= 300_000
    assert got[5]["status"] == 404
    # Each line is exactly one object, ending the line.
    with open(out.name, "rb") as f:
        for line in f.read().splitlines():
            if line.startswith(b"{"):
                assert line.endswith(b"}") and line.count(b"\n") == 0
    # The error log went to stderr.
    with open(err.name, "rb") as f:
        assert b"logged to wsgi.errors /hello" in f.read()


def test_json_escaping_of_bytes_json_has_no_escape_for(server, port):
    """Quotes, backslashes, a tab, UTF-8 and a byte that is not UTF-8 in a header (Apache
    refuses other control characters there): still one valid JSON object, the text as the
    client sent it (the stray byte as its Latin-1 reading)."""
    p, out, err = server
    before = len(records(out, 1))  # the start-up probe's line is written
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(b"GET /raw HTTP/1.1\r\nHost: x\r\nUser-Agent: ab\"c\\d\xc3\xa9e\xfff\tg\r\nConnection: close\r\n\r\n")
    while c.recv(4096):
        pass
    c.close()
    rec = records(out, before + 1)[before]
    assert rec["path"] == "/raw"
    assert rec["user_agent"] == "ab\"c\\d\u00e9e\u00fff\tg", rec


def test_access_log_through_tee_when_stdout_is_a_socket(workdir, port):
    """A container's output can be a socket or another user's pipe, which Apache cannot open
    by name: the access log then goes through a piped tee, which writes to the descriptor
    it inherits."""
    app = write(os.path.join(workdir, "app.py"), APP)
    ours, theirs = socket.socketpair()
    p = subprocess.Popen([EXPRESS, "start-server", app, "--host", "127.0.0.1", "--port", str(port),
                          "--server-root", os.path.join(workdir, "root"), "--log-to-terminal", "--access-log",
                          "--access-log-format", "json"],
                         stdin=subprocess.DEVNULL, stdout=theirs, stderr=subprocess.DEVNULL, start_new_session=True)
    theirs.close()
    try:
        wait_for("http://127.0.0.1:%d/" % port, proc=p)
        with open(os.path.join(workdir, "root", "httpd.conf")) as f:
            conf = f.read()
        assert 'CustomLog "|/usr/bin/tee" json' in conf, conf
        fetch("http://127.0.0.1:%d/through-tee" % port)
        ours.settimeout(10)
        data = b""
        while b'"/through-tee"' not in data:
            chunk = ours.recv(65536)
            assert chunk, data
            data += chunk
        line = [x for x in data.splitlines() if b"/through-tee" in x][0]
        assert json.loads(line)["path"] == "/through-tee"
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        p.wait(timeout=10)
        ours.close()


def test_json_is_a_named_format_of_setup_server(workdir, hello):
    root = os.path.join(workdir, "root")
    r = run(["setup-server", hello, "--server-root", root, "--access-log", "--access-log-format", "json"])
    assert r.returncode == 0, r.stderr
    with open(os.path.join(root, "httpd.conf")) as f:
        conf = f.read()
    assert 'CustomLog "%s/access_log" json\n' % root in conf
    assert "LogFormat \"json\"" not in conf  # a name, not a custom format string
