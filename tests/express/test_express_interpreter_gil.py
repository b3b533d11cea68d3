"""WSGIPerInterpreterGIL and <WSGIInterpreterOptions> for real: two application groups of one
daemon process running CPU-bound Python at the same time, against a real Apache.

A GIL per interpreter needs CPython 3.12+; Debian 12's Python is 3.11. The module is built a
second time (once per session, in <repo>/.build-py3.X, incremental like .build) against a
CPython 3.12+ with a shared libpython found on the machine (a pyenv one, or python3.1X-config
under /usr or /usr/local). A pyenv Python lives under /root, which Apache's user cannot read:
it is bind-mounted read-only at a path of this checkout's under /var/tmp for the session, and
unmounted after. Without such a Python the tests are skipped, saying so: apt cannot provide one
on Debian 12, so a fresh CI machine skips them.
"""
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import pytest

from expresslib import REPO, fetch, wait_for, write

sys.path.insert(0, os.path.join(REPO, "python", "backend"))
from mod_wsgi_build import run_swift  # noqa: E402  (the toolchain with a $TMPDIR of its own)


def find_python():
    """(prefix, X.Y) of a CPython 3.12+ with the GIL and a shared libpython, or (None, why)."""
    candidates = sorted(glob.glob("/root/.pyenv/versions/3.*"), reverse=True)
    candidates += ["/usr/local", "/usr"]
    for prefix in candidates:
        for config in sorted(glob.glob(os.path.join(prefix, "bin", "python3.1[2-9]-config")), reverse=True):
            version = re.search(r"python(3\.\d+)-config$", config).group(1)
            libs = glob.glob(os.path.join(prefix, "lib", "libpython%s.so*" % version))
            libs += glob.glob(os.path.join(prefix, "lib", "*-linux-gnu", "libpython%s.so*" % version))
            if libs and os.path.isdir(os.path.join(prefix, "lib", "python%s" % version)):
                return prefix, version
    return None, ("WSGIPerInterpreterGIL needs the module built against CPython 3.12+ with a shared libpython, "
                  "and this machine has none (looked for bin/python3.12+-config with lib/libpython3.X.so under "
                  "/root/.pyenv/versions/*, /usr/local and /usr). Debian 12's apt has only Python 3.11, so a "
                  "fresh CI machine cannot provide one; install one with --enable-shared (e.g. "
                  "PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install 3.12) to run these tests.")


def readable_by_others(path):
    while path not in ("/", ""):
        if not os.stat(path).st_mode & 0o005:
            return False
        path = os.path.dirname(path)
    return True


@pytest.fixture(scope="session")
def gil_module():
    """The module built against CPython 3.12+: (path of libmod_wsgi.so, Python X.Y)."""
    prefix, version = find_python()
    if prefix is None:
        pytest.skip(version)
    mount = None
    home = prefix
    if not readable_by_others(prefix):
        # A path of this checkout's, the same every session: the build's run path names it.
        key = hashlib.sha1(REPO.encode()).hexdigest()[:10]
        base = "/var/tmp/mwx-py-%s" % key
        mount = os.path.join(base, "python%s" % version)
        os.makedirs(mount, exist_ok=True)
        os.chmod(base, 0o755)
        subprocess.run(["umount", mount], capture_output=True)  # left by a killed session
        r = subprocess.run(["mount", "--bind", "-o", "ro", prefix, mount], capture_output=True, text=True)
        if r.returncode != 0:
            os.rmdir(mount)
            os.rmdir(base)
            pytest.skip("CPython %s at %s is not readable by Apache's user and could not be bind-mounted "
                        "elsewhere (%s)" % (version, prefix, r.stderr.strip()))
        home = mount
    try:
        scratch = os.path.join(REPO, ".build-py%s" % version)
        t0 = time.time()
        r = run_swift(
            ["swift", "build", "-c", "release", "--scratch-path", scratch, "--manifest-cache", "local",
             "--no-color-diagnostics", "--product", "mod_wsgi"],
            cwd=REPO, capture_output=True, text=True, timeout=1800,
            env=dict(os.environ, PYTHON_CONFIG=os.path.join(home, "bin", "python%s-config" % version)))
        assert r.returncode == 0, "building the module against Python %s failed:\n%s" % (version,
                                                                                          (r.stdout + r.stderr)[-4000:])
        print("\nmodule built against Python %s (%s) in %.0f s" % (version, home, time.time() - t0))
        yield os.path.join(scratch, "release", "libmod_wsgi.so"), version
    finally:
        if mount:
            # Remove the directories only once nothing is mounted there (never through the mount).
            if subprocess.run(["umount", mount], capture_output=True).returncode == 0:
                os.rmdir(mount)
                os.rmdir(os.path.dirname(mount))


SPIN = b"""
import io, json, os, sys, time
import mod_wsgi

def application(environ, start_response):
    q = dict(p.split('=', 1) for p in environ.get('QUERY_STRING', '').split('&') if '=' in p)
    out = {'group': mod_wsgi.application_group, 'pid': os.getpid(), 'switch': sys.getswitchinterval()}
    if environ['PATH_INFO'].endswith('/ext'):
        # mod_wsgi's caveat: an interpreter with its own GIL imports only C extensions that
        # declare they support it (PEP 489 multi-phase init with Py_mod_multiple_interpreters).
        try:
            import _testsinglephase  # noqa: F401
            out['singlephase'] = 'imported'
        except ImportError as e:
            out['singlephase'] = 'ImportError: %s' % e
        import _testmultiphase  # noqa: F401
        out['multiphase'] = 'imported'
    elif environ['PATH_INFO'].endswith('/busy'):
        # The module's shared counters and its types (file_wrapper, wsgi.input, start_response)
        # from both interpreters at once.
        metrics = mod_wsgi.process_metrics()
        environ['wsgi.input'].read()
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return environ['wsgi.file_wrapper'](io.BytesIO(b'%d' % metrics['request_count']))
    elif 'barrier' in q:
        # Both requests meet here first (sleeping: no GIL held), then each runs pure Python for
        # 1.5 s and says when: with one GIL and a 10 s switch interval, the second cannot run a
        # line until the first ends.
        open(os.path.join(q['barrier'], out['group']), 'w').close()
        deadline = time.monotonic() + 30
        while len(os.listdir(q['barrier'])) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        cpu, start = time.thread_time(), time.monotonic()
        loops = 0
        while time.monotonic() - start < 1.5:
            loops += 1
        out.update(start=start, end=time.monotonic(), cpu=time.thread_time() - cpu, loops=loops)
    body = json.dumps(out).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
"""

