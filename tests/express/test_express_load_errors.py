"""An application that fails to load: the error log names the user's file (not the generated
handler.wsgi), in mod_wsgi 6.x's words, with a traceback that starts in the user's code, every
line of it with the same message ID; on a terminal start-server also prints that first failure,
with the error log's path, and keeps serving so that a fixed file recovers."""
import os
import re
import signal
import time

import pexpect
import pytest

from expresslib import HELLO, fetch, wait_for, wait_gone, write
from test_express_launcher import error_log, killer, spawn_on_tty  # noqa: F401

SYNTAX_ERROR = b"""
def application(environ, start_response:
    return []
"""

IMPORT_ERROR = b"""
import os
import no_such_module_mwe8
"""


def load_failure_block(text):
    """The lines of the first MW1103 report in the error log (one thread writes it: the same
    Apache [pid:tid] on every line)."""
    lines = [l for l in text.splitlines() if "MW1103: " in l]
    assert lines, text
    key = re.search(r"\[pid \d+:tid \d+\]", lines[0]).group(0)
    return [l for l in lines if key in l]


def first_line(app, syntax):
    """What mod_wsgi 6.x says first of a script that failed to load."""
    if syntax:
        return "Could not read or compile WSGI script '%s' for " % app
    return "Unable to execute Python script file '%s'." % app


def wait_log(root, pattern, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if re.search(pattern, error_log(root)):
            return error_log(root)
        time.sleep(0.1)
    raise AssertionError("%r not in the error log:\n%s" % (pattern, error_log(root)))


@pytest.mark.parametrize("source,error,first_frame,syntax", [
    (SYNTAX_ERROR, r"SyntaxError: ", r'File "{app}", line 2', True),
    (IMPORT_ERROR, r"ModuleNotFoundError: No module named 'no_such_module_mwe8'",
     r'File "{app}", line 3, in <module>', False),
])
def test_load_failure_on_a_terminal(workdir, port, killer, source, error, first_frame, syntax):  # noqa: F811
    root = os.path.join(workdir, "root")
    app = write(os.path.join(workdir, "app.py"), source)
    url = "http://127.0.0.1:%d/" % port
    child = spawn_on_tty([app, "--host", "127.0.0.1", "--port", str(port), "--server-root", root])
    killer(child.pid)

    # The terminal: the first failure, the error log's path, the user's file and the error.
    child.expect("the application failed to load \\(from %s\\):" % re.escape(os.path.join(root, "error_log")))
    child.expect(re.escape(first_line(app, syntax)))
    child.expect(error)
    child.expect("the server keeps running")
    assert child.isalive()

    # The error log: the same, every line with the same prefix, the traceback in the user's file.
    block = load_failure_block(wait_log(root, error))
    assert first_line(app, syntax) in block[0], block
    assert re.search(r"\w+Error exception raised processing WSGI script '%s' for " % re.escape(app), block[1]), block
    assert not any("handler.wsgi" in l for l in block), block
    frames = [l for l in block if 'File "' in l]
    assert frames and re.search(first_frame.format(app=re.escape(app)), frames[0]), block
    assert re.search(error, block[-1]), block

    # Still serving: a 500 now, the application once the file is fixed.
    assert fetch(url)[0] == 500
    write(app, HELLO)
    assert wait_for(url)[:2] == (200, b"Hello World!\n"), error_log(root)

    os.kill(child.pid, signal.SIGTERM)
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert wait_gone(port)


def test_module_that_cannot_be_imported_is_named(workdir, port, killer):  # noqa: F811
    root = os.path.join(workdir, "root")
    child = spawn_on_tty(["--application-type", "module", "no_such_module_mwe8", "--host", "127.0.0.1",
                          "--port", str(port), "--server-root", root])
    killer(child.pid)
    child.expect(re.escape("Unable to import Python module 'no_such_module_mwe8'."))
    child.expect("ModuleNotFoundError: No module named 'no_such_module_mwe8'")
    block = load_failure_block(error_log(root))
    assert not any("handler.wsgi" in l for l in block), block
    os.kill(child.pid, signal.SIGTERM)
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert wait_gone(port)


def test_debug_mode_500_page_shows_the_load_failure(workdir, port, killer):  # noqa: F811
    root = os.path.join(workdir, "root")
    app = write(os.path.join(workdir, "app.py"), IMPORT_ERROR)
    url = "http://127.0.0.1:%d/" % port
    child = spawn_on_tty([app, "--host", "127.0.0.1", "--port", str(port), "--server-root", root,
                          "--debug-mode"])
    killer(child.pid)
    child.expect("Operating Mode     : debug")
    status, body, headers = wait_for(url)
    assert status == 500, body
    text = body.decode()
    assert text.startswith(first_line(app, False) + "\n"), text
    assert 'File "%s", line 3, in <module>' % app in text, text
    assert "ModuleNotFoundError: No module named 'no_such_module_mwe8'" in text, text
    assert "handler.wsgi" not in text, text
    assert headers["Content-Type"].startswith("text/plain"), headers
    write(app, HELLO)
    assert fetch(url)[:2] == (200, b"Hello World!\n")
    os.kill(child.pid, signal.SIGTERM)
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert wait_gone(port)


def test_without_debug_mode_the_500_page_says_nothing(workdir, port, killer):  # noqa: F811
    root = os.path.join(workdir, "root")
    app = write(os.path.join(workdir, "app.py"), IMPORT_ERROR)
    child = spawn_on_tty([app, "--host", "127.0.0.1", "--port", str(port), "--server-root", root])
    killer(child.pid)
    child.expect("the server keeps running")
    status, body, _ = fetch("http://127.0.0.1:%d/" % port)
    assert status == 500 and b"no_such_module_mwe8" not in body and b"Traceback" not in body, body
    os.kill(child.pid, signal.SIGTERM)
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert wait_gone(port)
