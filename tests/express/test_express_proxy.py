"""Issue 14, proxying: --proxy-mount-point (alias --proxy-url-alias), --proxy-virtual-host and
--proxy-timeout, against a second server on 127.0.0.1 run by the test."""
import http.client
import http.server
import json
import os
import threading
import time

import pytest

from expresslib import fetch, run, wait_for

MODDIR = "/usr/lib/apache2/modules"
pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(MODDIR, "mod_proxy_http.so")),
                                reason="mod_proxy_http is not installed")


class Echo(http.server.BaseHTTPRequestHandler):
    """Answers with the path and headers it received; /slow/ sleeps first."""

    def do_GET(self):
        if self.path.startswith("/slow"):
            time.sleep(4)
        body = json.dumps({"path": self.path, "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def backend():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # the client gone after --proxy-timeout
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def get(port, path, host=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        c.request("GET", path, headers={"Host": host} if host else {})
        r = c.getresponse()
        return r.status, r.read(), r.headers
    finally:
        c.close()


def test_proxy_mount_point(setup_server, hello, backend):
    sr = setup_server([hello, "--proxy-mount-point", "/api", backend + "/v1",
                       "--proxy-url-alias", "/other/", backend + "/o/"])
    assert sr.apachectl("start").returncode == 0
    wait_for(sr.url + "/")
    status, body, _ = get(sr.port, "/api/items?x=1")
    assert status == 200, sr.error_log()
    seen = json.loads(body)
    assert seen["path"] == "/v1/items?x=1"
    assert seen["headers"]["X-Forwarded-Port"] == str(sr.port)
    assert "X-Forwarded-Scheme" not in seen["headers"]  # plain HTTP
    assert json.loads(get(sr.port, "/other/z")[1])["path"] == "/o/z"
    # /api without its slash redirects to /api/, as mod_wsgi-express does.
    status, _, headers = get(sr.port, "/api?q=2")
    assert status == 302
    assert headers["Location"].endswith("/api/?q=2")
    # The rest of the site is still the application.
    assert fetch(sr.url + "/elsewhere")[:2] == (200, b"Hello World!\n")


def test_proxy_virtual_host(setup_server, hello, backend):
    sr = setup_server([hello, "--proxy-virtual-host", "api.example.com", backend])
    assert sr.apachectl("start").returncode == 0
    wait_for(sr.url + "/")
    status, body, _ = get(sr.port, "/thing", host="api.example.com")
    assert status == 200, sr.error_log()
    seen = json.loads(body)
    assert seen["path"] == "/thing"
    assert seen["headers"]["X-Forwarded-Port"] == str(sr.port)
    # Other host names are still the application, not the proxied host.
    assert get(sr.port, "/thing", host="localhost")[:2] == (200, b"Hello World!\n")


def test_proxy_timeout(setup_server, hello, backend):
    sr = setup_server([hello, "--proxy-mount-point", "/api/", backend + "/", "--proxy-timeout", "1"])
    assert sr.apachectl("start").returncode == 0
    wait_for(sr.url + "/")
    started = time.time()
    status, _, _ = get(sr.port, "/api/slow")
    assert status in (502, 504) and time.time() - started < 3.5, sr.error_log()


def test_proxy_bad_inputs(workdir, hello, port):
    for args, words in [(["--proxy-mount-point", "api", "http://127.0.0.1:1/"], "starting with '/'"),
                        (["--proxy-mount-point", "/api", "ftp://x/"], "http:// or https://"),
                        (["--proxy-timeout", "5"], "needs --proxy-mount-point")]:
        r = run(["setup-server", hello, "--server-root", os.path.join(workdir, "r"), "--port", str(port)] + args)
        assert r.returncode != 0 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_proxy_over_https_sets_the_scheme(setup_server, hello, backend, workdir):
    import shutil
    import subprocess
    if not shutil.which("openssl") or not os.path.exists(os.path.join(MODDIR, "mod_ssl.so")):
        pytest.skip("needs openssl and mod_ssl")
    from expresslib import free_port
    prefix = os.path.join(workdir, "tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", prefix + ".key", "-out", prefix + ".crt"], check=True, capture_output=True, timeout=60)
    hp = free_port()
    sr = setup_server([hello, "--proxy-mount-point", "/api/", backend + "/", "--https-port", str(hp),
                       "--ssl-certificate", prefix])
    assert sr.apachectl("start").returncode == 0
    wait_for(sr.url + "/")
    r = subprocess.run(["curl", "-sk", "--max-time", "10", "https://127.0.0.1:%d/api/s" % hp],
                       capture_output=True, timeout=30)
    seen = json.loads(r.stdout)
    assert seen["headers"]["X-Forwarded-Scheme"] == "https"
    assert seen["headers"]["X-Forwarded-Port"] == str(hp)
