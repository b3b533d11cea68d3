"""Issue 13 item 7: --host-access-script, --auth-user-script/--auth-type, --auth-group-script/
--auth-group, --trust-proxy-header/--trust-proxy and --dispatch-script against the Apache that
setup-server's apachectl starts. 127.0.0.1 is the trusted address; a client bound to 127.0.0.2
is the untrusted one."""
import http.client
import json
import os
import subprocess

import pytest

from expresslib import ENVIRON, run, wait_for, write

USERS = b"""
import hashlib

PASSWORDS = {'alice': 'secret', 'bob': 'hunter2'}

def check_password(environ, user, password):
    if user not in PASSWORDS:
        return None
    return PASSWORDS[user] == password

def get_realm_hash(environ, user, realm):
    if user not in PASSWORDS:
        return None
    return hashlib.md5(('%s:%s:%s' % (user, realm, PASSWORDS[user])).encode()).hexdigest()
"""

GROUPS = b"""
def groups_for_user(environ, user):
    return {'alice': ['staff'], 'bob': ['wsgi']}.get(user, [])
"""

ACCESS = b"""
def allow_access(environ, host):
    # Only the trusted loopback address may come in.
    return environ['REMOTE_ADDR'] == '127.0.0.1'
"""

DISPATCH = b"""
def application_group(environ):
    if environ['REQUEST_URI'].startswith('/sub'):
        return 'dispatched-sub'
    return None
"""

# The environ as JSON, plus the interpreter the request ran in.
APP = ENVIRON


def request(sr, path="/", source="127.0.0.1", headers=None):
    """(status, headers, body) of a GET from `source`."""
    conn = http.client.HTTPConnection("127.0.0.1", sr.port, timeout=15, source_address=(source, 0))
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.headers, r.read()
    finally:
        conn.close()


def curl(sr, *args, path="/"):
    """(status code, stdout) of curl against the server."""
    r = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "15"] + list(args)
                       + [sr.url + path], capture_output=True, text=True, timeout=30)
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def started(setup_server, workdir, *args):
    app = write(os.path.join(workdir, "app.py"), APP)
    sr = setup_server([app] + list(args))
    r = sr.apachectl("start")
    assert r.returncode == 0, r.stderr
    wait_for(sr.url + "/", timeout=30)
    return sr


def conf(sr):
    with open(os.path.join(sr.root, "httpd.conf")) as f:
        return f.read()


def test_auth_user_script_basic(setup_server, workdir):
    users = write(os.path.join(workdir, "users.py"), USERS)
    sr = started(setup_server, workdir, "--auth-user-script", users)
    status, headers, _ = request(sr)
    assert status == 401, sr.error_log()
    assert headers["WWW-Authenticate"] == 'Basic realm="127.0.0.1:%d"' % sr.port
    assert curl(sr, "-u", "alice:wrong")[0] == 401
    assert curl(sr, "-u", "nobody:secret")[0] == 401
    code, body = curl(sr, "-u", "alice:secret")
    assert code == 200, sr.error_log()
    env = json.loads(body)
    assert env["REMOTE_USER"] == "alice" and env["AUTH_TYPE"] == "Basic"
    # Only what the scheme needs is loaded.
    text = conf(sr)
    assert "mod_auth_basic.so" in text and "mod_authz_user.so" in text and "mod_auth_digest.so" not in text


def test_auth_type_digest(setup_server, workdir):
    users = write(os.path.join(workdir, "users.py"), USERS)
    sr = started(setup_server, workdir, "--auth-user-script", users, "--auth-type", "Digest")
    status, headers, _ = request(sr)
    assert status == 401, sr.error_log()
    assert headers["WWW-Authenticate"].startswith('Digest realm="127.0.0.1:%d"' % sr.port)
    assert curl(sr, "--digest", "-u", "alice:wrong")[0] == 401
    # Basic credentials are not accepted by a Digest server.
    assert curl(sr, "--basic", "-u", "alice:secret")[0] == 401
    code, body = curl(sr, "--digest", "-u", "alice:secret", path="/x?y=1")
    assert code == 200, sr.error_log()
    env = json.loads(body)
    assert env["REMOTE_USER"] == "alice" and env["AUTH_TYPE"] == "Digest"
    assert "mod_auth_digest.so" in conf(sr) and "mod_auth_basic.so" not in conf(sr)


def test_auth_group_script_and_auth_group(setup_server, workdir):
    users = write(os.path.join(workdir, "users.py"), USERS)
    groups = write(os.path.join(workdir, "groups.py"), GROUPS)
    # bob is only in the default group 'wsgi'; --auth-group staff lets alice in and not bob.
    sr = started(setup_server, workdir, "--auth-user-script", users, "--auth-group-script", groups,
                 "--auth-group", "staff")
    code, body = curl(sr, "-u", "alice:secret")
    assert code == 200, sr.error_log()
    assert json.loads(body)["REMOTE_USER"] == "alice"
    assert curl(sr, "-u", "bob:hunter2")[0] == 401
    assert curl(sr, "-u", "alice:wrong")[0] == 401


def test_auth_group_defaults_to_wsgi(setup_server, workdir):
    users = write(os.path.join(workdir, "users.py"), USERS)
    groups = write(os.path.join(workdir, "groups.py"), GROUPS)
    sr = started(setup_server, workdir, "--auth-user-script", users, "--auth-group-script", groups)
    assert curl(sr, "-u", "bob:hunter2")[0] == 200, sr.error_log()
    assert curl(sr, "-u", "alice:secret")[0] == 401


