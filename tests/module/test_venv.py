"""WSGIPythonHome naming a virtual environment (what mod_wsgi-express --python-home and
$VIRTUAL_ENV give): the venv's site-packages are importable and sys.prefix is the venv."""
import os
import subprocess

import pytest

APP = """
import sys
def application(environ, start_response):
    import only_in_venv
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [("%s|%s|%s" % (sys.prefix, sys.base_prefix, only_in_venv.WHERE)).encode()]
"""


def _make_venv(a):
    venv = os.path.join(a.dir, "venv")
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", venv], check=True)
    site = os.path.join(venv, "lib", "python3.11", "site-packages")
    with open(os.path.join(site, "only_in_venv.py"), "w") as f:
        f.write("WHERE = 'venv'\n")
    with open(os.path.join(a.apps, "venv_app.wsgi"), "w") as f:
        f.write(APP)
    subprocess.run(["chmod", "-R", "a+rX", a.dir], check=True)
    return venv


def test_venv_as_python_home(apache_factory):
    a = apache_factory("", start=False)
    venv = _make_venv(a)
    a.write_conf("WSGIPythonHome %s\nWSGIScriptAlias /v @APPS@/venv_app.wsgi\n" % venv)
    a.start()
    r = a.get("/v")
    assert r.status == 200, a.log()[-3000:]
    prefix, base, where = r.text.split("|")
    assert prefix == venv and base == "/usr" and where == "venv"


@pytest.mark.ours_only
def test_venv_of_another_python_is_refused_in_one_line(apache_factory):
    a = apache_factory("", start=False)
    venv = _make_venv(a)
    cfg = os.path.join(venv, "pyvenv.cfg")
    with open(cfg) as f:
        text = f.read().replace("version = 3.11", "version = 3.12")
    with open(cfg, "w") as f:
        f.write(text)
    a.write_conf("WSGIPythonHome %s\nWSGIScriptAlias /v @APPS@/venv_app.wsgi\n" % venv)
    a.start()
    assert a.get("/v").status == 500
    lines = [l for l in a.log().splitlines() if "virtual environment of Python 3.12" in l]
    assert len(lines) == 1, a.log()[-3000:]
