"""The debug-mode family from a terminal, as a developer uses it: --enable-debugger (pdb on a
pseudo-terminal), --debugger-startup, --enable-coverage, --enable-profiler, --enable-recorder,
--enable-gdb. Each implies --debug-mode."""
import glob
import os
import shutil
import signal
import subprocess
import threading
import time

import pexpect
import pytest

from expresslib import EXPRESS, fetch, run, wait_for, write

FAILING = b"""
def helper(n):
    return n * 2

def application(environ, start_response):
    some_local = 'xyzzy-%d' % helper(21)
    if environ['PATH_INFO'] == '/boom':
        raise ValueError('boom')
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [some_local.encode()]
"""


def start_on_tty(workdir, port, args):
    root = os.path.join(workdir, "root")
    child = pexpect.spawn(EXPRESS, ["start-server", "--host", "127.0.0.1", "--port", str(port),
                                    "--server-root", root] + args, timeout=30, encoding="utf-8",
                          cwd=workdir)  # a core gdb may dump when it is killed stays out of the tree
    return child, root, "http://127.0.0.1:%d" % port


def stop(child):
    if child.isalive():
        child.kill(signal.SIGTERM)
        try:
            child.expect(pexpect.EOF, timeout=20)
        except pexpect.TIMEOUT:
            child.kill(signal.SIGKILL)
    child.close(force=True)


def fetch_in_background(url):
    box = {}

    def go():
        try:
            box["response"] = fetch(url, timeout=60)
        except Exception as e:
            box["error"] = e
    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t, box


def test_debugger_post_mortem_on_a_terminal(workdir, port):
    script = write(os.path.join(workdir, "app.py"), FAILING)
    child, root, url = start_on_tty(workdir, port, [script, "--enable-debugger"])
    try:
        wait_for(url + "/")
        t, box = fetch_in_background(url + "/boom")
        child.expect(r"\(Pdb\) ")
        child.sendline("p some_local")
        child.expect("xyzzy-42")
        child.expect(r"\(Pdb\) ")
        child.sendline("c")
        t.join(30)
        assert box.get("response", (None,))[0] == 500, box
        assert wait_for(url + "/")[:2] == (200, b"xyzzy-42")
    finally:
        stop(child)


def test_debugger_startup_sets_breakpoints_for_requests(workdir, port):
    script = write(os.path.join(workdir, "app.py"), FAILING)
    child, root, url = start_on_tty(workdir, port, [script, "--debugger-startup"])
    try:
        child.expect("set breakpoints")
        child.expect(r"\(Pdb\) ")
        child.sendline("b %s:3" % script)  # inside helper()
        child.expect("Breakpoint 1")
        child.expect(r"\(Pdb\) ")
        child.sendline("c")
        t, box = fetch_in_background(url + "/")
        child.expect(r"\(Pdb\) ", timeout=30)
        child.sendline("p n")
        child.expect("21")
        child.expect(r"\(Pdb\) ")
        child.sendline("c")
        t.join(30)
        assert box.get("response", (None, None))[:2] == (200, b"xyzzy-42"), box
    finally:
        stop(child)


