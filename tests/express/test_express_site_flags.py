"""Issue 14, item 5: the site-facing flags, each doing what mod_wsgi-express 4.9 does, each
checked against a real Apache: --error-override, --error-document, --directory-index,
--directory-listing, --add-handler, --with-cgi, --setenv, --passenv, --keep-alive-timeout 0,
--include-file."""
import http.client
import json
import os

from expresslib import ENVIRON, fetch, wait_for, write

NOT_FOUND_APP = b"""
def application(environ, start_response):
    if environ['PATH_INFO'] == '/gone':
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'app says not found\\n']
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'app\\n']
"""


def docroot(workdir):
    d = os.path.join(workdir, "htdocs")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    return d


def started(sr):
    r = sr.apachectl("start")
    assert r.returncode == 0, r.stderr
    wait_for(sr.url + "/")
    return sr


def test_error_document_and_error_override(setup_server, workdir):
    app = write(os.path.join(workdir, "app.py"), NOT_FOUND_APP)
    d = docroot(workdir)
    write(os.path.join(d, "custom404.html"), b"custom not found\n")
    args = [app, "--document-root", d, "--error-document", "404", "/custom404.html"]
    # Without --error-override the application's own error response stands.
    sr = started(setup_server(args))
    assert fetch(sr.url + "/gone")[:2] == (404, b"app says not found\n")
    sr.stop()
    # With it, Apache's error document replaces it.
    sr = started(setup_server(args + ["--error-override"], root=os.path.join(workdir, "root2")))
    assert fetch(sr.url + "/gone")[:2] == (404, b"custom not found\n"), sr.error_log()
    assert fetch(sr.url + "/fine")[:2] == (200, b"app\n")


def test_directory_index_for_a_script_application(setup_server, workdir, hello):
    d = docroot(workdir)
    os.mkdir(os.path.join(d, "sub"))
    os.chmod(os.path.join(d, "sub"), 0o755)
    write(os.path.join(d, "sub", "home.html"), b"<p>home</p>\n")
    sr = started(setup_server([hello, "--document-root", d, "--directory-index", "home.html"]))
    assert fetch(sr.url + "/sub/")[:2] == (200, b"<p>home</p>\n"), sr.error_log()
    assert fetch(sr.url + "/other")[:2] == (200, b"Hello World!\n")
    sr.stop()
    # Without it a directory URL is the application's.
    sr = started(setup_server([hello, "--document-root", d], root=os.path.join(workdir, "root2")))
    assert fetch(sr.url + "/sub/")[:2] == (200, b"Hello World!\n")


def test_directory_listing(setup_server, workdir):
    d = docroot(workdir)
    write(os.path.join(d, "listed-file.txt"), b"x\n")
    sr = started(setup_server(["--application-type", "static", d, "--directory-listing"]))
    status, body, _ = fetch(sr.url + "/")
    assert status == 200 and b"listed-file.txt" in body, sr.error_log()
    sr.stop()
    sr = started(setup_server(["--application-type", "static", d], root=os.path.join(workdir, "root2")))
    assert fetch(sr.url + "/")[0] in (403, 404)


def test_add_handler(setup_server, workdir, hello):
    d = docroot(workdir)
    write(os.path.join(d, "report.res"), b"resource file\n")
    res = write(os.path.join(workdir, "res.py"), b"""
def handle_request(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('resource %s from %s' % (environ['SCRIPT_NAME'], environ['SCRIPT_FILENAME'])).encode()]
""")
    sr = started(setup_server([hello, "--document-root", d, "--add-handler", ".res", res]))
    status, body, _ = fetch(sr.url + "/report.res")
    assert status == 200, sr.error_log()
    assert body == ("resource /report.res from %s" % os.path.join(d, "report.res")).encode()
    # A missing .res file is not a resource: the application answers.
    assert fetch(sr.url + "/missing.res")[:2] == (200, b"Hello World!\n")


def test_with_cgi(setup_server, workdir, hello):
    d = docroot(workdir)
    write(os.path.join(d, "hi.cgi"), b"#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\ncgi %s\\n' \"$REQUEST_METHOD\"\n",
          mode=0o755)
    sr = started(setup_server([hello, "--document-root", d, "--with-cgi"]))
    assert fetch(sr.url + "/hi.cgi")[:2] == (200, b"cgi GET\n"), sr.error_log()
    sr.stop()
    # Without --with-cgi the script is a plain file, not run.
    sr = started(setup_server([hello, "--document-root", d], root=os.path.join(workdir, "root2")))
    assert b"printf" in fetch(sr.url + "/hi.cgi")[1]


def test_setenv_and_passenv(setup_server, workdir):
    app = write(os.path.join(workdir, "environ.py"), ENVIRON)
    sr = setup_server([app, "--setenv", "SET_ME", "a value", "--passenv", "PASSED_ON"])
    r = sr.apachectl("start", env=dict(os.environ, PASSED_ON="from the shell"))
    assert r.returncode == 0, r.stderr
    status, body, _ = wait_for(sr.url + "/")
    env = json.loads(body)
    assert env["SET_ME"] == "a value"
    assert env["PASSED_ON"] == "from the shell"


def test_keep_alive_timeout_zero_turns_keep_alive_off(setup_server, workdir, hello):
    def connection_header(sr):
        c = http.client.HTTPConnection("127.0.0.1", sr.port, timeout=10)
        c.request("GET", "/")
        r = c.getresponse()
        r.read()
        c.close()
        return r.headers.get("Connection")
    sr = started(setup_server([hello, "--keep-alive-timeout", "0"]))
    assert connection_header(sr) == "close"
    sr.stop()
    sr = started(setup_server([hello], root=os.path.join(workdir, "root2")))
    assert connection_header(sr) != "close"


def test_include_file_comes_last_and_overrides(setup_server, workdir, hello):
    extra = write(os.path.join(workdir, "extra.txt"), b"included alias\n")
    inc = write(os.path.join(workdir, "extra.conf"), ("""
Alias /extra.txt '%s'
<Directory '%s'>
    <Files extra.txt>
        Require all granted
    </Files>
</Directory>
ServerTokens Full
""" % (extra, workdir)).encode())
    sr = started(setup_server([hello, "--include-file", inc]))
    status, body, headers = fetch(sr.url + "/extra.txt")
    assert (status, body) == (200, b"included alias\n")
    # The generated ServerTokens ProductOnly is overridden by the included one.
    assert headers["Server"].startswith("Apache/"), headers["Server"]
