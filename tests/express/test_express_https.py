"""Issue 14, HTTPS: --https-port with a throwaway self-signed certificate made here (openssl),
client certificates under one path, --ssl-environment, --https-only, --hsts-policy, and the
bad inputs refused with one line before Apache starts."""
import json
import os
import shutil
import subprocess
import time

import pytest

from expresslib import ENVIRON, free_port, run, write

MODDIR = "/usr/lib/apache2/modules"

pytestmark = [
    pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed"),
    pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed"),
    pytest.mark.skipif(not os.path.exists(os.path.join(MODDIR, "mod_ssl.so")), reason="mod_ssl is not installed"),
]


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=60)


def self_signed(d, name, cn="localhost"):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=%s" % cn,
            "-addext", "subjectAltName=DNS:%s,DNS:www.%s,IP:127.0.0.1" % (cn, cn), "-keyout", key, "-out", crt)
    return crt, key


@pytest.fixture
def tls(workdir):
    crt, key = self_signed(workdir, "server", "example.com")
    return {"dir": workdir, "crt": crt, "key": key, "prefix": os.path.join(workdir, "server")}


def curl(*args):
    """(status, body, headers text) of one request; -k: the certificate is self-signed."""
    r = subprocess.run(["curl", "-sS", "-k", "-D", "-", "-o", "/dev/stdout", "--max-time", "10"] + list(args),
                       capture_output=True, timeout=30)
    out = r.stdout.decode("latin-1")
    if r.returncode != 0:
        return None, r.stderr.decode(), ""
    head, _, body = out.partition("\r\n\r\n")
    while body.startswith("HTTP/") and "\r\n\r\n" in body:  # 100-continue and the like
        head, _, body = body.partition("\r\n\r\n")
    return int(head.split()[1]), body, head


def start(sr):
    r = sr.apachectl("start")
    assert r.returncode == 0, r.stderr
    deadline = time.time() + 20
    while time.time() < deadline:  # any HTTP answer (a redirect with --https-only) means it is up
        if subprocess.run(["curl", "-s", "-o", "/dev/null", "--max-time", "2", sr.url + "/"]).returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError("Apache did not start: " + sr.error_log())


def test_https_without_server_name(setup_server, workdir, tls):
    """Better than 4.9, which serves HTTPS only with --server-name."""
    app = write(os.path.join(workdir, "environ.py"), ENVIRON)
    hp = free_port()
    sr = setup_server([app, "--https-port", str(hp), "--ssl-certificate-file", tls["crt"],
                       "--ssl-certificate-key-file", tls["key"], "--ssl-environment"])
    assert "Server URL (HTTPS) : https://127.0.0.1:%d/" % hp in sr.result.stdout
    start(sr)
    status, body, _ = curl("https://127.0.0.1:%d/x?y=1" % hp)
    assert status == 200, (body, sr.error_log())
    env = json.loads(body)
    assert env["wsgi.url_scheme"] == "https"
    # As mod_wsgi (4.9 and 6.x): HTTPS (here from mod_ssl's StdEnvVars) becomes wsgi.url_scheme.
    assert "HTTPS" not in env
    assert env["SSL_PROTOCOL"] in ("TLSv1.2", "TLSv1.3")
    # Plain HTTP still served, as http.
    status, body, _ = curl("http://127.0.0.1:%d/" % sr.port)
    assert status == 200 and json.loads(body)["wsgi.url_scheme"] == "http"
    # Modern defaults: TLS 1.1 is refused.
    status, err, _ = curl("--tlsv1.1", "--tls-max", "1.1", "https://127.0.0.1:%d/" % hp)
    assert status is None, err


def test_ssl_certificate_prefix_with_server_name(setup_server, workdir, tls):
    hp = free_port()
    sr = setup_server([write(os.path.join(workdir, "environ.py"), ENVIRON), "--https-port", str(hp),
                       "--ssl-certificate", tls["prefix"], "--server-name", "example.com"])
    start(sr)
    resolve = ["--resolve", "example.com:%d:127.0.0.1" % hp, "--resolve", "other.com:%d:127.0.0.1" % hp]
    status, body, _ = curl(*resolve, "https://example.com:%d/" % hp)
    assert status == 200, (body, sr.error_log())
    env = json.loads(body)
    assert env["wsgi.url_scheme"] == "https" and "SSL_PROTOCOL" not in env
    assert curl(*resolve, "https://other.com:%d/" % hp)[0] in (403, 421)


def test_https_only_and_hsts(setup_server, hello, tls):
    hp = free_port()
    sr = setup_server([hello, "--https-port", str(hp), "--ssl-certificate", tls["prefix"], "--https-only",
                       "--hsts-policy", "max-age=600; includeSubDomains"])
    start(sr)
    status, _, head = curl("http://127.0.0.1:%d/a/b?c=d" % sr.port)
    assert status == 302, head
    assert "Location: https://127.0.0.1:%d/a/b?c=d\r\n" % hp in head
    status, body, head = curl("https://127.0.0.1:%d/" % hp)
    assert (status, body) == (200, "Hello World!\n")
    assert "Strict-Transport-Security: max-age=600; includeSubDomains" in head


def test_https_only_with_server_name(setup_server, hello, tls):
    hp = free_port()
    sr = setup_server([hello, "--https-port", str(hp), "--ssl-certificate", tls["prefix"], "--https-only",
                       "--server-name", "example.com"])
    start(sr)
    status, _, head = curl("-H", "Host: example.com", "http://127.0.0.1:%d/p?q=1" % sr.port)
    assert status == 302 and "Location: https://example.com:%d/p?q=1\r\n" % hp in head, head