def test_host_access_script(setup_server, workdir):
    access = write(os.path.join(workdir, "access.py"), ACCESS)
    sr = started(setup_server, workdir, "--host-access-script", access)
    status, _, body = request(sr, "/", "127.0.0.1")
    assert status == 200, sr.error_log()
    status, _, _ = request(sr, "/", "127.0.0.2")
    assert status == 403
    assert "mod_auth_basic.so" not in conf(sr)


def test_dispatch_script_chooses_a_sub_interpreter(setup_server, workdir):
    dispatch = write(os.path.join(workdir, "dispatch.py"), DISPATCH)
    sr = started(setup_server, workdir, "--dispatch-script", dispatch)
    status, _, body = request(sr, "/sub/page")
    assert status == 200, sr.error_log()
    assert json.loads(body)["mod_wsgi.application_group"] == "dispatched-sub"
    status, _, body = request(sr, "/other")
    assert status == 200
    assert json.loads(body)["mod_wsgi.application_group"] == ""


FORWARDED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


def test_trust_proxy_header_and_trust_proxy(setup_server, workdir):
    sr = started(setup_server, workdir, "--trust-proxy-header", "X-Forwarded-For",
                 "--trust-proxy-header", "X-Forwarded-Proto",
                 "--trust-proxy", "10.0.0.0/8", "--trust-proxy", "127.0.0.1")
    status, _, body = request(sr, "/", "127.0.0.1", FORWARDED)
    assert status == 200, sr.error_log()
    env = json.loads(body)
    assert env["REMOTE_ADDR"] == "203.0.113.9"
    assert env["wsgi.url_scheme"] == "https"
    # Not a trusted proxy: its headers are dropped, its own address kept.
    status, _, body = request(sr, "/", "127.0.0.2", FORWARDED)
    env = json.loads(body)
    assert env["REMOTE_ADDR"] == "127.0.0.2"
    assert env["wsgi.url_scheme"] == "http"
    assert "HTTP_X_FORWARDED_FOR" not in env and "HTTP_X_FORWARDED_PROTO" not in env


def test_trust_proxy_header_without_trust_proxy_trusts_every_client(setup_server, workdir):
    sr = started(setup_server, workdir, "--trust-proxy-header", "X-Forwarded-For")
    status, _, body = request(sr, "/", "127.0.0.2", FORWARDED)
    assert status == 200, sr.error_log()
    env = json.loads(body)
    assert env["REMOTE_ADDR"] == "203.0.113.9"
    # X-Forwarded-Proto was not named: passed through, not applied.
    assert env["wsgi.url_scheme"] == "http" and env["HTTP_X_FORWARDED_PROTO"] == "https"


def one_line_error(r, fragment):
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("mod_wsgi-express: error: ") and fragment in lines[0], r.stderr


@pytest.mark.parametrize("option", ["--host-access-script", "--auth-user-script", "--dispatch-script"])
def test_missing_script_is_one_line_before_apache_starts(express, workdir, hello, option):
    root = os.path.join(workdir, "root")
    missing = os.path.join(workdir, "nope.py")
    r = run(["setup-server", hello, option, missing, "--server-root", root])
    one_line_error(r, "%s '%s' does not exist" % (option, missing))
    assert not os.path.exists(root)


def test_missing_group_script(express, workdir, hello):
    users = write(os.path.join(workdir, "users.py"), USERS)
    r = run(["setup-server", hello, "--auth-user-script", users, "--auth-group-script",
             os.path.join(workdir, "g.py"), "--server-root", os.path.join(workdir, "root")])
    one_line_error(r, "--auth-group-script '%s' does not exist" % os.path.join(workdir, "g.py"))


def test_unreadable_script_is_one_line(express, workdir, hello):
    if os.getuid() != 0:
        pytest.skip("needs root: Apache's children then run as another user")
    users = write(os.path.join(workdir, "users.py"), USERS, mode=0o600)
    r = run(["setup-server", hello, "--auth-user-script", users, "--server-root", os.path.join(workdir, "root")])
    one_line_error(r, "the --auth-user-script script: '%s' (mode 0600) is not readable by user" % users)


@pytest.mark.parametrize("args,fragment", [
    (["--auth-type", "NTLM"], "--auth-type must be Basic or Digest, not 'NTLM'"),
    (["--auth-type", "Digest"], "--auth-type needs --auth-user-script"),
    (["--auth-group", "staff"], "--auth-group needs --auth-group-script"),
    (["--trust-proxy-header", "X-Evil"], "--trust-proxy-header 'X-Evil' is not a proxy header"),
    (["--trust-proxy-header", "X-Forwarded-For", "--trust-proxy", "10.0.0.0/99"],
     "--trust-proxy '10.0.0.0/99' is not an IP address or subnet"),
    (["--trust-proxy", "127.0.0.1"], "--trust-proxy needs --trust-proxy-header"),
])
def test_bad_hook_options_are_one_line(express, workdir, hello, args, fragment):
    r = run(["setup-server", hello, "--server-root", os.path.join(workdir, "root")] + args)
    one_line_error(r, fragment)


def test_group_script_needs_user_script(express, workdir, hello):
    groups = write(os.path.join(workdir, "groups.py"), GROUPS)
    r = run(["setup-server", hello, "--auth-group-script", groups, "--server-root", os.path.join(workdir, "root")])
    one_line_error(r, "--auth-group-script needs --auth-user-script")


def test_no_hook_no_auth_modules(setup_server, hello):
    sr = setup_server([hello])
    text = conf(sr)
    for absent in ("mod_auth_basic", "mod_auth_digest", "mod_authz_user", "WSGIAccessScript", "WSGIAuthUserScript",
                   "WSGIDispatchScript", "WSGITrustedProxy"):
        assert absent not in text