def run_and_stop(workdir, port, args, requests):
    """start-server in debug mode (no terminal), some requests, then SIGTERM: the tools write
    their files at exit."""
    root = os.path.join(workdir, "root")
    p = subprocess.Popen([EXPRESS, "start-server", "--host", "127.0.0.1", "--port", str(port),
                          "--server-root", root] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    url = "http://127.0.0.1:%d" % port
    try:
        wait_for(url + "/", proc=p)
        for path, body in requests:
            if body is None:
                fetch(url + path)
            else:
                import urllib.request
                try:
                    urllib.request.urlopen(urllib.request.Request(url + path, data=body), timeout=10).read()
                except urllib.error.HTTPError:
                    pass
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        out = p.communicate(timeout=30)[0]
    return root, out.decode("utf-8", "replace")


def error_log(root):
    try:
        return open(os.path.join(root, "error_log")).read()
    except OSError:
        return ""


def test_coverage_writes_an_html_report(workdir, port):
    # scripts/install-deps installs python3-coverage: a missing one is a failure, not a skip.
    assert subprocess.run(["/usr/bin/python3", "-c", "import coverage"]).returncode == 0, \
        "coverage.py is not installed in the system Python: run make deps (apt-get install python3-coverage)"
    script = write(os.path.join(workdir, "app.py"), FAILING)
    root, out = run_and_stop(workdir, port, [script, "--enable-coverage"], [("/", None)])
    index = os.path.join(root, "htmlcov", "index.html")
    assert os.path.exists(index), out + error_log(root)
    pages = glob.glob(os.path.join(root, "htmlcov", "*app_py.html"))
    assert pages, os.listdir(os.path.join(root, "htmlcov"))
    html = open(pages[0]).read()
    # helper() ran in the request thread: its line is covered ("run"), the /boom line not.
    assert 'class="run"' in html and "helper" in html


def test_profiler_writes_pstats(workdir, port):
    script = write(os.path.join(workdir, "app.py"), FAILING)
    pdir = os.path.join(workdir, "prof")
    root, out = run_and_stop(workdir, port, [script, "--enable-profiler", "--profiler-directory", pdir],
                             [("/", None), ("/", None)])
    files = glob.glob(os.path.join(pdir, "*.pstats"))
    assert len(files) == 1, (os.listdir(pdir) if os.path.isdir(pdir) else None, out, error_log(root))
    import pstats
    stats = pstats.Stats(files[0])
    called = {(os.path.basename(f), name): v[1] for (f, _, name), v in stats.stats.items()}
    assert called.get(("app.py", "helper")) == 3, called  # wait_for's request and two more


def test_recorder_writes_each_request(workdir, port):
    script = write(os.path.join(workdir, "app.py"), FAILING)
    root, out = run_and_stop(workdir, port, [script, "--enable-recorder"],
                             [("/posted", b"request-body-123"), ("/boom", None)])
    archive = os.path.join(root, "archive")
    names = sorted(os.listdir(archive))
    parts = {}
    for n in names:
        key, part = n.rsplit(".", 1)
        parts.setdefault(key, {})[part] = open(os.path.join(archive, n), "rb").read()
    posted = [p for p in parts.values() if b"/posted" in p.get("iheaders", b"")]
    assert posted, names
    p = posted[0]
    assert p["icontent"] == b"request-body-123"
    assert p["oheaders"].startswith(b"200 OK\n") and b"Content-Type: text/plain" in p["oheaders"]
    assert p["ocontent"] == b"xyzzy-42"
    boom = [p for p in parts.values() if b"/boom" in p.get("iheaders", b"")]
    assert boom and b"ValueError: boom" in boom[0]["oaexcept"], names


def test_debug_tools_imply_debug_mode(workdir, hello):
    for flag in ("--enable-debugger", "--debugger-startup", "--enable-profiler", "--enable-recorder", "--enable-coverage"):
        root = os.path.join(workdir, "r" + flag)
        r = run(["setup-server", hello, flag, "--server-root", root])
        assert r.returncode == 0, r.stderr
        assert "-DONE_PROCESS" in open(os.path.join(root, "apachectl")).read(), flag


def test_directory_without_its_tool_is_refused(workdir, hello):
    r = run(["setup-server", hello, "--profiler-directory", "/tmp/x", "--server-root", os.path.join(workdir, "r")])
    assert r.returncode != 0
    assert "--profiler-directory has no effect without --enable-profiler" in r.stderr


@pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed (apt-get install gdb)")
def test_gdb_runs_apache(workdir, port):
    script = write(os.path.join(workdir, "app.py"), FAILING)
    child, root, url = start_on_tty(workdir, port, [script, "--enable-gdb"])
    try:
        # gdb writes a lot to the terminal while it loads symbols: keep reading it.
        deadline = time.time() + 90
        served = None
        while served is None and time.time() < deadline:
            try:
                child.read_nonblocking(100000, timeout=0.3)
            except pexpect.TIMEOUT:
                pass
            try:
                served = fetch(url + "/", timeout=2)
            except OSError:
                pass
        assert served and served[:2] == (200, b"xyzzy-42"), served
        cmds = open(os.path.join(root, "gdb.cmds")).read()
        assert "\nrun " in cmds and "-k start" in cmds
        httpd = int(open(os.path.join(root, "httpd.pid")).read())
        with open("/proc/%d/status" % httpd) as f:
            tracer = [l for l in f if l.startswith("TracerPid:")][0].split()[1]
        with open("/proc/%s/comm" % tracer) as f:
            assert f.read().strip() == "gdb"
    finally:
        stop(child)
        try:
            os.kill(int(open(os.path.join(root, "httpd.pid")).read()), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def test_gdb_executable_must_exist(workdir, hello):
    r = run(["setup-server", hello, "--enable-gdb", "--gdb-executable", "/nonexistent/gdb",
             "--server-root", os.path.join(workdir, "r")])
    assert r.returncode != 0
    assert "--enable-gdb: '/nonexistent/gdb' not found" in r.stderr


def test_coverage_not_installed_is_one_line(workdir, port, hello):
    venv = os.path.join(workdir, "venv")
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    subprocess.run(["chmod", "-R", "a+rX", venv], check=True)
    root = os.path.join(workdir, "root")
    r = subprocess.run([EXPRESS, "start-server", hello, "--enable-coverage", "--python-home", venv,
                        "--host", "127.0.0.1", "--port", str(port), "--server-root", root],
                       capture_output=True, text=True, timeout=60, start_new_session=True)
    assert r.returncode != 0
    lines = [l for l in error_log(root).splitlines() if "--enable-coverage needs coverage.py" in l]
    assert len(lines) == 1 and "pip install coverage" in lines[0], error_log(root)
