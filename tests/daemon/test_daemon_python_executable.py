"""Issue 29: a daemon process runs the application's Python in its own executable
(python-executable=auto, the default, where that is faster than libpython), and looks to
Apache, to `ps`, to the error log and to the application exactly like one that runs Python
from libpython in the process Apache forked (python-executable=off, as mod_wsgi does).

Each test here fails if the fast path silently falls back: it checks /proc/PID/exe."""
import json
import os
import re
import shutil
import signal
import subprocess
import sysconfig
import tempfile
import time

import pytest

from daemon_harness import harness, PYTHON_EXECUTABLE

VERSION = "%d.%d" % tuple(int(x) for x in sysconfig.get_python_version().split("."))
SYSTEM_PYTHON = os.path.realpath("/usr/bin/python" + VERSION)

pytestmark = pytest.mark.skipif(
    PYTHON_EXECUTABLE is not None, reason="sets python-executable= itself (MOD_WSGI_DAEMON_PYTHON_EXECUTABLE is set)")


def _app(opts="", extra="", group="g"):
    return ("WSGIDaemonProcess %s threads=2 %s\n"
            "WSGIScriptAlias /x @APPS@/pyexec.wsgi process-group=%s application-group=%%{GLOBAL}\n%s"
            % (group, opts, group, extra))


def _info(a, path="/x/"):
    r = a.get(path, timeout=30)
    assert r.status == 200, (r, a.log()[-3000:])
    return r.json()


def _exe(pid):
    return os.path.realpath("/proc/%d/exe" % pid)


def _httpd_binary(a):
    return os.path.realpath("/proc/%d/exe" % a.pid)


def test_default_runs_in_the_python_executable(apache_factory):
    a = apache_factory(_app("display-name=%{GROUP}"))
    info = _info(a)
    assert _exe(info["pid"]) == SYSTEM_PYTHON, (info, a.log()[-3000:])
    assert info["exe"] == SYSTEM_PYTHON
    assert info["ppid"] == a.pid  # the process Apache forked: Apache supervises it
    assert info["pid"] in a.daemon_pids()
    a.wait_log(r"MW2001: .*Daemon process group 'g' runs its Python in the executable /usr/bin/python%s"
               % re.escape(VERSION))


def test_off_runs_python_from_libpython_in_the_forked_process(apache_factory):
    a = apache_factory(_app("python-executable=off display-name=%{GROUP}"))
    info = _info(a)
    assert _exe(info["pid"]) == _httpd_binary(a)
    a.wait_log(r"MW2001: .*'g' runs its Python from libpython in the process Apache forks: python-executable=off")


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_title_and_thread_name_as_a_forked_daemon(apache_factory, mode):
    """display-name=%{GROUP} shows (wsgi:NAME); without display-name, the process shows Apache's
    own command line and name, in both modes."""
    a = apache_factory(_app("python-executable=%s display-name=%%{GROUP}" % mode, group="named")
                       + _app("python-executable=%s" % mode, group="plain").replace("/x ", "/y "))
    named, plain = _info(a, "/x/"), _info(a, "/y/")
    want = SYSTEM_PYTHON if mode == "auto" else _httpd_binary(a)
    assert _exe(named["pid"]) == want and _exe(plain["pid"]) == want
    assert named["cmdline"].rstrip("\0") == "(wsgi:named)"
    assert named["comm"] == "(wsgi:named)"
    with open("/proc/%d/cmdline" % a.pid, "rb") as f:
        parent_cmdline = f.read().decode("latin-1")
    with open("/proc/%d/comm" % a.pid) as f:
        parent_comm = f.read().strip()
    assert plain["cmdline"].rstrip("\0") == parent_cmdline.rstrip("\0")
    assert plain["comm"] == parent_comm


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_python_settings_as_embedded(apache_factory, mode):
    """WSGIPythonOptimize, WSGIDontWriteBytecode, WSGIPythonWarnings and WSGIPythonHashSeed
    reach the executable's Python as they reach embedded Python, which shows the application no
    trace of how it was started (no PYTHONHASHSEED, no '' on sys.path, nothing in __main__)."""
    a = apache_factory(_app("python-executable=%s" % mode, extra=(
        "WSGIPythonOptimize 1\nWSGIDontWriteBytecode On\nWSGIPythonHashSeed 1234\n"
        "WSGIPythonWarnings ignore::DeprecationWarning\n")))
    info = _info(a)
    assert _exe(info["pid"]) == (SYSTEM_PYTHON if mode == "auto" else _httpd_binary(a))
    assert info["optimize"] == 1
    assert info["dont_write_bytecode"] is True
    assert "ignore::DeprecationWarning" in info["warnoptions"]
    expected = subprocess.run(["/usr/bin/python3", "-c", "print(hash('mod_wsgi'))"],
                              env={"PYTHONHASHSEED": "1234"}, capture_output=True, text=True).stdout.strip()
    assert info["hash"] == int(expected)
    assert info["hashseed_env"] is False
    assert info["path0"] != ""
    assert info["main_names"] == []
    assert info["argv"] == ["mod_wsgi"]


