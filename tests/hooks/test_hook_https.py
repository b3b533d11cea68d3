"""Issue 13, point 4: mod_ssl.is_https() and mod_ssl.var_lookup() in the hooks' environ answer
through mod_ssl when it serves the request (a self-signed certificate made here)."""
import json
import os
import shutil
import subprocess

import pytest

from hooks_harness import HooksApache, curl, harness


@pytest.fixture(scope="module")
def tls(module_file):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: cannot make a test certificate")
    if not os.path.exists(os.path.join(harness.MODDIR, "mod_ssl.so")):
        pytest.skip("mod_ssl is not installed")
    ssl_port = harness.free_port()
    a = HooksApache(r"""
Listen 127.0.0.1:%d
WSGIScriptAlias /app @APPS@/env.wsgi
<Location /app>
    WSGIAccessScript @APPS@/access.py
</Location>
<VirtualHost 127.0.0.1:%d>
    ServerName 127.0.0.1
    SSLEngine on
    SSLCertificateFile @DIR@/tls.crt
    SSLCertificateKeyFile @DIR@/tls.key
    WSGIScriptAlias /app @APPS@/env.wsgi
    <Location /app>
        WSGIAccessScript @APPS@/access.py
    </Location>
</VirtualHost>
""" % (ssl_port, ssl_port), modules=("socache_shmcb", "ssl"), name="https")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-keyout", os.path.join(a.dir, "tls.key"),
                        "-out", os.path.join(a.dir, "tls.crt")], check=True, capture_output=True, timeout=60)
        a.start()
        a.ssl_port = ssl_port
        yield a
    finally:
        a.cleanup()


def test_is_https_and_var_lookup_over_https(tls):
    code, body = curl("-k", "https://127.0.0.1:%d/app/true" % tls.ssl_port)
    assert code == 200, body
    assert json.loads(body)["wsgi.url_scheme"] == "https"
    seen = tls.seen("access-true")["_"]
    assert seen["is_https"] == 1
    assert seen["ssl_protocol"].startswith("TLSv1")


def test_plain_http_with_mod_ssl_loaded(tls):
    os.remove(tls.marker("access-true.json"))
    code, _ = curl("http://127.0.0.1:%d/app/true" % tls.port)
    assert code == 200
    seen = tls.seen("access-true")["_"]
    # mod_ssl answers "" for SSL variables of a plain connection (None only without mod_ssl).
    assert seen["is_https"] == 0 and seen["ssl_protocol"] == ""
