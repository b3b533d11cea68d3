"""--next-request-wait (WSGINextRequestWait): after a WSGI response on a keep-alive connection the
Apache worker thread waits for the client's next request before handing the connection to the
event MPM's listener. A thread that waits is busy on Apache's scoreboard: mod_status shows it."""
import os
import re
import socket
import time

import pytest

from expresslib import configtest_refuses, fetch, run, wait_for, write


@pytest.fixture
def app(workdir):
    """Answers its PATH_INFO, with a Content-Length (the raw-socket client reads by it)."""
    return write(os.path.join(workdir, "echo_path.py"), b"""
def application(environ, start_response):
    body = environ['PATH_INFO'].encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
""")


def read_response(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the response's headers"
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))
    while len(rest) < n:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the response's body"
        rest += chunk
    return head, rest[:n]


def busy_workers(url):
    status, body, _ = fetch(url + "/server-status?auto")
    assert status == 200, body
    return int(re.search(rb"BusyWorkers: (\d+)", body).group(1))


def busy_after_one_request(sr, path="/"):
    """BusyWorkers (the status request's own worker included) while a keep-alive connection that
    was just served sends nothing more."""
    with socket.create_connection(("127.0.0.1", sr.port), timeout=5) as s:
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head, _ = read_response(s)
        assert head.startswith(b"HTTP/1.1 200"), head
        time.sleep(0.2)
        return busy_workers(sr.url)


def test_default_waits_two_milliseconds(setup_server, hello):
    sr = setup_server([hello])
    conf = open(os.path.join(sr.root, "httpd.conf")).read()
    assert "WSGINextRequestWait 2\n" in conf
    off = setup_server([hello, "--next-request-wait", "0"], root=sr.root + "-off")
    assert "WSGINextRequestWait" not in open(os.path.join(off.root, "httpd.conf")).read()
    # Without keep-alive there is no next request to wait for.
    nokeep = setup_server([hello, "--keep-alive-timeout", "0"], root=sr.root + "-nokeep")
    assert "WSGINextRequestWait" not in open(os.path.join(nokeep.root, "httpd.conf")).read()


def test_out_of_range_is_refused_in_one_line(workdir, hello):
    r = run(["setup-server", hello, "--server-root", os.path.join(workdir, "root"), "--next-request-wait", "1001"])
    assert r.returncode != 0
    assert "--next-request-wait must be a number of milliseconds from 0 (off) to 1000, not 1001" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_worker_waits_for_the_next_request_after_a_wsgi_response(setup_server, app):
    sr = setup_server([app, "--server-status", "--next-request-wait", "1000"])
    sr.apachectl("start")
    wait_for(sr.url + "/")
    time.sleep(1.2)  # the start-up request's worker is done waiting
    assert busy_after_one_request(sr) == 2


def test_off_hands_the_connection_back_at_once(setup_server, app):
    sr = setup_server([app, "--server-status", "--next-request-wait", "0"])
    sr.apachectl("start")
    wait_for(sr.url + "/")
    assert busy_after_one_request(sr) == 1


def test_static_files_do_not_wait(setup_server, app):
    sr = setup_server([app, "--server-status", "--next-request-wait", "1000"])
    write(os.path.join(sr.root, "htdocs", "static.txt"), b"static\n")
    sr.apachectl("start")
    wait_for(sr.url + "/static.txt")
    time.sleep(1.2)
    assert busy_after_one_request(sr, "/static.txt") == 1


def test_next_request_sent_during_the_wait_is_served_on_the_connection(setup_server, app):
    sr = setup_server([app, "--next-request-wait", "500"])
    sr.apachectl("start")
    wait_for(sr.url + "/")
    with socket.create_connection(("127.0.0.1", sr.port), timeout=5) as s:
        for i, pause in enumerate([0, 0.01, 0.2, 0.7, 0]):
            time.sleep(pause)  # within the wait, and after it (0.7 s: the listener's)
            s.sendall(b"GET /r%d HTTP/1.1\r\nHost: localhost\r\n\r\n" % i)
            head, body = read_response(s)
            assert head.startswith(b"HTTP/1.1 200") and body == b"/r%d" % i, (head, body)


def test_stop_is_not_held_by_a_waiting_worker(setup_server, app):
    sr = setup_server([app, "--next-request-wait", "1000"])
    sr.apachectl("start")
    wait_for(sr.url + "/")
    with socket.create_connection(("127.0.0.1", sr.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        read_response(s)
        pid = sr.pid()
        started = time.time()
        sr.apachectl("stop")
        while time.time() - started < 10:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.05)
        assert time.time() - started < 5


def test_directive_refuses_a_bad_value(setup_server, app, workdir):
    configtest_refuses(setup_server, app, workdir, "WSGINextRequestWait soon",
                       "WSGINextRequestWait: takes a number of milliseconds from 0 to 1000, not 'soon'")
