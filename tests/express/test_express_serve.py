"""setup-server, then the generated apachectl: configtest, start, pages, stop."""
import json
import os
import subprocess

import pytest

from expresslib import ENVIRON, HELLO, fetch, wait_for, wait_gone, write


def test_configtest(setup_server, hello):
    sr = setup_server([hello])
    r = sr.apachectl("configtest")
    assert r.returncode == 0, r.stderr
    assert "Syntax OK" in r.stderr


def test_serves_the_script(setup_server, hello):
    sr = setup_server([hello])
    r = sr.apachectl("start")
    assert r.returncode == 0, r.stderr
    status, body, _ = wait_for(sr.url + "/")
    assert (status, body) == (200, b"Hello World!\n"), sr.error_log()
    status, body, _ = fetch(sr.url + "/any/path?x=1")
    assert (status, body) == (200, b"Hello World!\n")
    r = sr.apachectl("stop")
    assert r.returncode == 0, r.stderr
    assert wait_gone(sr.port)


def test_welcome_page_without_a_script(setup_server):
    sr = setup_server([])
    sr.apachectl("start")
    status, body, headers = wait_for(sr.url + "/")
    assert status == 200, sr.error_log()
    assert b"mod_wsgi-express" in body and headers["Content-Type"].startswith("text/html")


def test_runs_as_an_unprivileged_user_when_root(setup_server, workdir):
    if os.getuid() != 0:
        pytest.skip("only as root")
    app = write(os.path.join(workdir, "whoami.py"), b"""
import os, pwd
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [pwd.getpwuid(os.getuid()).pw_name.encode()]
""")
    sr = setup_server([app])
    assert "www-data" in sr.result.stdout
    sr.apachectl("start")
    status, body, _ = wait_for(sr.url + "/")
    assert (status, body) == (200, b"www-data"), sr.error_log()
    assert "AH00526" not in sr.error_log()


def test_static_files_document_root_and_url_alias(setup_server, workdir, hello):
    docs = os.path.join(workdir, "docs")
    assets = os.path.join(workdir, "assets")
    for d in (docs, assets):
        os.mkdir(d)
        os.chmod(d, 0o755)
    write(os.path.join(docs, "robots.txt"), b"User-agent: *\n")
    write(os.path.join(assets, "app.css"), b"body {}\n")
    write(os.path.join(workdir, "single.txt"), b"one file\n")
    sr = setup_server([hello, "--document-root", docs, "--url-alias", "/static", assets,
                       "--url-alias", "/single.txt", os.path.join(workdir, "single.txt")])
    assert sr.apachectl("configtest").returncode == 0
    sr.apachectl("start")
    wait_for(sr.url + "/robots.txt")
    assert fetch(sr.url + "/robots.txt")[:2] == (200, b"User-agent: *\n")
    assert fetch(sr.url + "/static/app.css")[:2] == (200, b"body {}\n")
    assert fetch(sr.url + "/single.txt")[:2] == (200, b"one file\n")
    assert fetch(sr.url + "/not-a-file")[:2] == (200, b"Hello World!\n"), sr.error_log()


def test_static_application_type(setup_server, workdir):
    docs = os.path.join(workdir, "site")
    os.mkdir(docs)
    os.chmod(docs, 0o755)
    write(os.path.join(docs, "index.html"), b"<p>static</p>\n")
    sr = setup_server(["--application-type", "static", docs, "--directory-index", "index.html"])
    sr.apachectl("start")
    status, body, _ = wait_for(sr.url + "/")
    assert (status, body) == (200, b"<p>static</p>\n"), sr.error_log()
    assert fetch(sr.url + "/missing")[0] == 404


def test_mount_point_setenv_and_environ(setup_server, workdir):
    app = write(os.path.join(workdir, "environ.py"), ENVIRON)
    sr = setup_server([app, "--mount-point", "/app", "--setenv", "GREETING", "hello there",
                       "--callable-object", "application"])
    sr.apachectl("start")
    status, body, _ = wait_for(sr.url + "/app/x/y")
    assert status == 200, sr.error_log()
    env = json.loads(body)
    assert env["SCRIPT_NAME"] == "/app"
    assert env["PATH_INFO"] == "/x/y"
    assert env["GREETING"] == "hello there"


