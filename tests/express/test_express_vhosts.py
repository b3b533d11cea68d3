"""Issue 14, virtual hosts: --server-name, --server-alias, --allow-localhost and the www. redirect,
against a real Apache. Requests name a host with the Host header (curl --resolve-free)."""
import http.client

import pytest

from expresslib import wait_for


def get(port, host, path="/", timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": host})
        r = c.getresponse()
        return r.status, r.read(), r.headers
    finally:
        c.close()


def start(sr):
    r = sr.apachectl("start")
    assert r.returncode == 0, r.stderr
    wait_for(sr.url + "/")  # any answer: Apache is up


def test_server_name_serves_its_own_host(setup_server, hello):
    # The defect: the catch-all came first with the site's own ServerName, so every request,
    # the named host's too, answered 403.
    sr = setup_server([hello, "--server-name", "example.com"])
    start(sr)
    status, body, _ = get(sr.port, "example.com:%d" % sr.port)
    assert (status, body) == (200, b"Hello World!\n"), sr.error_log()
    assert get(sr.port, "EXAMPLE.com")[0] == 200
    assert get(sr.port, "other.example.org")[0] == 403
    assert get(sr.port, "127.0.0.1:%d" % sr.port)[0] == 403


def test_server_alias_with_wildcards(setup_server, hello):
    sr = setup_server([hello, "--server-name", "example.com", "--server-alias", "alias.example.net",
                       "--server-alias", "*.example.org"])
    start(sr)
    assert get(sr.port, "alias.example.net")[:2] == (200, b"Hello World!\n")
    assert get(sr.port, "api.example.org")[0] == 200
    assert get(sr.port, "example.org")[0] == 403
    assert get(sr.port, "alias.example.com")[0] == 403


def test_allow_localhost(setup_server, hello):
    sr = setup_server([hello, "--server-name", "example.com", "--allow-localhost"])
    start(sr)
    # Our client is on 127.0.0.1: host names the site does not have are served to it.
    assert get(sr.port, "localhost:%d" % sr.port)[:2] == (200, b"Hello World!\n")
    assert get(sr.port, "example.com")[0] == 200


def test_www_name_redirects_the_parent_domain(setup_server, hello):
    sr = setup_server([hello, "--server-name", "www.example.com"])
    start(sr)
    assert get(sr.port, "www.example.com")[:2] == (200, b"Hello World!\n")
    status, _, headers = get(sr.port, "example.com", "/a/b?x=1")
    assert status == 301
    assert headers["Location"] == "http://www.example.com:%d/a/b?x=1" % sr.port
    assert get(sr.port, "elsewhere.com")[0] == 403
