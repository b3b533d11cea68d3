"""Issue 13, points 1, 4 and 9: WSGIAccessScript's allow_access(environ, host), the hooks'
environ, reloading, and where the script runs."""
import base64
import os
import time

import pytest

from hooks_harness import hooks_apache, harness

srv = hooks_apache(r"""
SetEnv FROM_SETENV yes
WSGIScriptAlias /app @APPS@/env.wsgi
WSGIScriptAlias /expired @APPS@/expired.py
<Location /app>
    WSGIAccessScript @APPS@/access.py
    WSGIApplicationGroup %{GLOBAL}
</Location>
<Location /app/denied-by-authz>
    Require all denied
</Location>
<Location /expired>
    WSGIApplicationGroup %{GLOBAL}
</Location>
""", name="access")


@pytest.mark.parametrize("answer,status", [
    ("true", 200),               # True: allowed
    ("false", 403),              # False: forbidden, whatever Require says
    ("none", 200),               # None: left to mod_authz_core (Require all granted here)
])
def test_each_return_value(srv, answer, status):
    r = srv.get("/app/" + answer)
    assert r.status == status, r
    assert srv.seen("access-" + answer)["_"]["host"] == "127.0.0.1"


def test_none_leaves_the_decision_to_other_modules(srv):
    # The same None under 'Require all denied' is refused by mod_authz_core, not by the hook.
    mark = srv.log_size()
    assert srv.get("/app/denied-by-authz/none").status == 403
    assert "MW1304" not in srv.log(mark)
    assert srv.get("/app/denied-by-authz/true").status == 403


@pytest.mark.ours_only
def test_false_is_logged_as_denied(srv):
    mark = srv.log_size()
    assert srv.get("/app/false").status == 403
    srv.wait_log(r"MW1304: .*Client denied by server configuration", since=mark)


@pytest.mark.ours_only
def test_a_bad_return_type_is_logged_and_forbidden(srv):
    mark = srv.log_size()
    assert srv.get("/app/bad").status == 403
    srv.wait_log(r"MW1303: .*must be a boolean or None, not int", since=mark)


@pytest.mark.ours_only
def test_an_exception_is_logged_with_traceback_and_forbidden(srv):
    mark = srv.log_size()
    assert srv.get("/app/raise").status == 403
    # mod_wsgi 6.x's header, naming the class, the script and the interpreter.
    srv.wait_log(r"MW1302: \[script [^]]*\] ValueError exception raised processing WSGI script '.*access.py' for "
                 r"main interpreter in embedded mode\.", since=mark)
    srv.wait_log(r"ValueError: access hook failed on purpose", since=mark)
    srv.wait_log(r"MW1302: Traceback \(most recent call last\)", since=mark)
    # One log format: every line of the traceback carries the header's ID.
    lines = srv.log(mark).splitlines()
    first = next(i for i, l in enumerate(lines) if "exception raised processing WSGI script" in l)
    last = next(i for i, l in enumerate(lines) if "ValueError: access hook failed on purpose" in l)
    assert all("MW1302: " in l for l in lines[first:last + 1]), lines[first:last + 1]


@pytest.mark.mod_wsgi_49("hook scripts' environ keeps 4.9's mod_wsgi.script_reloading (hooks are outside issue 23's request path)")
def test_environ_is_mod_wsgis(srv):
    auth = "Basic " + base64.b64encode(b"u:p").decode()
    r = srv.get("/app/true?q=1", headers={"X-Test": "hello", "Authorization": auth,
                                          "Proxy-Authorization": auth, "Content-Type": "text/plain"})
    assert r.status == 200
    env = srv.seen("access-true")
    assert env["HTTP_X_TEST"] == "hello"
    assert env["CONTENT_TYPE"] == "text/plain"
    assert "HTTP_AUTHORIZATION" not in env and "HTTP_PROXY_AUTHORIZATION" not in env
    assert "FROM_SETENV" not in env           # no SetEnv values, as mod_wsgi
    assert env["REQUEST_METHOD"] == "GET"
    assert env["QUERY_STRING"] == "q=1"
    assert env["REQUEST_URI"] == "/app/true?q=1"
    assert env["SCRIPT_NAME"] == "/app" and env["PATH_INFO"] == "/true"
    assert env["REMOTE_ADDR"] == "127.0.0.1" and env["REMOTE_PORT"].isdigit()
    assert env["SERVER_PORT"] == str(srv.port) and env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_ADMIN"] == "admin@example.test"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    for k in ("SERVER_SOFTWARE", "SERVER_ADDR", "DOCUMENT_ROOT", "SERVER_SIGNATURE"):
        assert k in env, k
    assert env["mod_wsgi.process_group"] == ""
    assert env["mod_wsgi.application_group"] == ""
    assert env["mod_wsgi.script_reloading"] == {"type": "int", "repr": "1"}
    assert env["mod_wsgi.version"]["repr"] == "(4, 9, 4)"
    assert env["apache.version"]["type"] == "tuple"
    assert env["wsgi.errors"]["type"] in ("Log", "TextIOWrapper")
    assert env["mod_ssl.is_https"]["type"] == "builtin_function_or_method"
    assert "apache.request_rec" not in env
    # Without mod_ssl: 0 and None.
    assert env["_"]["is_https"] == 0 and env["_"]["ssl_protocol"] is None
    srv.wait_log(r"access hook saw true")