DISPATCH = b"""
def application_group(environ):
    return 'beta' if environ['REQUEST_URI'].startswith('/beta') else 'alpha'
"""

# The GIL settings of each case, and what each application group must then see: its own GIL
# or not, and its switch interval (10 s for the process; 0.007 s for beta's block, which only
# an interpreter with a GIL of its own can take without changing everyone's).
CASES = {
    "on": ("WSGIPerInterpreterGIL On\n", {"alpha": (True, 10.0), "beta": (True, 0.007)}),
    "off": ("WSGIPerInterpreterGIL Off\n", {"alpha": (False, 10.0), "beta": (False, 10.0)}),
    "block": ("<WSGIInterpreterOptions application-group=beta>\nWSGIPerInterpreterGIL On\n"
              "</WSGIInterpreterOptions>\n", {"alpha": (False, 10.0), "beta": (True, 0.007)}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_per_interpreter_gil(gil_module, setup_server, workdir, case):
    module, version = gil_module
    gil_conf, expected = CASES[case]
    app = write(os.path.join(workdir, "spin.py"), SPIN)
    dispatch = write(os.path.join(workdir, "dispatch.py"), DISPATCH)
    inc = write(os.path.join(workdir, "gil.conf"), (
        "WSGIDispatchScript %s\nWSGISwitchInterval 10\n%s"
        "<WSGIInterpreterOptions application-group=beta>\nWSGISwitchInterval 0.007\n</WSGIInterpreterOptions>\n"
        % (dispatch, gil_conf)).encode())
    sr = setup_server([app, "--processes", "1", "--threads", "4", "--include-file", inc, "--log-level", "info"],
                      env=dict(os.environ, MOD_WSGI_MODULE=module))
    assert "Python Home        : " in sr.result.stdout and version in sr.result.stdout, sr.result.stdout
    started = sr.apachectl("start")
    assert started.returncode == 0, started.stderr + sr.error_log()
    wait_for(sr.url + "/alpha/ext")
    for group, (own, switch) in expected.items():
        seen = json.loads(fetch(sr.url + "/%s/ext" % group)[1])
        assert seen["group"] == group
        assert abs(seen["switch"] - switch) < 1e-9, (case, seen)
        assert seen["multiphase"] == "imported"
        if own:
            assert seen["singlephase"] == ("ImportError: module _testsinglephase does not support loading in "
                                           "subinterpreters"), seen
        else:
            assert seen["singlephase"] == "imported", seen
    log = sr.error_log()
    for group, (own, _) in expected.items():
        assert ("Create interpreter '%s' with its own GIL." % group in log) == own, log
    if not expected["beta"][0]:
        assert "Skipping per-interpreter switch interval 0.007s for interpreter 'beta'" in log
    # Many short requests to both groups at once: served, and the process survives them.
    codes = []

    def busy(i):
        for k in range(40):
            group = "alpha" if (i + k) % 2 else "beta"
            req = urllib.request.Request("%s/%s/busy" % (sr.url, group), data=b"x" * 100)
            with urllib.request.urlopen(req, timeout=30) as resp:
                codes.append((resp.status, int(resp.read())))

    workers = [threading.Thread(target=busy, args=(i,)) for i in range(6)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert len(codes) == 240 and {c for c, _ in codes} == {200}
    log = sr.error_log()
    assert "exit signal" not in log and "Fatal Python error" not in log, log[-3000:]
    # The two groups' CPU-bound loops at the same time.
    barrier = tempfile.mkdtemp(prefix="mwe-gil-", dir="/tmp")
    os.chmod(barrier, 0o777)
    results = {}
    try:
        def spin(group):
            url = "%s/%s/spin?barrier=%s" % (sr.url, group, barrier)
            results[group] = json.loads(urllib.request.urlopen(url, timeout=60).read())

        threads = [threading.Thread(target=spin, args=(g,)) for g in ("alpha", "beta")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        shutil.rmtree(barrier, ignore_errors=True)
    a, b = results["alpha"], results["beta"]
    assert a["pid"] == b["pid"]
    overlap = min(a["end"], b["end"]) - max(a["start"], b["start"])
    wall = max(a["end"], b["end"]) - min(a["start"], b["start"])
    ratio = (a["cpu"] + b["cpu"]) / wall
    print("\n%s: loops overlapped %.2f s of %.2f s; threads' CPU time / wall time %.2f (load %.1f)"
          % (case, overlap, wall, ratio, os.getloadavg()[0]))
    if expected["alpha"][0] or expected["beta"][0]:
        # Different GILs: both loops ran all along, side by side.
        assert overlap > 1.2, (overlap, a, b)
    else:
        # One GIL: one loop after the other.
        assert overlap < 0.05 and wall > 2.9, (overlap, a, b)