def test_module_application_type(setup_server, workdir):
    pkg = os.path.join(workdir, "mypkg")
    os.mkdir(pkg)
    os.chmod(pkg, 0o755)
    write(os.path.join(pkg, "__init__.py"), b"")
    write(os.path.join(pkg, "wsgi.py"), HELLO.replace(b"def application", b"def app"))
    sr = setup_server(["--application-type", "module", "mypkg.wsgi", "--callable-object", "app",
                       "--working-directory", workdir])
    sr.apachectl("start")
    status, body, _ = wait_for(sr.url + "/")
    assert (status, body) == (200, b"Hello World!\n"), sr.error_log()


def test_access_log_and_log_directory(setup_server, workdir, hello):
    logs = os.path.join(workdir, "logs")
    sr = setup_server([hello, "--access-log", "--log-directory", logs, "--error-log-name", "errors.log"])
    sr.apachectl("start")
    wait_for(sr.url + "/logged")
    sr.stop()
    with open(os.path.join(logs, "access_log")) as f:
        assert '"GET /logged HTTP/1.1" 200' in f.read()
    assert os.path.exists(os.path.join(logs, "errors.log"))


def test_include_file_and_keep_alive(setup_server, workdir, hello):
    inc = write(os.path.join(workdir, "extra.conf"), b"Header always set X-Extra yes\n")
    sr = setup_server([hello, "--include-file", inc, "--keep-alive-timeout", "0"])
    conf = open(os.path.join(sr.root, "httpd.conf")).read()
    assert "Include '%s'" % inc in conf and "KeepAlive Off" in conf
    r = sr.apachectl("configtest")
    # mod_headers is not loaded by default: Apache must name the directive, which proves
    # the include file is read.
    assert r.returncode != 0 and "Header" in r.stderr


def test_server_status(setup_server, hello):
    sr = setup_server([hello, "--server-status"])
    sr.apachectl("start")
    wait_for(sr.url + "/")
    status, body, _ = fetch(sr.url + "/server-status?auto")
    assert status == 200 and (b"Total Accesses" in body or b"ServerVersion" in body), body


def test_setup_twice_keeps_user_files(setup_server, workdir, hello):
    sr = setup_server([hello])
    write(os.path.join(sr.root, "rewrite.conf"), b"RewriteRule ^/old$ /new [R=301,L]\n")
    setup_server([hello])
    assert open(os.path.join(sr.root, "rewrite.conf")).read().startswith("RewriteRule")


def test_explicit_user_group_processes_threads(setup_server, workdir):
    if os.getuid() != 0:
        pytest.skip("only as root")
    app = write(os.path.join(workdir, "who.py"), b"""
import os, pwd, threading
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('%s %s %s' % (pwd.getpwuid(os.getuid()).pw_name, environ['wsgi.multiprocess'],
                           environ['wsgi.multithread'])).encode()]
""")
    sr = setup_server([app, "--user", "nobody", "--group", "nogroup", "--processes", "2", "--threads", "3"])
    assert "Request Capacity   : 6 (2 processes * 3 threads)" in sr.result.stdout
    assert "Run User" not in sr.result.stdout
    sr.apachectl("start")
    status, body, _ = wait_for(sr.url + "/")
    assert (status, body) == (200, b"nobody True True"), sr.error_log()


@pytest.mark.parametrize("mpm", ["event", "worker"])
def test_server_mpm_chooses_apaches_mpm_in_daemon_mode(setup_server, workdir, mpm):
    """--server-mpm decides the MPM of the front end (README: the worker MPM saves the event
    MPM's hand-off of each keep-alive request between threads); requests on one kept
    connection are served by it."""
    import http.client
    app = write(os.path.join(workdir, "mpm.py"), b"""
import apache
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [apache.mpm_name.encode()]
""")
    sr = setup_server([app, "--server-mpm", mpm])
    sr.apachectl("start")
    status, body, _ = wait_for(sr.url + "/")
    assert status == 200, sr.error_log()
    conn = http.client.HTTPConnection("127.0.0.1", sr.port, timeout=10)
    try:
        for _ in range(3):
            conn.request("GET", "/")
            r = conn.getresponse()
            assert (r.status, r.read()) == (200, mpm.encode()), sr.error_log()
    finally:
        conn.close()