def test_mod_ssl_functions_raise_once_the_hook_returned(srv):
    assert srv.get("/app/true").status == 200
    r = srv.get("/expired")
    assert r.json() == {"is_https": "RuntimeError: request object has expired",
                        "var_lookup": "RuntimeError: request object has expired"}


def test_runs_in_the_main_interpreter_of_the_apache_child(srv):
    assert srv.get("/app/true").status == 200
    seen = srv.seen("access-true")["_"]
    assert seen["application_group"] == "" and seen["process_group"] == ""
    assert seen["pid"] in srv.children()


def test_script_is_reloaded_when_it_changes(srv):
    assert srv.get("/app/true").status == 200
    assert srv.seen("access-true")["_"]["version"] == "v1"
    path = os.path.join(srv.apps, "access.py")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace('VERSION = "v1"', 'VERSION = "v2"'))
    st = os.stat(path)
    os.utime(path, (st.st_atime, st.st_mtime + 5))
    os.remove(srv.marker("access-true.json"))
    assert srv.get("/app/true").status == 200
    assert srv.seen("access-true")["_"]["version"] == "v2"


daemon = hooks_apache(r"""
WSGIRestrictEmbedded On
WSGIDaemonProcess app processes=1 threads=2
WSGIScriptAlias /app @APPS@/env.wsgi process-group=app
WSGIPassApacheRequest On
<Location /app>
    WSGIAccessScript @APPS@/access.py application-group=hooks
</Location>
""", name="access-daemon")


def test_never_runs_in_a_daemon_process_and_uses_its_application_group(daemon):
    r = daemon.get("/app/true")
    assert r.status == 200
    app_pid = r.json()["_"]["pid"]
    seen = daemon.seen("access-true")
    assert seen["_"]["application_group"] == "hooks"
    assert seen["mod_wsgi.application_group"] == "hooks"
    assert seen["_"]["pid"] != app_pid and seen["_"]["process_group"] == ""
    # WSGIPassApacheRequest On: the request_rec is in the hook's environ.
    assert seen["apache.request_rec"]["type"] == "PyCapsule"
    assert daemon.get("/app/false").status == 403


@pytest.mark.ours_only
def test_from_htaccess_with_allowoverride_authconfig(hooks_factory):
    import concurrent.futures
    a = hooks_factory("<Directory @HTDOCS@/site>\nAllowOverride AuthConfig\nRequire all granted\n</Directory>\n"
                      "WSGIScriptAlias /site/app @APPS@/env.wsgi\n", start=False)
    site = os.path.join(a.htdocs, "site")
    os.makedirs(site)
    with open(os.path.join(site, ".htaccess"), "w") as f:
        f.write("WSGIAccessScript %s/access.py\nWSGIUserAuthoritative Off\n" % a.apps)
    with open(os.path.join(site, "false"), "w") as f:
        f.write("static\n")
    with open(os.path.join(site, "true"), "w") as f:
        f.write("static\n")
    harness._chown_tree(a.dir)
    os.chmod(a.markers, 0o777)
    a.start()
    # .htaccess is read by every request, in many threads at once.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda p: a.get(p).status, ["/site/true", "/site/false"] * 20))
    assert codes == [200, 403] * 20
    assert a.log().count("WSGIUserAuthoritative Off has no effect on Apache 2.4") == 1
