"""The developer's and the rarer options against a real Apache: --socket-path, --isatty,
--ignore-activity, --service-script (+ -user/-group/-log-file), --application-type paste,
and the options refused on purpose."""
import os
import re
import subprocess
import time

import pytest

from expresslib import EXPRESS, fetch, run, wait_for, write

PID_APP = b"""
import os
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [str(os.getpid()).encode()]
"""


def test_socket_path_is_another_name_for_socket_prefix(setup_server, workdir, hello):
    prefix = os.path.join(workdir, "sockets", "s")
    os.makedirs(os.path.dirname(prefix))
    sr = setup_server([hello, "--socket-path", prefix])
    with open(os.path.join(sr.root, "httpd.conf")) as f:
        assert "WSGISocketPrefix '%s'" % prefix in f.read()
    assert sr.apachectl("start").returncode == 0
    assert wait_for(sr.url + "/")[:2] == (200, b"Hello World!\n"), sr.error_log()
    assert any(n.startswith("s.") and n.endswith(".sock") for n in os.listdir(os.path.dirname(prefix)))


def test_ignore_activity_requests_do_not_keep_a_daemon_alive(setup_server, workdir):
    script = write(os.path.join(workdir, "app.py"), PID_APP)
    sr = setup_server([script, "--inactivity-timeout", "2", "--ignore-activity", "/health"])
    assert sr.apachectl("start").returncode == 0
    first = wait_for(sr.url + "/")[1]
    # Health checks every 0.3 s for 6 s: they are not activity, so the idle daemon restarts
    # (2 s idle, then the supervisor's next check; a loaded machine gets the rest).
    deadline = time.time() + 6.0
    while time.time() < deadline:
        fetch(sr.url + "/health")
        time.sleep(0.3)
    assert fetch(sr.url + "/")[1] != first, sr.error_log()


def test_other_requests_do_keep_a_daemon_alive(setup_server, workdir):
    script = write(os.path.join(workdir, "app.py"), PID_APP)
    sr = setup_server([script, "--inactivity-timeout", "2", "--ignore-activity", "/health"])
    assert sr.apachectl("start").returncode == 0
    first = wait_for(sr.url + "/")[1]
    deadline = time.time() + 4.0
    while time.time() < deadline:
        assert fetch(sr.url + "/busy")[1] == first
        time.sleep(0.3)