def _daemon_line(a, pid, msg_id):
    for line in a.log().splitlines():
        if msg_id in line and re.search(r"\[pid %d:| %d " % (pid, pid), line):
            return line
    raise AssertionError("no %s line of pid %d in\n%s" % (msg_id, pid, a.log()[-3000:]))


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_error_log_lines_as_apache_writes_them(apache_factory, mode):
    a = apache_factory(_app("python-executable=%s" % mode))
    pid = _info(a)["pid"]
    line = _daemon_line(a, pid, "MW1202")
    assert re.match(r"^\[\w{3} \w{3} \d\d \d\d:\d\d:\d\d\.\d{6} \d{4}\] \[wsgi:info\] \[pid %d:tid %d\] "
                    r"MW1202: Starting process 'g'" % (pid, pid), line), line
    # wsgi.errors goes to the same log, with Apache's prefix, the client's address and the
    # script (mod_wsgi 6.x's daemon lines).
    _info(a, "/x/log")
    a.wait_log(r"\[wsgi:error\] \[pid %d:tid \d+\] \[remote 127\.0\.0\.1:\d+\] \[script [^]]+\] "
               r"pyexec wsgi.errors line" % pid)


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_error_log_format_and_level(apache_factory, mode):
    """ErrorLogFormat and LogLevel of the main server apply to the daemon's lines as they apply
    to a forked daemon's (which writes through ap_log_error)."""
    a = apache_factory(_app("python-executable=%s" % mode, extra=(
        'ErrorLogFormat "[%{cu}t] %-l %P %m %7F: %M"\nLogLevel wsgi:info\n')))
    pid = _info(a)["pid"]
    line = _daemon_line(a, pid, "MW1202")
    assert re.match(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\] info %d wsgi MW1202: Starting process" % pid, line), line
    b = apache_factory(_app("python-executable=%s" % mode, extra="LogLevel warn\n"))
    pid = _info(b)["pid"]
    _info(b, "/x/log")
    b.wait_log(r"pyexec wsgi.errors line")
    assert not [l for l in b.log().splitlines() if "MW1202" in l], b.log()


def test_only_the_standard_descriptors_pass_to_programs_the_application_runs(apache_factory):
    """The exec keeps the group's socket, the metrics board and the start record open; once
    running, the runtime makes them close-on-exec again (as a forked daemon has them) and
    closed the rest: nothing of Apache's leaks into the executable or its children."""
    a = apache_factory(_app("", extra="WSGIMetricsURL /metrics\n"))
    pid = _info(a)["pid"]
    assert _exe(pid) == SYSTEM_PYTHON
    fds = _info(a, "/x/fds")
    inherited = {fd: what for fd, (what, cloexec) in fds.items() if int(fd) > 2 and not cloexec}
    assert inherited == {}, fds
    assert any(what.startswith("socket:") for what, _ in fds.values()), fds
    assert any("mod_wsgi-metrics" in what for what, _ in fds.values()), fds


def test_server_metrics_in_the_executable(apache_factory):
    """server-metrics=On: the scoreboard, mapped again after the exec, shows Apache's children."""
    if os.getuid() != 0:
        pytest.skip("the scoreboard is handed over through /proc/self/map_files, which needs root")
    a = apache_factory(_app("server-metrics=On"))
    pid = _info(a)["pid"]
    assert _exe(pid) == SYSTEM_PYTHON, a.log()[-3000:]
    # Apache's children fill their scoreboard slots once they serve.
    deadline = time.time() + 10
    while True:
        m = _info(a, "/x/server_metrics")
        kids = set(a.children()) - set(a.daemon_pids())
        if not m["none"] and set(m["pids"]) & kids:
            break
        assert time.time() < deadline, (m, kids)
        time.sleep(0.2)
    assert m["server_limit"] >= 1 and m["workers"] >= 1


