"""`pip wheel <checkout>` / `pip install`: what the wheel holds, and the installed command
serving from its venv, the module for a system Apache, and the errors for unusable venvs."""
import os
import re
import shutil
import subprocess
import tempfile
import zipfile

import pytest

from piplib import (BUILD_DIR, HELLO, REPO, SYSTEM_PYTHON, Venv, clean_env, free_port, read, readable_dir, run, wait_for,
                    write)


def module_name():
    # The module is named for the Python it is built for, as mod_wsgi names mod_wsgi.so.
    out = subprocess.run([SYSTEM_PYTHON, "-c", "import sys, sysconfig; print('mod_wsgi-py%d%d%s' % ("
                          "sys.version_info[0], sys.version_info[1], sysconfig.get_config_var('EXT_SUFFIX')))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_wheel_holds_the_executable_the_module_the_templates_and_the_package(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        data = [n for n in names if ".data/" in n]
        scripts = [n for n in data if "/scripts/" in n]
        assert [os.path.basename(s) for s in scripts] == ["mod_wsgi-express"]
        # The Swift executable itself, no Python wrapper in front of it, executable.
        with z.open(scripts[0]) as f:
            assert f.read(4) == b"\x7fELF"
        assert (z.getinfo(scripts[0]).external_attr >> 16) & 0o111
        assert "mod_wsgi/server/" + module_name() in names
        stem, dot, rest = module_name().partition(".")
        assert "mod_wsgi/server/%s-daemon%s%s" % (stem, dot, rest) in names  # the daemon runtime (issue 29)
        assert any(n.endswith("/data/share/mod_wsgi-express/templates/httpd.conf.mustache") for n in data)
        for py in ("mod_wsgi/__init__.py", "mod_wsgi/server/__init__.py",
                   "mod_wsgi/server/management/commands/runmodwsgi.py"):
            assert py in names
    # Tagged for the newest glibc its files need (auditwheel agrees: tests/wheels, make wheels).
    assert re.match(r"mod_wsgi-[0-9.]+\+swift-cp3\d+-cp3\d+-manylinux_2_\d+_\w+\.whl$", os.path.basename(wheel))


def test_the_build_writes_nothing_into_the_source_tree(built):
    _, _, before, after = built
    assert after == before


def test_installed_command_serves_with_its_venv_as_python_home(venv, servers, workdir):
    app = write(os.path.join(workdir, "hello.py"), HELLO)
    port = free_port()
    log = os.path.join(workdir, "log")
    # No $VIRTUAL_ENV, no $MOD_WSGI_EXPRESS_TEMPLATES: the command finds all by itself.
    p = servers.start([venv.bin("mod_wsgi-express"), "start-server", app, "--host", "127.0.0.1", "--port", str(port),
                       "--server-root", os.path.join(workdir, "root"), "--log-level", "info"], cwd=workdir, log=log)
    status, body, _ = wait_for("http://127.0.0.1:%d/" % port, proc=p, log=log)
    assert status == 200, body
    prefix, version, modwsgi_version, where = body.decode().split("|")
    assert prefix == venv.path
    assert modwsgi_version == "(4, 9, 4)"  # the module extended the installed mod_wsgi package
    assert where == os.path.join(venv.path, "lib", "python%s" % version.rsplit(".", 1)[0], "site-packages",
                                 "mod_wsgi", "server", module_name())
    assert "Python Home        : %s" % venv.path in read(log)
    # The daemon process runs the venv's own Python executable, loading the runtime the wheel
    # put beside the module (issue 29).
    assert re.search(r"MW2001: .* runs its Python in the executable %s/bin/python3\.\d+:" % re.escape(venv.path),
                     read(os.path.join(workdir, "root", "error_log"))), read(os.path.join(workdir, "root", "error_log"))


def test_module_location_is_the_installed_module(venv):
    r = run([venv.bin("mod_wsgi-express"), "module-location"])
    assert r.returncode == 0, r.stderr
    path = r.stdout.strip()
    assert path.startswith(venv.path + "/lib/") and path.endswith("/mod_wsgi/server/" + module_name())
    r2 = run([venv.python, "-c", "import mod_wsgi.server; print(mod_wsgi.server.where())"])
    assert r2.stdout.strip() == path


def test_module_config_loads_in_a_hand_written_httpd_conf(venv, workdir):
    r = run([venv.bin("mod_wsgi-express"), "module-config"], cwd="/")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    # The wheel's module links no libpython: the venv's Python is loaded first, as mod_wsgi
    # 6's module-config does where it must.
    assert lines[0] == 'LoadFile "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"', lines
    assert lines[1].startswith("LoadModule wsgi_module ") and module_name() in lines[1]
    assert lines[2] == 'WSGIPythonHome "%s"' % venv.path
    app = write(os.path.join(workdir, "hello.py"), HELLO)
    port = free_port()
    conf = write(os.path.join(workdir, "httpd.conf"), """
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
{module_config}
ServerRoot "{d}"
DefaultRuntimeDir "{d}"
PidFile "{d}/httpd.pid"
Mutex file:{d} default
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
User www-data
Group www-data
ErrorLog "{d}/error_log"
WSGIScriptAlias / "{app}"
<Directory "{d}">
    Require all granted
</Directory>
""".format(module_config=r.stdout, d=workdir, port=port, app=app))
    started = subprocess.run(["setsid", "/usr/sbin/apache2", "-f", conf, "-k", "start"], capture_output=True,
                             text=True, timeout=60, env=clean_env())
    try:
        assert started.returncode == 0, started.stderr
        status, body, _ = wait_for("http://127.0.0.1:%d/" % port, log=os.path.join(workdir, "error_log"))
        assert status == 200, read(os.path.join(workdir, "error_log"))[-3000:]
        assert body.decode().split("|")[0] == venv.path
    finally:
        subprocess.run(["/usr/sbin/apache2", "-f", conf, "-k", "stop"], capture_output=True, timeout=60)
        for _ in range(100):
            if not os.path.exists(os.path.join(workdir, "httpd.pid")):
                break
            subprocess.run(["sleep", "0.1"])


def test_install_module_copies_the_installed_module(venv, workdir):
    modules = os.path.join(workdir, "modules")
    os.mkdir(modules)
    r = run([venv.bin("mod_wsgi-express"), "install-module", "--modules-directory", modules])
    assert r.returncode == 0, r.stderr
    # The module as mod_wsgi names it there (mod_wsgi-py311.so), and beside it the daemon
    # runtime a daemon process loads into the application's Python executable (issue 29), named
    # as the module finds it: -daemon before the first dot.
    loc = run([venv.bin("mod_wsgi-express"), "module-location"]).stdout.strip()
    assert not os.path.basename(loc).split(".", 1)[0].endswith("-daemon"), loc
    stem, dot, rest = os.path.basename(loc).partition(".")
    runtime = os.path.join(os.path.dirname(loc), stem + "-daemon" + dot + rest)
    assert sorted(os.listdir(modules)) == ["mod_wsgi-py311-daemon.so", "mod_wsgi-py311.so"]
    for name, source in (("mod_wsgi-py311.so", loc), ("mod_wsgi-py311-daemon.so", runtime)):
        with open(os.path.join(modules, name), "rb") as a:
            with open(source, "rb") as b:
                assert a.read() == b.read(), name
    assert 'LoadFile "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"' in r.stdout
    assert 'WSGIPythonHome "%s"' % venv.path in r.stdout


def refused_setup(venv, wheel, where):
    """Installs the wheel in `venv` and runs its setup-server for a hello app in `where`, which
    must fail with exit status 1 and one line: that line."""
    venv.pip("install", "-q", "--no-deps", wheel)
    app = write(os.path.join(where, "hello.py"), HELLO)
    r = run([venv.bin("mod_wsgi-express"), "setup-server", app, "--server-root", os.path.join(where, "root")])
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_venv_the_apache_user_cannot_read_is_refused_in_one_line(wheel, workdir):
    # A directory of mode 0700 (like a home directory under /root); the application is readable.
    private = tempfile.mkdtemp(prefix="mwe-pip-private-")
    try:
        line = refused_setup(Venv.create(os.path.join(private, "venv")), wheel, workdir)
        assert "the Python home" in line and "not readable by user 'www-data'" in line and "--user" in line
    finally:
        shutil.rmtree(private, ignore_errors=True)


def unreadable_python(parent):
    """A Python installed in `parent`/python, a directory of mode 0700 (a home directory, say):
    Debian's python3.11 executable copied into its bin/, its standard library and libpython
    linked into its lib/ (Python finds its prefix from where its executable is)."""
    base = os.path.join(parent, "python")
    os.makedirs(os.path.join(base, "bin"))
    os.makedirs(os.path.join(base, "lib"))
    real = os.path.realpath(SYSTEM_PYTHON)
    shutil.copy2(real, os.path.join(base, "bin", os.path.basename(real)))
    os.symlink("/usr/lib/" + os.path.basename(real), os.path.join(base, "lib", os.path.basename(real)))
    os.symlink("/usr/lib/x86_64-linux-gnu", os.path.join(base, "lib", "x86_64-linux-gnu"))
    os.chmod(base, 0o700)
    return base, os.path.join(base, "bin", os.path.basename(real))


def test_venv_of_a_python_the_apache_user_cannot_read_is_refused_in_one_line(wheel):
    # A readable venv made from a Python in a directory Apache's user cannot enter: the venv's
    # base installation, where the standard library is, is what www-data cannot read. The
    # test makes that directory itself (mode 0700) rather than trusting /root to be one.
    d = readable_dir("mwe-pip-unreadable-")
    try:
        base, python = unreadable_python(d)
        r = subprocess.run(["runuser", "-u", "www-data", "--", "test", "-r", os.path.join(base, "bin")])
        assert r.returncode != 0, "the premise: www-data cannot read %s" % base
        v = Venv.create(os.path.join(d, "venv"), python=python)
        assert "home = %s/bin" % base in read(os.path.join(v.path, "pyvenv.cfg"))
        line = refused_setup(v, wheel, d)
        assert "the virtual environment '%s/venv' is made from" % d in line
        assert "'%s' (mode 0700) is not readable by user 'www-data'" % base in line
    finally:
        shutil.rmtree(d, ignore_errors=True)


WHO = b"""
import sys
def application(environ, start_response):
    import mod_wsgi.server
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [('|'.join([sys.prefix, sys.version, sys.abiflags, mod_wsgi.server.where()])).encode()]
"""
WHO_CLI = "import sys, mod_wsgi.server; print('|'.join([sys.prefix, sys.version, sys.abiflags, mod_wsgi.server.where()]))"


def other_python_build():
    """Another CPython build than Debian's python3 (a debug build python3.Xd, or one under
    /usr/local or /opt) whose files www-data can read, or None."""
    candidates = []
    for minor in range(8, 15):
        candidates += ["/usr/bin/python3.%dd" % minor, "/usr/local/bin/python3.%d" % minor,
                       "/opt/python/bin/python3.%d" % minor]
    system = os.path.realpath(SYSTEM_PYTHON)
    for c in candidates:
        if not os.access(c, os.X_OK) or os.path.realpath(c) == system:
            continue
        if subprocess.run(["runuser", "-u", "www-data", "--", c, "-c", "import encodings, ensurepip"],
                          capture_output=True).returncode == 0:
            return c
    return None


def test_two_python_builds_side_by_side(venv, servers, workdir):
    other = other_python_build()
    if other is None:
        pytest.skip("no second Python build readable by www-data here (pyenv's are under /root, mode 0700; "
                    "Debian's python3.11-dbg would do): see the one-line refusal tests above")
    second = Venv.create(os.path.join(workdir, "venv2"), python=other)
    wheels = os.path.join(workdir, "wheels")
    second.pip("wheel", "--no-deps", "-w", wheels, REPO, env=clean_env(MOD_WSGI_BUILD_DIR=BUILD_DIR))
    second.pip("install", "--no-deps", os.path.join(wheels, os.listdir(wheels)[0]))
    app = write(os.path.join(workdir, "who.py"), WHO)
    served = {}
    for v in (venv, second):
        port = free_port()
        log = os.path.join(workdir, "log-%d" % port)
        p = servers.start([v.bin("mod_wsgi-express"), "start-server", app, "--host", "127.0.0.1", "--port", str(port),
                           "--server-root", os.path.join(workdir, "root-%d" % port)], cwd=workdir, log=log)
        status, body, _ = wait_for("http://127.0.0.1:%d/" % port, proc=p, log=log)
        assert status == 200, body
        # What the venv's own python says: its prefix, its build, its module.
        assert body.decode() == run([v.python, "-c", WHO_CLI]).stdout.strip()
        served[v.path] = body.decode().split("|")
    assert served[venv.path][0] == venv.path and served[second.path][0] == second.path
    assert served[venv.path][3] != served[second.path][3]  # each its own module
    assert served[venv.path][1:3] != served[second.path][1:3]  # two different Python builds


def test_an_sdist_made_by_python_m_build_installs_from_source(workdir):
    # `python -m build --sdist` (build from PyPI), then `pip install <sdist>`: pip runs the
    # backend on the unpacked sdist, which builds with the toolchain of this machine.
    tools = Venv.create(os.path.join(workdir, "tools"))
    tools.pip("install", "-q", "build")
    sdists = os.path.join(workdir, "sdist")
    r = run([tools.python, "-m", "build", "--sdist", "--outdir", sdists, REPO], timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    names = os.listdir(sdists)
    assert len(names) == 1 and re.match(r"mod_wsgi-[0-9.]+\+swift\.tar\.gz$", names[0]), names
    import tarfile
    with tarfile.open(os.path.join(sdists, names[0])) as t:
        members = [m.split("/", 1)[1] for m in t.getnames() if "/" in m]
    for needed in ("Package.swift", "pyproject.toml", "python/backend/mod_wsgi_build.py", "Sources/ModWSGI",
                   "templates/httpd.conf.mustache", "PKG-INFO"):
        assert any(m == needed or m.startswith(needed + "/") for m in members), needed
    assert not any(m.startswith(".build") for m in members)
    v = Venv.create(os.path.join(workdir, "venv"))
    v.pip("install", "--no-deps", os.path.join(sdists, names[0]), env=clean_env(MOD_WSGI_BUILD_DIR=BUILD_DIR))
    r = run([v.bin("mod_wsgi-express"), "module-location"])
    assert r.returncode == 0 and r.stdout.strip().endswith("/mod_wsgi/server/" + module_name()), r.stderr
    app = write(os.path.join(workdir, "hello.py"), HELLO)
    r = run([v.bin("mod_wsgi-express"), "setup-server", app, "--server-root", os.path.join(workdir, "root")])
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("env, message", [
    ({"PATH": "/usr/bin:/bin"}, "building mod_wsgi from source needs the Swift 6 toolchain (no `swift` on PATH): "
                                "install a binary wheel of mod_wsgi for this Python instead"),
    ({"SWIFT": "/bin/true"}, "building mod_wsgi from source needs the Swift 6 toolchain (`/bin/true --version` "
                             "names no Swift version)"),
    ({"APXS": "/nonexistent/apxs"}, "apxs not found (APXS=/nonexistent/apxs is not executable): install Apache's "
                                    "development files (Debian: apt-get install apache2-dev)"),
    ({"PYTHON_CONFIG": "/nonexistent/python3-config"}, "(PYTHON_CONFIG=/nonexistent/python3-config is not "
                                                       "executable): install them (Debian: apt-get install python3-dev)"),
])
def test_a_missing_prerequisite_stops_the_build_in_one_line(venv, workdir, env, message):
    r = run([venv.python, "-m", "pip", "--disable-pip-version-check", "wheel", "--no-deps", "-w", workdir, REPO],
            env=clean_env(**env), timeout=300)
    assert r.returncode != 0
    lines = [l.strip() for l in (r.stdout + r.stderr).splitlines() if "mod_wsgi: error:" in l]
    assert len(lines) == 1 and message in lines[0], r.stdout + r.stderr
    assert not os.listdir(workdir)
