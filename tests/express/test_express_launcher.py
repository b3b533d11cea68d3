"""start-server's launcher: on a terminal it supervises httpd in its own process group and
forwards signals; without one it becomes httpd (exec)."""
import os
import signal
import subprocess
import time

import pexpect
import pytest

from expresslib import EXPRESS, fetch, wait_for, wait_gone, write


def read_pid(root, timeout=10):
    path = os.path.join(root, "httpd.pid")
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(path) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            time.sleep(0.1)
    raise AssertionError("no pid file %s" % path)


def error_log(root):
    try:
        with open(os.path.join(root, "error_log")) as f:
            return f.read()
    except OSError:
        return ""


def spawn_on_tty(args):
    child = pexpect.spawn(EXPRESS, ["start-server"] + args, timeout=30, encoding="utf-8")
    return child


@pytest.fixture
def killer(workdir):
    """Kills what a test leaves running (by pid, never by name): the CLI's process group and,
    on a terminal, httpd's own group (its pid file in the test's server root)."""
    pids = []
    yield pids.append
    roots = [os.path.join(workdir, "root")]
    for root in roots:
        try:
            with open(os.path.join(root, "httpd.pid")) as f:
                pids.append(int(f.read().strip()))
        except (OSError, ValueError):
            pass
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


def test_on_a_terminal_signals_are_forwarded(hello, workdir, port, killer):
    root = os.path.join(workdir, "root")
    url = "http://127.0.0.1:%d/" % port
    child = spawn_on_tty([hello, "--host", "127.0.0.1", "--port", str(port), "--server-root", root])
    killer(child.pid)
    child.expect("Server URL")
    assert wait_for(url)[:2] == (200, b"Hello World!\n"), error_log(root)
    httpd = read_pid(root)
    assert httpd != child.pid, "on a terminal httpd is a child, not the CLI itself"
    assert os.getpgid(httpd) == httpd, "httpd runs in its own process group"

    # A resized terminal never stops the server.
    child.setwinsize(30, 100)
    os.kill(child.pid, signal.SIGWINCH)
    time.sleep(1.0)
    assert child.isalive()
    assert fetch(url)[:2] == (200, b"Hello World!\n")
    assert read_pid(root) == httpd

    # SIGUSR1: graceful restart, still serving, same parent.
    os.kill(child.pid, signal.SIGUSR1)
    deadline = time.time() + 15
    while "graceful restart" not in error_log(root) and time.time() < deadline:
        time.sleep(0.1)
    assert "graceful restart" in error_log(root), error_log(root)
    assert wait_for(url)[:2] == (200, b"Hello World!\n")
    assert child.isalive() and read_pid(root) == httpd

    # Ctrl-C: httpd stops and its exit status is ours.
    child.sendintr()
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus == 0, (child.exitstatus, child.signalstatus)
    assert wait_gone(port)


def test_on_a_terminal_sigterm_stops(hello, workdir, port, killer):
    root = os.path.join(workdir, "root")
    child = spawn_on_tty([hello, "--host", "127.0.0.1", "--port", str(port), "--server-root", root])
    killer(child.pid)
    wait_for("http://127.0.0.1:%d/" % port)
    os.kill(child.pid, signal.SIGTERM)
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus == 0
    assert wait_gone(port)


def test_on_a_terminal_a_failed_start_is_passed_on(hello, workdir, port, killer):
    bad = write(os.path.join(workdir, "bad.conf"), b"ThisIsNotADirective on\n")
    child = spawn_on_tty([hello, "--host", "127.0.0.1", "--port", str(port), "--server-root",
                          os.path.join(workdir, "root"), "--include-file", bad])
    killer(child.pid)
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert child.exitstatus not in (0, None), child.before
    assert "ThisIsNotADirective" in child.before


def test_without_a_terminal_the_process_becomes_httpd(hello, workdir, port, killer):
    root = os.path.join(workdir, "root")
    proc = subprocess.Popen([EXPRESS, "start-server", hello, "--host", "127.0.0.1", "--port", str(port),
                             "--server-root", root], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    killer(proc.pid)
    assert wait_for("http://127.0.0.1:%d/" % port, proc=proc)[:2] == (200, b"Hello World!\n"), error_log(root)
    assert read_pid(root) == proc.pid, "exec: the pid of mod_wsgi-express is httpd's"
    with open("/proc/%d/cmdline" % proc.pid, "rb") as f:
        assert b"mod_wsgi-express" in f.read()  # the process name apachectl gives httpd
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    out = proc.stdout.read().decode()
    assert "Server URL         : http://127.0.0.1:%d/" % port in out
    assert wait_gone(port)


def test_debug_mode_execs_with_one_process(hello, workdir, port, killer):
    root = os.path.join(workdir, "root")
    child = spawn_on_tty([hello, "--host", "127.0.0.1", "--port", str(port), "--server-root", root,
                          "--debug-mode"])
    killer(child.pid)
    child.expect("Operating Mode     : debug")
    assert wait_for("http://127.0.0.1:%d/" % port)[:2] == (200, b"Hello World!\n"), error_log(root)
    assert read_pid(root) == child.pid, "debug mode execs httpd even on a terminal"
    children = subprocess.run(["pgrep", "-P", str(child.pid)], capture_output=True, text=True).stdout.split()
    assert children == [], "-DONE_PROCESS: no child processes"
    os.kill(child.pid, signal.SIGTERM)
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    assert wait_gone(port)