def test_client_certificate_required_under_one_path(setup_server, workdir, tls):
    # A CA, and a client certificate it signed.
    ca_crt, ca_key = self_signed(workdir, "ca", "Test CA")
    ckey, ccsr, ccrt = (os.path.join(workdir, n) for n in ("client.key", "client.csr", "client.crt"))
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=client", "-keyout", ckey, "-out", ccsr)
    openssl("x509", "-req", "-in", ccsr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
            "-out", ccrt)
    app = write(os.path.join(workdir, "environ.py"), ENVIRON)
    hp = free_port()
    sr = setup_server([app, "--https-port", str(hp), "--ssl-certificate", tls["prefix"],
                       "--ssl-ca-certificate-file", ca_crt, "--ssl-verify-client", "/secure",
                       "--ssl-environment"])
    start(sr)
    base = "https://127.0.0.1:%d" % hp
    assert curl(base + "/open")[0] == 200
    # No client certificate: refused under /secure (TLS 1.2 renegotiation or TLS 1.3
    # post-handshake authentication, whichever the client speaks).
    status, _, _ = curl(base + "/secure/x")
    assert status != 200
    status, body, _ = curl("--cert", ccrt, "--key", ckey, base + "/secure/x")
    assert status == 200, (body, sr.error_log())
    assert json.loads(body)["SSL_CLIENT_S_DN_CN"] == "client"
    # Over plain HTTP the path is refused rather than served without a certificate.
    assert curl("http://127.0.0.1:%d/secure/x" % sr.port)[0] == 403


def test_client_certificate_required_everywhere(setup_server, workdir, tls, hello):
    ca_crt, _ = self_signed(workdir, "ca", "Test CA")
    hp = free_port()
    sr = setup_server([hello, "--https-port", str(hp), "--ssl-certificate", tls["prefix"],
                       "--ssl-ca-certificate-file", ca_crt])
    conf = open(os.path.join(sr.root, "httpd.conf")).read()
    assert "SSLVerifyClient require" in conf
    start(sr)
    assert curl("https://127.0.0.1:%d/" % hp)[0] != 200


def bad(args, workdir, port):
    r = run(["setup-server", "--server-root", os.path.join(workdir, "badroot"), "--port", str(port)] + args)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert not os.path.exists(os.path.join(workdir, "badroot", "httpd.conf"))
    return lines[0]


def test_bad_certificate_inputs_are_one_line(workdir, tls, hello, port):
    other_crt, other_key = self_signed(workdir, "other", "other.com")
    hp = str(free_port())
    cert = ["--ssl-certificate-file", tls["crt"], "--ssl-certificate-key-file", tls["key"]]
    missing = os.path.join(workdir, "missing.crt")
    assert "does not exist" in bad([hello, "--https-port", hp, "--ssl-certificate-file", missing,
                                    "--ssl-certificate-key-file", tls["key"]], workdir, port)
    assert "missing.crt' does not exist" in bad([hello, "--https-port", hp, "--ssl-certificate",
                                                 os.path.join(workdir, "missing")], workdir, port)
    assert "is not the private key" in bad([hello, "--https-port", hp, "--ssl-certificate-file", tls["crt"],
                                            "--ssl-certificate-key-file", other_key], workdir, port)
    junk = write(os.path.join(workdir, "junk.crt"), b"not a certificate\n")
    assert "is not a PEM certificate" in bad([hello, "--https-port", hp, "--ssl-certificate-file", junk,
                                              "--ssl-certificate-key-file", tls["key"]], workdir, port)
    assert "needs --https-port" in bad([hello] + cert, workdir, port)
    assert "needs --https-port" in bad([hello, "--https-only"], workdir, port)
    assert "needs a certificate" in bad([hello, "--https-port", hp], workdir, port)
    assert "two different ports" in bad([hello, "--https-port", str(port)] + cert, workdir, port)
    if os.getuid() == 0:
        return  # root reads anything: the unreadable case needs another user
    os.chmod(tls["key"], 0)
    assert "is not readable" in bad([hello, "--https-port", hp] + cert, workdir, port)


def test_banner_prints_no_https_url_without_https(setup_server, hello):
    sr = setup_server([hello])
    assert "HTTPS" not in sr.result.stdout
    conf = open(os.path.join(sr.root, "httpd.conf")).read()
    assert "ssl_module" not in conf and "proxy_module" not in conf


@pytest.mark.skipif(not os.path.exists(os.path.join(MODDIR, "mod_http2.so")), reason="mod_http2 is not installed")
def test_http2_over_https(setup_server, hello, tls):
    hp = free_port()
    sr = setup_server([hello, "--https-port", str(hp), "--ssl-certificate", tls["prefix"], "--http2"])
    start(sr)
    r = subprocess.run(["curl", "-sk", "--http2", "-o", "/dev/null", "-w", "%{http_version}",
                        "https://127.0.0.1:%d/" % hp], capture_output=True, text=True, timeout=30)
    assert r.stdout == "2", (r.stdout, r.stderr, sr.error_log())


def test_https_port_in_use_is_one_line_before_apache(workdir, tls, hello, port):
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        hp = busy.getsockname()[1]
        r = run(["start-server", hello, "--server-root", os.path.join(workdir, "root"), "--host", "127.0.0.1",
                 "--port", str(port), "--https-port", str(hp), "--ssl-certificate", tls["prefix"]], timeout=30)
    assert r.returncode != 0
    assert r.stderr.strip().splitlines() == [
        "mod_wsgi-express: error: port %d is already in use by 127.0.0.1:%d, so Apache cannot listen on "
        "127.0.0.1:%d: stop what is listening there or choose another --https-port" % (hp, hp, hp)]