def test_isatty_supervises_apache_without_a_terminal(workdir, port, hello):
    root = os.path.join(workdir, "root")
    args = [EXPRESS, "start-server", hello, "--host", "127.0.0.1", "--port", str(port), "--server-root", root]
    for isatty in (False, True):
        p = subprocess.Popen(args + (["--isatty"] if isatty else []), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for("http://127.0.0.1:%d/" % port, proc=p)
            with open(os.path.join(root, "httpd.pid")) as f:
                httpd = int(f.read().strip())
            if isatty:
                assert httpd != p.pid, "--isatty: Apache is a supervised child, as on a terminal"
            else:
                assert httpd == p.pid, "without a terminal the command becomes Apache (exec)"
        finally:
            os.killpg(p.pid, 15)
            p.wait(timeout=20)
            if isatty:
                try:
                    os.killpg(httpd, 9)
                except OSError:
                    pass
        time.sleep(0.5)


SERVICE = b"""
import os, sys, time
path = os.path.join(os.path.dirname(__file__), 'out', 'service.out')
with open(path, 'w') as f:
    f.write('%d %d\\n' % (os.getpid(), os.getuid()))
print('service started', file=sys.stderr)
while True:
    time.sleep(1)
"""


def test_service_script_runs_in_its_own_daemon_process(setup_server, workdir, hello):
    script = write(os.path.join(workdir, "service.py"), SERVICE)
    os.makedirs(os.path.join(workdir, "out"))
    os.chmod(os.path.join(workdir, "out"), 0o777)  # the service runs as Apache's user
    sr = setup_server([hello, "--service-script", "tick", script, "--service-log-file", "tick", "tick.log"])
    with open(os.path.join(sr.root, "httpd.conf")) as f:
        conf = f.read()
    assert "WSGIDaemonProcess service:tick" in conf and "threads=0" in conf
    assert sr.apachectl("start").returncode == 0
    wait_for(sr.url + "/")
    out = os.path.join(workdir, "out", "service.out")
    deadline = time.time() + 15
    while time.time() < deadline and not os.path.exists(out):
        time.sleep(0.1)
    assert os.path.exists(out), sr.error_log()
    pid, uid = map(int, open(out).read().split())
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        assert b"service:tick" in f.read()
    if os.getuid() == 0:
        assert uid != 0
    deadline = time.time() + 10
    log = os.path.join(sr.root, "tick.log")
    while time.time() < deadline and "service started" not in (open(log).read() if os.path.exists(log) else ""):
        time.sleep(0.1)
    assert "service started" in open(log).read()
    assert "service started" not in sr.error_log()


def test_service_options_name_an_existing_service(workdir, hello):
    script = write(os.path.join(workdir, "service.py"), SERVICE)
    r = run(["setup-server", hello, "--service-script", "tick", script, "--service-user", "tock", "nobody",
             "--server-root", os.path.join(workdir, "r")])
    assert r.returncode != 0
    assert "--service-user tock: there is no --service-script tock" in r.stderr


PASTE_INI = """
[app:main]
paste.app_factory = pasteapp:factory
greeting = Hello from Paste
"""

PASTE_APP = b"""
def factory(global_config, **local):
    def application(environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [local['greeting'].encode()]
    return application
"""


def test_application_type_paste(setup_server, workdir):
    # scripts/install-deps installs python3-pastedeploy: a missing one is a failure, not a skip.
    assert subprocess.run(["/usr/bin/python3", "-c", "import paste.deploy"]).returncode == 0, \
        "PasteDeploy is not installed in the system Python: run make deps (apt-get install python3-pastedeploy)"
    write(os.path.join(workdir, "pasteapp.py"), PASTE_APP)
    ini = write(os.path.join(workdir, "app.ini"), PASTE_INI.encode())
    sr = setup_server(["--application-type", "paste", ini, "--working-directory", workdir])
    assert sr.apachectl("start").returncode == 0
    assert wait_for(sr.url + "/")[:2] == (200, b"Hello from Paste"), sr.error_log()


@pytest.mark.parametrize("option, says", [
    ("--with-php5", "mod_wsgi 6.0 removed it"),
    ("--with-newrelic", "mod_wsgi 6.0 removed the New Relic integration"),
    ("--with-newrelic-agent", "mod_wsgi 6.0 removed the New Relic integration"),
    ("--enable-docs", "the documentation is not bundled"),
    ("--verbose-debugging", "use --log-level debug"),
])
def test_withdrawn_options_are_refused_with_their_reason(workdir, hello, option, says):
    r = run(["setup-server", hello, option, "--server-root", os.path.join(workdir, "r")])
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(re.escape(option) + " is not supported: .*" + re.escape(says), lines[0]), r.stderr
    assert not os.path.exists(os.path.join(workdir, "r"))


def test_setup_server_again_keeps_the_service_log(setup_server, workdir, hello):
    # The first run hands the log to the service's user; running setup-server again (as root)
    # must keep it, not refuse it as "another user's file".
    script = write(os.path.join(workdir, "service.py"), SERVICE)
    args = [hello, "--service-script", "tick", script, "--service-log-file", "tick", "tick.log"]
    sr = setup_server(args)
    log = os.path.join(sr.root, "tick.log")
    with open(log, "a") as f:
        f.write("from the last run\n")
    if os.getuid() == 0:
        assert os.stat(log).st_uid != 0
    sr = setup_server(args)
    assert open(log).read() == "from the last run\n"
    # A link planted under the log's name is not followed.
    os.unlink(log)
    os.symlink("/etc/passwd", log)
    r = run(["setup-server"] + args + ["--server-root", sr.root])
    assert r.returncode != 0 and "tick.log" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_python_executable(setup_server, workdir):
    """--python-executable (ours, issue 29): by default the daemon process runs the Python home's
    own executable; off runs Python from libpython in the process Apache forks."""
    script = write(os.path.join(workdir, "app.py"), PID_APP)
    sr = setup_server([script])
    with open(os.path.join(sr.root, "httpd.conf")) as f:
        assert "python-executable" not in f.read()
    assert sr.apachectl("start").returncode == 0
    pid = int(wait_for(sr.url + "/")[1])
    assert os.path.basename(os.path.realpath("/proc/%d/exe" % pid)).startswith("python3"), sr.error_log()
    sr.stop()
    off = setup_server([script, "--python-executable", "off"], root=os.path.join(workdir, "off"))
    with open(os.path.join(off.root, "httpd.conf")) as f:
        assert "python-executable=off" in f.read()
    assert off.apachectl("start").returncode == 0
    pid = int(wait_for(off.url + "/")[1])
    assert os.path.realpath("/proc/%d/exe" % pid) == os.path.realpath("/proc/%d/exe" % off.pid())
    r = run(["setup-server", script, "--python-executable", "python3", "--server-root", os.path.join(workdir, "bad")])
    assert r.returncode != 0
    assert r.stderr.strip().splitlines() == [
        "mod_wsgi-express: error: --python-executable must be auto, off or the absolute path of a Python "
        "executable, not 'python3'"], r.stderr


def test_python_threads(setup_server, workdir):
    """--python-threads N renders python-threads=N (tests/daemon/test_daemon_python_threads.py
    shows its effect); a number over 1000 is refused in one line."""
    script = write(os.path.join(workdir, "app.py"), PID_APP)
    sr = setup_server([script, "--python-threads", "2"])
    with open(os.path.join(sr.root, "httpd.conf")) as f:
        assert "python-threads=2" in f.read()
    assert sr.apachectl("start").returncode == 0
    assert wait_for(sr.url + "/")[0] == 200, sr.error_log()
    r = run(["setup-server", script, "--python-threads", "1001", "--server-root", os.path.join(workdir, "bad")])
    assert r.returncode != 0
    assert r.stderr.strip().splitlines() == [
        "mod_wsgi-express: error: --python-threads must be from 0 (every thread) to 1000, not 1001"], r.stderr
