"""Issue 12, item 6: script loading and reloading as mod_wsgi logs and decides it (6.1's
words: issue 23), and the script's own reload_required(resource)."""
import os
import time

import pytest

from apache_harness import REFERENCE_VERSION, module_apache

rel = module_apache(r"""
WSGIScriptAlias /rr @APPS@/reload_required.wsgi
WSGIScriptAlias /off @APPS@/reload_required.wsgi application-group=off
<Location /off>
WSGIScriptReloading Off
</Location>
""")


def _token(a, path="/rr"):
    r = a.get(path)
    assert r.status == 200, a.log()[-3000:]
    token, _, resource = r.body.decode().partition(" ")
    return token, resource


@pytest.mark.mod_wsgi_61  # 4.9: "Loading Python script file '…'." and "Reloading WSGI script '…'."
def test_loading_and_reloading_are_logged_at_info(rel):
    since = rel.log_size()
    t1, _ = _token(rel, "/rr")
    path = os.path.join(rel.apps, "reload_required.wsgi")
    st = os.stat(path)
    os.utime(path, (st.st_atime, st.st_mtime + 7))
    t2, _ = _token(rel, "/rr")
    into = r" into sub-interpreter '127\.0\.0\.1:%d\|/rr' in embedded mode\." % rel.port
    rel.wait_log(r"\[wsgi:info\] .*Loading WSGI script '%s'%s" % (path, into))
    assert t1 != t2
    rel.wait_log(r"\[wsgi:info\] .*Reloading WSGI script '%s'%s" % (path, into), since)


def test_reload_required_true_reloads(rel):
    t1, resource = _token(rel)
    t1, resource = _token(rel)
    assert resource == os.path.join(rel.apps, "reload_required.wsgi")
    assert _token(rel)[0] == t1
    open(os.path.join(rel.markers, "reload-flag"), "w").close()
    assert _token(rel)[0] != t1


def test_reload_required_not_consulted_with_reloading_off(rel):
    t1, _ = _token(rel, "/off")
    open(os.path.join(rel.markers, "reload-flag"), "w").close()
    try:
        assert _token(rel, "/off") == (t1, "-")
    finally:
        os.unlink(os.path.join(rel.markers, "reload-flag"))


def test_reload_required_raising_is_logged_and_the_script_kept(rel):
    t1, _ = _token(rel)
    since = rel.log_size()
    marker = os.path.join(rel.markers, "reload-raise")
    open(marker, "w").close()
    try:
        assert _token(rel)[0] == t1
    finally:
        os.unlink(marker)
    rel.wait_log(r"ValueError: reload_required failed on purpose", since)
    if REFERENCE_VERSION != "6.1":  # mod_wsgi 6.1.1 loses the traceback, printing only its last line
        assert "Traceback (most recent call last):" in rel.log(since)


@pytest.mark.ours_only  # mod_wsgi 4.9 keeps the module when Apache's own stat fails first
def test_a_script_whose_mtime_cannot_be_read_is_reloaded(rel):
    path = os.path.join(rel.apps, "reload_required.wsgi")
    t1, _ = _token(rel)
    away = path + ".away"
    os.rename(path, away)
    try:
        assert rel.get("/rr").status == 404
    finally:
        os.rename(away, path)  # back, with the mtime it was loaded with
    since = rel.log_size()
    assert _token(rel)[0] != t1
    rel.wait_log(r"Reloading WSGI script '%s' into " % path, since)
