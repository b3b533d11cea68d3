"""Issue 13, point 6: WSGITrustedProxyHeaders / WSGITrustedProxies. 127.0.0.1 is the trusted
proxy; a client bound to 127.0.0.2 is not."""
import http.client
import json

import pytest

from hooks_harness import hooks_apache

HEADERS = {
    "X-Forwarded-For": "203.0.113.9, 127.0.0.1",
    "X-Real-IP": "198.51.100.7",
    "X-Forwarded-Host": "public.example:8443",
    "X-Host": "other.example",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-SSL": "off",
    "X-Script-Name": "/mounted",
    "X-Forwarded-Port": "8443",
}

srv = hooks_apache(r"""
WSGIDaemonProcess proxied processes=1 threads=2
WSGIScriptAlias /p/daemon @APPS@/env.wsgi process-group=proxied
WSGIScriptAlias /p @APPS@/env.wsgi
WSGIScriptAlias /any @APPS@/env.wsgi
WSGIScriptAlias /plain @APPS@/env.wsgi
WSGIScriptAlias /cidr @APPS@/env.wsgi
<Location /p>
    WSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Host X-Forwarded-Proto X-Script-Name X-Forwarded-Port
    WSGITrustedProxies 127.0.0.1
</Location>
<Location /any>
    WSGITrustedProxyHeaders X-Real-IP X-Forwarded-SSL
</Location>
<Location /cidr>
    WSGITrustedProxyHeaders X-Forwarded-For
    WSGITrustedProxies 10.0.0.0/8 127.0.0.0/31
</Location>
WSGIScriptAlias /sp/daemon @APPS@/env.wsgi process-group=proxied
WSGIScriptAlias /sp @APPS@/env.wsgi
<Location /sp>
    WSGITrustedProxyHeaders x-forwarded-port X-FORWARDED-SERVER
    WSGITrustedProxies 127.0.0.1
</Location>
""", name="proxies")


def request(srv, path, source, headers=HEADERS):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        assert r.status == 200, r.read()
        return json.loads(r.read())
    finally:
        conn.close()


@pytest.mark.parametrize("path", ["/p/x", "/p/daemon/x"])
def test_trusted_proxy_headers_are_applied(srv, path):
    env = request(srv, path, "127.0.0.1")
    assert env["REMOTE_ADDR"] == "203.0.113.9"
    assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.9, 127.0.0.1"
    assert env["HTTP_HOST"] == "public.example:8443"
    assert env["wsgi.url_scheme"] == "https" and env.get("HTTPS", "1") == "1"
    assert env["SCRIPT_NAME"] == "/mounted" and env["PATH_INFO"] == "/x"
    assert env["SERVER_PORT"] == "8443"
    # Other headers of the same categories, not the ones trusted, are gone.
    for k in ("HTTP_X_REAL_IP", "HTTP_X_HOST", "HTTP_X_FORWARDED_SSL"):
        assert k not in env, k


@pytest.mark.parametrize("path", ["/p/x", "/p/daemon/x"])
def test_untrusted_client_cannot_fake_them(srv, path):
    env = request(srv, path, "127.0.0.2")
    assert env["REMOTE_ADDR"] == "127.0.0.2"
    assert env["HTTP_HOST"].startswith("127.0.0.1")
    assert env["wsgi.url_scheme"] == "http" and "HTTPS" not in env
    assert env["SCRIPT_NAME"] == path[:-2]  # /p or /p/daemon
    assert env["SERVER_PORT"] == str(srv.port)
    for k in ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_X_FORWARDED_HOST", "HTTP_X_HOST",
              "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_SSL", "HTTP_X_SCRIPT_NAME"):
        assert k not in env, k


def test_without_a_proxy_list_every_client_is_trusted(srv):
    for source in ("127.0.0.1", "127.0.0.2"):
        env = request(srv, "/any/x", source, {"X-Real-IP": "198.51.100.7", "X-Forwarded-For": "192.0.2.1",
                                             "X-Forwarded-SSL": "on"})
        assert env["REMOTE_ADDR"] == "198.51.100.7"
        assert env["wsgi.url_scheme"] == "https"
        assert "HTTP_X_FORWARDED_FOR" not in env      # same category, not the trusted one


def test_networks(srv):
    env = request(srv, "/cidr/x", "127.0.0.1", {"X-Forwarded-For": "192.0.2.1, 10.1.2.3"})
    # 10.1.2.3 is a trusted proxy too: the client is the hop before it.
    assert env["REMOTE_ADDR"] == "192.0.2.1"
    env = request(srv, "/cidr/x", "127.0.0.2", {"X-Forwarded-For": "192.0.2.1"})
    assert env["REMOTE_ADDR"] == "127.0.0.2" and "HTTP_X_FORWARDED_FOR" not in env


def test_without_the_directives_headers_are_left_alone(srv):
    env = request(srv, "/plain/x", "127.0.0.1", {"X-Forwarded-For": "192.0.2.1"})
    assert env["REMOTE_ADDR"] == "127.0.0.1" and env["HTTP_X_FORWARDED_FOR"] == "192.0.2.1"


# mod_wsgi 6.0: X-Forwarded-Port and X-Forwarded-Server are stripped too when the peer is not a
# trusted proxy (4.9 left them in the environ), however the directive and the client spell them.
SERVER_PORT_HEADERS = [
    {"X-Forwarded-Port": "8443", "X-Forwarded-Server": "spoofed.example"},
    {"x-forwarded-port": "8443", "x-forwarded-server": "spoofed.example"},
    {"X-FORWARDED-PORT": "8443", "X-FORWARDED-SERVER": "spoofed.example"},
]


@pytest.mark.mod_wsgi_61
@pytest.mark.parametrize("headers", SERVER_PORT_HEADERS, ids=["canonical", "lower", "upper"])
@pytest.mark.parametrize("path", ["/sp/x", "/sp/daemon/x", "/p/x", "/p/daemon/x"])
def test_untrusted_forwarded_port_and_server_are_stripped(srv, path, headers):
    env = request(srv, path, "127.0.0.2", headers)
    assert "HTTP_X_FORWARDED_PORT" not in env, env
    if path.startswith("/sp"):
        assert "HTTP_X_FORWARDED_SERVER" not in env, env
    else:  # /p does not name X-Forwarded-Server: a header nobody said to trust is left alone
        assert env["HTTP_X_FORWARDED_SERVER"] == "spoofed.example"
    assert env["SERVER_PORT"] == str(srv.port) and env["SERVER_NAME"] == "127.0.0.1"


@pytest.mark.parametrize("headers", SERVER_PORT_HEADERS, ids=["canonical", "lower", "upper"])
@pytest.mark.parametrize("path", ["/sp/x", "/sp/daemon/x"])
def test_trusted_forwarded_port_and_server_are_applied(srv, path, headers):
    env = request(srv, path, "127.0.0.1", headers)
    assert env["SERVER_PORT"] == "8443" and env["SERVER_NAME"] == "spoofed.example"
    assert env["HTTP_X_FORWARDED_PORT"] == "8443" and env["HTTP_X_FORWARDED_SERVER"] == "spoofed.example"


def test_a_header_spelt_with_underscores_never_reaches_the_environ(srv):
    # Apache drops header names with characters other than letters, digits and '-' from the
    # CGI variables: X_Forwarded_Port cannot pose as X-Forwarded-Port.
    for source in ("127.0.0.1", "127.0.0.2"):
        env = request(srv, "/sp/x", source, {"X_Forwarded_Port": "8443"})
        assert "HTTP_X_FORWARDED_PORT" not in env and env["SERVER_PORT"] == str(srv.port)
