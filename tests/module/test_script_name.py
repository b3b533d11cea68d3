"""Issue 12, item 6: WSGIScriptAlias matches as mod_alias does (a run of slashes matches a
run of slashes) and SCRIPT_NAME has no duplicate slashes; REQUEST_URI keeps what the client sent."""
import pytest

from apache_harness import module_apache

slashes = module_apache(r"""
MergeSlashes Off
WSGIScriptAlias /app/env @APPS@/env.wsgi
WSGIScriptAlias //two/env @APPS@/env.wsgi
""")


@pytest.mark.parametrize("uri,script_name", [
    ("//app/env/x", "/app/env"),
    ("/app//env/x", "/app/env"),
    ("/app/env//x", "/app/env"),
    ("//two/env/x", "/two/env"),
    ("/two/env/x", "/two/env"),
    ("/two//env", "/two/env"),
])
def test_script_name_has_no_duplicate_slashes(slashes, uri, script_name):
    r = slashes.get(uri)
    assert r.status == 200, (uri, r.status)
    j = r.json()
    assert j["SCRIPT_NAME"] == script_name
    assert j["REQUEST_URI"] == uri
    assert j["PATH_INFO"] in ("/x", "")


def test_alias_must_end_at_a_segment(slashes):
    assert slashes.get("/app/envx").status == 404
