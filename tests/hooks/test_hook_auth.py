"""Issue 13, points 2, 3 and 4: WSGIAuthUserScript as the 'wsgi' provider of Basic and Digest
authentication, and WSGIAuthGroupScript behind 'Require wsgi-group'. Clients: curl."""
import base64
import http.client

import pytest

from hooks_harness import hooks_apache, curl, AUTH_MODULES

srv = hooks_apache(r"""
WSGIScriptAlias /basic @APPS@/env.wsgi
WSGIScriptAlias /digest @APPS@/env.wsgi
WSGIScriptAlias /group @APPS@/env.wsgi
WSGIScriptAlias /authgroup @APPS@/env.wsgi
<Location /basic>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/auth.py application-group=auth
    Require valid-user
</Location>
<Location /digest>
    AuthType Digest
    AuthName "hooks realm"
    AuthDigestProvider wsgi
    WSGIAuthUserScript @APPS@/auth.py
    Require valid-user
</Location>
<Location /group>
    AuthType Basic
    AuthName "hooks"
    AuthBasicProvider wsgi
    WSGIAuthUserScript @APPS@/auth.py
    WSGIAuthGroupScript @APPS@/groups.py
    Require wsgi-group staff admins
</Location>
""", modules=AUTH_MODULES, name="auth")


def url(srv, path):
    return "http://127.0.0.1:%d%s" % (srv.port, path)


def basic(srv, path, user, password):
    """A Basic request with raw bytes as credentials (curl -u cannot send every byte)."""
    token = base64.b64encode(user + b":" + password).decode()
    return srv.get(path, headers={"Authorization": "Basic " + token})


@pytest.mark.parametrize("user,password,status", [
    ("alice", "secret", 200),     # True
    ("alice", "wrong", 401),      # False
    ("nobody", "x", 401),         # None: user not found
    ("bad", "x", 500),            # a bad type: 500
    ("raise", "x", 500),          # an exception: 500
])
def test_basic_each_return_value(srv, user, password, status):
    code, body = curl("-u", "%s:%s" % (user, password), url(srv, "/basic/"))
    assert code == status, body


def test_basic_granted_user_reaches_the_app(srv):
    code, body = curl("-u", "alice:secret", url(srv, "/basic/"))
    assert code == 200
    import json
    env = json.loads(body)
    assert env["REMOTE_USER"] == "alice" and env["AUTH_TYPE"] == "Basic"
    seen = srv.seen("check_password")
    assert seen["_"]["user"] == "alice" and seen["_"]["password"] == "secret"
    assert seen["_"]["application_group"] == "auth"
    assert "HTTP_AUTHORIZATION" not in seen


def test_basic_a_returned_string_becomes_the_user(srv):
    code, body = curl("-u", "renamed:x", url(srv, "/basic/"))
    assert code == 200
    import json
    assert json.loads(body)["REMOTE_USER"] == "renamed-as-carol"


@pytest.mark.ours_only
def test_basic_returned_bytes_become_the_user(srv):
    code, body = curl("-u", "renamed-bytes:x", url(srv, "/basic/"))
    assert code == 200
    import json
    assert json.loads(body)["REMOTE_USER"] == "dave"


@pytest.mark.ours_only
def test_digest_non_utf8_credentials(srv):
    code, _ = curl("--digest", "-u", "été:päss".encode("latin-1"), url(srv, "/digest/"))
    assert code == 200
    assert srv.seen("get_realm_hash")["_"]["user"] == "été"
    code, _ = curl("--digest", "-u", b"\xff\xfe:\x80", url(srv, "/digest/"))
    assert code == 401
    assert curl("--digest", "-u", "alice:secret", url(srv, "/digest/"))[0] == 200


