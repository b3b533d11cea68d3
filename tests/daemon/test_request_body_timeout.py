"""Issue 9, item 3: a request body that stops arriving is the client's fault: 408 (as mod_wsgi),
logged as such, not a 500 with a traceback. Embedded and daemon mode."""
import re
import socket
import time

import pytest

DIRECTIVES = {
    "embedded": """
Timeout 3
WSGIScriptAlias /d @APPS@/daemon.wsgi application-group=%{GLOBAL}
""",
    "daemon": """
Timeout 3
WSGIDaemonProcess g threads=2 display-name=%{GROUP}
WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%{GLOBAL}
""",
}


@pytest.mark.parametrize("mode", ["embedded", "daemon"])
def test_body_that_stops_arriving_is_408(apache_factory, mode):
    a = apache_factory(DIRECTIVES[mode])
    assert a.get("/d/pid").status == 200
    mark = a.log_size()
    t0 = time.time()
    with socket.create_connection(("127.0.0.1", a.port), timeout=30) as s:
        s.sendall(b"POST /d/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        data = b""
        while True:
            chunk = s.recv(65536)  # the connection stays open on our side: the server must answer
            if not chunk:
                break
            data += chunk
    took = time.time() - t0
    assert data.startswith(b"HTTP/1.1 408 "), data[:300]
    assert took < 15, took
    log = a.log(since=mark)
    a.wait_log(r"MW1131: .*answering 408", since=mark)
    log = a.log(since=mark)
    assert "Traceback" not in log and "MW1106" not in log, log
    assert not re.search(r"\[wsgi:error\]", log), log
    assert a.get("/d/pid").status == 200