def test_signals_restart_and_stop_leave_nothing(apache_factory):
    a = apache_factory(_app("display-name=%{GROUP}"))
    first = _info(a)["pid"]
    assert _exe(first) == SYSTEM_PYTHON
    os.kill(first, signal.SIGUSR1)  # a graceful restart of the process: the parent replaces it
    a.wait_daemons(1, exclude=(first,))
    second = _info(a)["pid"]
    assert second != first and _exe(second) == SYSTEM_PYTHON
    a.stop()
    deadline = time.time() + 10
    while os.path.exists("/proc/%d" % second) and time.time() < deadline:
        time.sleep(0.05)
    assert not os.path.exists("/proc/%d" % second)
    assert a.socket_files() == []


def _compiler():
    for cc in ("cc", "gcc", "clang"):
        if shutil.which(cc):
            return shutil.which(cc)
    pytest.fail("no C compiler on PATH (the Swift toolchain's clang will do)")


@pytest.fixture
def shared_python():
    """A Python home whose bin/pythonX.Y is an executable linked to libpython (as pyenv's
    --enable-shared builds and the official Docker images are): the system's library
    directory, and a three-line program calling Py_BytesMain."""
    home = tempfile.mkdtemp(prefix="mwt-shared-python-", dir="/tmp")
    os.chmod(home, 0o755)
    try:
        os.makedirs(os.path.join(home, "bin"))
        os.makedirs(os.path.join(home, "lib"))
        os.symlink("/usr/lib/python" + VERSION, os.path.join(home, "lib", "python" + VERSION))
        src = os.path.join(home, "main.c")
        with open(src, "w") as f:
            f.write("#include <Python.h>\nint main(int argc, char **argv) { return Py_BytesMain(argc, argv); }\n")
        cflags = subprocess.run(["/usr/bin/python3-config", "--includes"], capture_output=True, text=True).stdout
        ldflags = subprocess.run(["/usr/bin/python3-config", "--embed", "--ldflags"],
                                 capture_output=True, text=True).stdout
        exe = os.path.join(home, "bin", "python" + VERSION)
        subprocess.run([_compiler(), "-o", exe, src] + cflags.split() + ldflags.split(), check=True)
        os.chmod(exe, 0o755)
        yield home, exe
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_interpreter_linked_to_libpython_keeps_the_fork(apache_factory, shared_python):
    home, exe = shared_python
    libs = subprocess.run(["ldd", exe], capture_output=True, text=True).stdout
    assert "libpython" in libs
    a = apache_factory(_app("python-home=%s" % home))
    info = _info(a)
    assert _exe(info["pid"]) == _httpd_binary(a)
    a.wait_log(r"MW2001: .*'g' runs its Python from libpython in the process Apache forks: %s is itself linked to libpython"
               % re.escape(exe))
    # Asked for by path, it runs there all the same (Python from the libpython it links).
    b = apache_factory(_app("python-home=%s python-executable=%s" % (home, exe)))
    info = _info(b)
    assert _exe(info["pid"]) == os.path.realpath(exe)
    assert info["process_group"] == "g"


def test_the_daemon_runtime_loads_into_the_python_executable(module_file):
    """libmod_wsgi-daemon.so links neither libpython nor httpd nor APR: Python loads it with every
    symbol bound at once (RTLD_NOW), which fails on one that only Apache's binary defines."""
    runtime = os.path.join(os.path.dirname(module_file), "libmod_wsgi-daemon.so")
    undefined = subprocess.run(["nm", "-D", "--undefined-only", runtime], capture_output=True, text=True).stdout
    assert not re.findall(r"\b(?:ap|apr|apu)_\w+", undefined), re.findall(r"\b(?:ap|apr|apu)_\w+", undefined)
    needed = subprocess.run(["readelf", "-d", runtime], capture_output=True, text=True).stdout
    assert "libpython" not in needed, needed
    code = ("import importlib.util as u, os, sys; sys.setdlopenflags(os.RTLD_NOW);"
            "s = u.spec_from_file_location('_mod_wsgi_daemon', %r); m = u.module_from_spec(s);"
            "s.loader.exec_module(m); print(callable(m.run))" % runtime)
    r = subprocess.run([SYSTEM_PYTHON, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "True", r.stderr


def test_an_executable_that_cannot_be_used_is_refused(apache_factory):
    """python-executable=PATH is not replaced by the forked process without a word: Apache does
    not start, and the error log says which group, why and what to do."""
    a = apache_factory(_app("python-executable=/nonexistent/bin/python3"), start=False)
    with pytest.raises(RuntimeError):
        a.start()
    a.wait_log(r"MW2011: Daemon process group 'g' has python-executable=/nonexistent/bin/python3, which cannot "
               r"be used: /nonexistent/bin/python3 is not an executable file \(No such file or directory\); "
               r"install the daemon runtime")