@pytest.mark.ours_only
def test_basic_errors_are_logged(srv):
    mark = srv.log_size()
    assert curl("-u", "raise:x", url(srv, "/basic/"))[0] == 500
    srv.wait_log(r"MW1302: .*ValueError exception raised processing WSGI script '.*auth.py' for ", since=mark)
    srv.wait_log(r"ValueError: check_password failed on purpose", since=mark)
    mark = srv.log_size()
    assert curl("-u", "bad:x", url(srv, "/basic/"))[0] == 500
    srv.wait_log(r"TypeError: Basic auth provider must return True, False, None or user name as string, not int", since=mark)


@pytest.mark.ours_only
def test_non_utf8_credentials_do_not_crash(srv):
    # mod_wsgi 4.9.4 crashes the Apache child here (fixed in mod_wsgi 5.0.1).
    # latin-1 bytes: decoded as latin-1, as mod_wsgi does; the user exists with that password.
    r = basic(srv, "/basic/", "été".encode("latin-1"), "päss".encode("latin-1"))
    assert r.status == 200, r
    assert srv.seen("check_password")["_"]["user"] == "été"
    # Bytes that are neither UTF-8 nor a known user: refused, and the server lives on.
    mark = srv.log_size()
    r = basic(srv, "/basic/", b"\xff\xfe\x80", b"\xc3\x28\xa0")
    assert r.status == 401
    assert srv.seen("check_password")["_"]["user"] == "\xff\xfe\x80"
    assert "Segmentation" not in srv.log(mark) and "exit signal" not in srv.log(mark)
    code, _ = curl("-u", "alice:secret", url(srv, "/basic/"))
    assert code == 200


@pytest.mark.parametrize("user,password,status", [
    ("alice", "secret", 200),     # a str hash
    ("alice", "wrong", 401),
    ("bytes", "pw", 200),         # a bytes hash
    ("nobody", "x", 401),         # None
    ("bad", "x", 500),
    ("raise", "x", 500),
])
def test_digest_each_return_value(srv, user, password, status):
    code, body = curl("--digest", "-u", "%s:%s" % (user, password), url(srv, "/digest/"))
    assert code == status, body
    if user != "alice" or status == 200:
        seen = srv.seen("get_realm_hash")
        assert seen["_"]["user"] == user and seen["_"]["realm"] == "hooks realm"


def test_digest_exception_is_logged(srv):
    mark = srv.log_size()
    assert curl("--digest", "-u", "raise:x", url(srv, "/digest/"))[0] == 500
    srv.wait_log(r"ValueError: get_realm_hash failed on purpose", since=mark)


def test_group_member_allowed(srv):
    code, body = curl("-u", "alice:secret", url(srv, "/group/"))
    assert code == 200
    assert srv.seen("groups_for_user")["_"]["user"] == "alice"


@pytest.mark.ours_only
def test_group_non_member_denied(srv):
    mark = srv.log_size()
    code, _ = curl("-u", "bob:builder", url(srv, "/group/"))
    assert code == 401
    srv.wait_log(r"MW1305: .*Authorization of user 'bob' to access '/group/' failed. User is not a member of designated groups", since=mark)


def test_group_no_user_asks_for_authentication(srv):
    code, _ = curl(url(srv, "/group/"))
    assert code == 401


def test_group_any_listed_group_is_enough(srv):
    # Require wsgi-group staff admins: bytes 'admins' from an iterator matches the second.
    assert curl("-u", "grp-bytes:x", url(srv, "/group/"))[0] == 200


@pytest.mark.ours_only  # message IDs
@pytest.mark.parametrize("user,message", [
    ("grp-none", r"MW1317: .*User is not a member of any groups"),
    ("grp-bad", r"MW1315: .*Groups for user returned from '.*groups.py' must be an iterable sequence of strings, not int"),
    ("grp-raise", r"ValueError: groups_for_user failed on purpose"),
])
def test_group_script_errors_deny(srv, user, message):
    mark = srv.log_size()
    code, _ = curl("-u", user + ":x", url(srv, "/group/"))
    assert code == 401
    srv.wait_log(message, since=mark)
