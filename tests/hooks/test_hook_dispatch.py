"""Issue 13, point 5: WSGIDispatchScript chooses process group, application group and callable."""
import os
import time

import pytest

from hooks_harness import hooks_apache, HooksApache

srv = hooks_apache(r"""
SetEnv DISPATCH_GROUP two
WSGIDaemonProcess one processes=1 threads=2
WSGIDaemonProcess two processes=1 threads=2
WSGIScriptAlias /d @APPS@/env.wsgi
WSGIScriptAlias /plain @APPS@/env.wsgi
<Location /d>
    WSGIDispatchScript @APPS@/dispatch.py application-group=dispatchers
</Location>
""", name="dispatch")


def get(srv, path):
    r = srv.get(path, timeout=20)
    return r, (r.json() if r.status == 200 else None)


@pytest.mark.parametrize("route,group", [("one", "one"), ("two", "two")])
def test_routes_to_daemon_groups(srv, route, group):
    r, env = get(srv, "/d/" + route)
    assert r.status == 200, r
    assert env["mod_wsgi.process_group"] == group
    seen = srv.seen("dispatch-" + route)
    # The dispatch script ran in Apache's child, in its own interpreter, never in a daemon.
    assert seen["_"]["process_group"] == "" and seen["_"]["application_group"] == "dispatchers"
    assert seen["mod_wsgi.application_group"] == "dispatchers" and seen["mod_wsgi.process_group"] == ""
    assert "mod_wsgi.callable_object" not in seen
    assert seen["DISPATCH_GROUP"] == "two"          # SetEnv values are in the dispatch environ
    assert seen["wsgi.errors"]["type"] in ("Log", "TextIOWrapper")
    assert "mod_ssl.is_https" not in seen
    assert seen["_"]["pid"] != env["_"]["pid"]


def test_two_groups_are_two_processes(srv):
    _, one = get(srv, "/d/one")
    _, two = get(srv, "/d/two")
    assert one["_"]["pid"] != two["_"]["pid"]


def test_routes_to_a_sub_interpreter(srv):
    r, env = get(srv, "/d/sub")
    assert r.status == 200
    assert env["mod_wsgi.process_group"] == ""
    assert env["mod_wsgi.application_group"] == "dispatched-sub"
    assert env["_"]["is_main_interpreter"] is False


@pytest.mark.ours_only
def test_percent_global_is_the_main_interpreter(srv):
    # mod_wsgi 4.9.4 reports '' but runs the request in a sub-interpreter.
    _, env = get(srv, "/d/global")
    assert env["mod_wsgi.application_group"] == "" and env["_"]["is_main_interpreter"] is True


def test_percent_env_is_expanded(srv):
    _, env = get(srv, "/d/env")
    assert env["mod_wsgi.process_group"] == "two"


def test_none_keeps_the_configured_values(srv):
    _, env = get(srv, "/d/other")
    _, plain = get(srv, "/plain/other")
    assert env["mod_wsgi.process_group"] == "" and env["mod_wsgi.application_group"].endswith("|/d")
    assert plain["mod_wsgi.application_group"].endswith("|/plain")


def test_callable_object(srv):
    _, env = get(srv, "/d/alt")
    assert env["_"]["which_callable"] == "app2"
    assert env["mod_wsgi.callable_object"] == "app2"


@pytest.mark.ours_only
def test_missing_group_is_500_with_a_clear_line_not_a_hang(srv):
    mark = srv.log_size()
    t = time.time()
    r, _ = get(srv, "/d/missing")
    assert r.status == 500
    assert time.time() - t < 5
    srv.wait_log(r"MW1114: .*No WSGI daemon process called 'no-such-group' has been configured", since=mark)


@pytest.mark.ours_only
def test_bad_type_is_500(srv):
    mark = srv.log_size()
    r, _ = get(srv, "/d/bad")
    assert r.status == 500
    srv.wait_log(r"MW1306: .*process_group\(\) of WSGI dispatch script '.*dispatch.py' must be a string or None, not int", since=mark)


@pytest.mark.ours_only
def test_exception_is_500_with_traceback(srv):
    mark = srv.log_size()
    r, _ = get(srv, "/d/raise")
    assert r.status == 500
    srv.wait_log(r"MW1302: .*ValueError exception raised processing WSGI script '.*dispatch.py' for ", since=mark)
    srv.wait_log(r"ValueError: dispatch failed on purpose", since=mark)


scopes = hooks_apache(r"""
WSGIDispatchScript @APPS@/dispatch.py
WSGIScriptAlias /s @APPS@/env.wsgi
<VirtualHost 127.0.0.1:@PORT@>
    ServerName 127.0.0.1
    WSGIScriptAlias /s @APPS@/env.wsgi
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName vhost.test
    WSGIDispatchScript @APPS@/dispatch.py application-group=vhost-dispatch
    WSGIScriptAlias /v @APPS@/env.wsgi
</VirtualHost>
""", name="dispatch-scopes")


def _forget(a, name):
    try:
        os.remove(a.marker(name + ".json"))
    except FileNotFoundError:
        pass


def test_server_scope(scopes):
    _forget(scopes, "dispatch-sub")
    r = scopes.get("/s/sub")
    assert r.status == 200 and r.json()["mod_wsgi.application_group"] == "dispatched-sub"
    assert scopes.seen("dispatch-sub")["_"]["application_group"] == ""


def test_virtual_host_scope(scopes):
    _forget(scopes, "dispatch-sub")
    r = scopes.get("/v/sub", headers={"Host": "vhost.test"})
    assert r.status == 200 and r.json()["mod_wsgi.application_group"] == "dispatched-sub"
    assert scopes.seen("dispatch-sub")["_"]["application_group"] == "vhost-dispatch"
