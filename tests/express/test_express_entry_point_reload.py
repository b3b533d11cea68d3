"""Without --reload-on-changes, mod_wsgi-express reloads the entry point when its file changes
(the handler script's reload_required, consulted on each request in daemon mode), unless
--disable-reloading. The check stats the file with mod_wsgi._mtime, which keeps the GIL."""
import os
import time

from expresslib import fetch, wait_for, write

APP = """
import os
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('%s %d' % ({value!r}, os.getpid())).encode()]
"""

MTIME_APP = b"""
import os, pathlib
import mod_wsgi
def application(environ, start_response):
    here = __file__
    checks = [
        mod_wsgi._mtime(here) == os.path.getmtime(here),
        mod_wsgi._mtime(here.encode()) == os.path.getmtime(here),
        mod_wsgi._mtime(pathlib.Path(here)) == os.path.getmtime(here),
    ]
    try:
        mod_wsgi._mtime(here + '.missing')
        checks.append('no error')
    except FileNotFoundError as e:
        checks.append(e.filename == here + '.missing')
    try:
        mod_wsgi._mtime(42)
        checks.append('no error')
    except TypeError:
        checks.append(True)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [repr(checks).encode()]
"""


def _edit(path, value):
    """Rewrites the script and moves its mtime on, so the change is seen at any precision."""
    write(path, APP.format(value=value).encode())
    later = time.time() + 5
    os.utime(path, (later, later))


def _start(setup_server, workdir, extra=()):
    script = write(os.path.join(workdir, "app.py"), APP.format(value="one").encode())
    sr = setup_server([script] + list(extra))
    r = sr.apachectl("start")
    assert r.returncode == 0, r.stderr
    status, body, _ = wait_for(sr.url + "/")
    assert status == 200 and body.startswith(b"one "), (body, sr.error_log()[-3000:])
    return sr, script


def test_edited_entry_point_is_reloaded_by_default(setup_server, workdir):
    sr, script = _start(setup_server, workdir)
    _edit(script, "two")
    status, body, _ = fetch(sr.url + "/")
    assert status == 200 and body.startswith(b"two "), (body, sr.error_log()[-3000:])


def test_disable_reloading_keeps_the_loaded_entry_point(setup_server, workdir):
    sr, script = _start(setup_server, workdir, ["--disable-reloading"])
    _edit(script, "two")
    for _ in range(3):
        status, body, _ = fetch(sr.url + "/")
        assert status == 200 and body.startswith(b"one "), (body, sr.error_log()[-3000:])


def test_mtime_matches_os_path_getmtime(setup_server, workdir):
    script = write(os.path.join(workdir, "app.py"), MTIME_APP)
    sr = setup_server([script])
    r = sr.apachectl("start")
    assert r.returncode == 0, r.stderr
    status, body, _ = wait_for(sr.url + "/")
    assert (status, body) == (200, b"[True, True, True, True, True]"), (body, sr.error_log()[-3000:])
