"""PEP 517 build backend of mod_wsgi-express in Swift (`pip install .`, `pip wheel .`).

A wheel is built for the Python running this backend (the one doing the install), the way
mod_wsgi's setup.py builds mod_wsgi.so for its Python:

- `swift build -c release` with PYTHON_CONFIG set to that Python's python3.X-config (its
  headers and libpython) and APXS to the Apache found, in a build directory outside the
  source tree: $MOD_WSGI_BUILD_DIR when set (kept, so rebuilds are incremental, for any
  Python), else a temporary directory removed afterwards;
- the wheel holds the `mod_wsgi-express` executable as a script (installed as-is into the
  environment's bin/), the Apache module as mod_wsgi/server/mod_wsgi-py3X<EXT_SUFFIX>, the
  templates under share/mod_wsgi-express/templates (where the executable looks for them
  beside its bin/), and the pure-Python package `mod_wsgi` (python/mod_wsgi).

A missing prerequisite stops the build with one line saying what to install.
"""
import base64
import fcntl
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile

NAME = "mod_wsgi"
SUMMARY = ("mod_wsgi-express and the mod_wsgi Apache module, written in Swift: "
           "a drop-in for mod_wsgi 4.9 (Apache httpd, WSGI, Django's runmodwsgi)")
REQUIRES_PYTHON = ">=3.8"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# What `swift build` needs from the source tree (it is synchronised into the build directory
# so that SwiftPM writes nothing, not even Package.resolved, into the source tree).
PACKAGE_FILES = ["Package.swift", "Package.resolved"]
PACKAGE_DIRS = ["Sources", "Tests"]


class BuildError(Exception):
    pass


def _fail(message):
    sys.stderr.write("mod_wsgi: error: %s\n" % message)
    sys.stderr.flush()
    raise SystemExit(1)


def version():
    """mod_wsgi's version we are a drop-in for (Features.version), marked as this build."""
    with open(os.path.join(ROOT, "Sources", "ExpressKit", "Features.swift")) as f:
        m = re.search(r'static let version = "([0-9.]+)"', f.read())
    if not m:
        raise BuildError("no version in Sources/ExpressKit/Features.swift")
    return m.group(1) + "+swift"


def _metadata():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\nRequires-Python: %s\n"
            "Description-Content-Type: text/markdown\n\n%s" % (NAME, version(), SUMMARY, REQUIRES_PYTHON, readme))


# --- the Python, Apache and Swift this build uses -------------------------------------------

class Toolchain:
    def __init__(self):
        cv = sysconfig.get_config_var
        if sys.implementation.name != "cpython":
            _fail("mod_wsgi embeds CPython: install it with a CPython, not %s" % sys.implementation.name)
        self.version = cv("VERSION") or "%d.%d" % sys.version_info[:2]
        self.ext_suffix = cv("EXT_SUFFIX") or ".so"
        self.libdir = cv("LIBDIR") or ""
        self.python_config = os.environ.get("PYTHON_CONFIG") or self._python_config(cv("BINDIR") or "")
        include = cv("INCLUDEPY") or ""
        if not self.python_config or not os.access(self.python_config, os.X_OK):
            missing = ("PYTHON_CONFIG=%s is not executable" % os.environ["PYTHON_CONFIG"]
                       if os.environ.get("PYTHON_CONFIG") else "no python%s-config" % self.version)
        elif not os.path.isfile(os.path.join(include, "Python.h")):
            missing = "no %s/Python.h" % include
        else:
            missing = None
        if missing:
            _fail("the development files of Python %s are missing (%s): install them (Debian: apt-get install "
                  "python3-dev), or set PYTHON_CONFIG=/path/to/python%s-config" % (self.version, missing, self.version))
        if not cv("Py_ENABLE_SHARED"):
            _fail("Python %s (%s) was built without a shared libpython, which Apache needs to load it: "
                  "use a Python built with --enable-shared (Debian's python3, or pyenv with "
                  "PYTHON_CONFIGURE_OPTS=--enable-shared)" % (self.version, sys.executable))
        given = os.environ.get("APXS")
        self.apxs = given or shutil.which("apxs") or shutil.which("apxs2")
        if not self.apxs or not os.access(self.apxs, os.X_OK):
            _fail("apxs not found (%s): install Apache's development files (Debian: apt-get install apache2-dev), "
                  "or set APXS=/path/to/apxs" % ("APXS=%s is not executable" % given if given else "not on PATH"))
        given = os.environ.get("SWIFT")
        self.swift = given or shutil.which("swift")
        if not self.swift or not os.access(self.swift, os.X_OK):
            _fail("the Swift toolchain was not found (%s): install Swift 6 from swift.org (for example "
                  "unpacked in /opt/swift, then PATH=/opt/swift/usr/bin:$PATH), or set SWIFT=/path/to/swift"
                  % ("SWIFT=%s is not executable" % given if given else "no `swift` on PATH"))
        abiflags = getattr(sys, "abiflags", "")
        nodot = self.version.replace(".", "")
        platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        self.tag = "cp%s-cp%s%s-%s" % (nodot, nodot, abiflags, platform)
        self.module_name = "mod_wsgi-py%s%s" % (nodot, self.ext_suffix)

    def _python_config(self, bindir):
        # python3.11d-config for a debug build: the one of this very build comes first.
        names = ["python%s%s-config" % (self.version, getattr(sys, "abiflags", "")), "python%s-config" % self.version]
        for name in names:
            for d in (bindir, os.path.dirname(getattr(sys, "_base_executable", sys.executable))):
                p = os.path.join(d, name)
                if d and os.access(p, os.X_OK):
                    return p
        return None

    def linker_flags(self):
        """An rpath to libpython when it is not in a directory the dynamic linker searches
        anyway (pyenv and other builds under a prefix of their own), so that Apache finds it."""
        standard = {"/usr/lib", "/lib", "/usr/lib64", "/lib64", "/usr/local/lib"}
        multiarch = sysconfig.get_config_var("MULTIARCH")
        if multiarch:
            standard |= {"/usr/lib/" + multiarch, "/lib/" + multiarch}
        if not self.libdir or os.path.normpath(self.libdir) in standard:
            return []
        return ["-Xlinker", "-rpath", "-Xlinker", self.libdir]


def _same_content(a, b):
    try:
        if os.path.getsize(a) != os.path.getsize(b):
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            return fa.read() == fb.read()
    except OSError:
        return False


def _sync(src, dst):
    """Makes dst a copy of src, writing only files whose content differs (with a new mtime,
    whatever the source's): unchanged files keep their inode and mtime, so an incremental
    swift build stays incremental, and a changed one is always seen as changed."""
    os.makedirs(dst, exist_ok=True)
    wanted = set(os.listdir(src))
    for name in os.listdir(dst):
        if name not in wanted:
            p = os.path.join(dst, name)
            shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
    for name in wanted:
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s):
            if os.path.exists(d) and not os.path.isdir(d):
                os.unlink(d)
            _sync(s, d)
        else:
            if os.path.isdir(d):
                shutil.rmtree(d)
            if _same_content(s, d):
                continue
            shutil.copyfile(s, d)


def swift_build(tc, scratch):
    """Builds both products in `scratch`; returns the directory holding them."""
    package = os.path.join(scratch, "package")
    os.makedirs(package, exist_ok=True)
    for name in PACKAGE_FILES:
        s, d = os.path.join(ROOT, name), os.path.join(package, name)
        if os.path.isfile(s):
            if not _same_content(s, d):
                shutil.copyfile(s, d)
        elif os.path.exists(d):
            os.unlink(d)
    for name in PACKAGE_DIRS:
        if os.path.isdir(os.path.join(ROOT, name)):
            _sync(os.path.join(ROOT, name), os.path.join(package, name))
    cmd = [tc.swift, "build", "-c", "release", "--package-path", package,
           "--scratch-path", os.path.join(scratch, "build"), "--manifest-cache", "none"] + tc.linker_flags()
    env = dict(os.environ, PYTHON_CONFIG=tc.python_config, APXS=tc.apxs)
    sys.stderr.write("mod_wsgi: building for Python %s (%s) with %s\n" % (tc.version, tc.python_config, " ".join(cmd)))
    sys.stderr.flush()
    r = subprocess.run(cmd, env=env, stdout=sys.stderr, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        _fail("`swift build -c release` failed (exit %d, output above): check that apache2-dev and "
              "python3-dev are installed (Debian: apt-get install apache2-dev python3-dev)" % r.returncode)
    out = os.path.join(scratch, "build", "release")
    for name in ("mod_wsgi-express", "libmod_wsgi.so", "libmod_wsgi-daemon.so"):
        if not os.path.isfile(os.path.join(out, name)):
            _fail("swift build finished but %s is missing in %s" % (name, out))
    return out


# --- wheel and sdist --------------------------------------------------------------------------

class WheelWriter:
    def __init__(self, path):
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self.records = []

    def add(self, arcname, data, mode=0o644):
        info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        self.records.append("%s,sha256=%s,%d" % (arcname, digest, len(data)))

    def add_file(self, arcname, path):
        with open(path, "rb") as f:
            data = f.read()
        self.add(arcname, data, 0o755 if os.access(path, os.X_OK) else 0o644)

    def close(self, record_name):
        self.records.append(record_name + ",,")
        info = zipfile.ZipInfo(record_name, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = (0o100644) << 16
        self.zip.writestr(info, "\n".join(self.records) + "\n", compress_type=zipfile.ZIP_DEFLATED)
        self.zip.close()


def _tree(base):
    """(relative path, absolute path) of the files under base, sorted, no caches."""
    out = []
    for d, dirs, files in os.walk(base):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for f in sorted(files):
            if not f.endswith((".pyc", ".pyo")):
                p = os.path.join(d, f)
                out.append((os.path.relpath(p, base), p))
    return out


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    tc = Toolchain()
    ver = version()
    given = os.environ.get("MOD_WSGI_BUILD_DIR")
    if given:
        scratch = os.path.abspath(given)
        os.makedirs(scratch, exist_ok=True)
    else:
        scratch = tempfile.mkdtemp(prefix="mod_wsgi-build-")
    # One build at a time in a kept directory (it may serve several Pythons in turn: the
    # manifest is evaluated afresh each time, so only the module is rebuilt for another one).
    lock = open(os.path.join(scratch, ".lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        out = swift_build(tc, scratch)
        name = "%s-%s-%s.whl" % (NAME, ver, tc.tag)
        data = "%s-%s.data" % (NAME, ver)
        info = "%s-%s.dist-info" % (NAME, ver)
        tmp = os.path.join(wheel_directory, name + ".part")
        w = WheelWriter(tmp)
        for rel, path in _tree(os.path.join(ROOT, "python", "mod_wsgi")):
            w.add_file("mod_wsgi/" + rel, path)
        w.add_file("mod_wsgi/server/" + tc.module_name, os.path.join(out, "libmod_wsgi.so"))
        # The daemon runtime, beside the module under the module's name with -daemon before the
        # first dot: what a daemon process loads into the application's Python executable.
        stem, dot, rest = tc.module_name.partition(".")
        w.add_file("mod_wsgi/server/%s-daemon%s%s" % (stem, dot, rest), os.path.join(out, "libmod_wsgi-daemon.so"))
        w.add_file(data + "/scripts/mod_wsgi-express", os.path.join(out, "mod_wsgi-express"))
        for rel, path in _tree(os.path.join(ROOT, "templates")):
            w.add_file(data + "/data/share/mod_wsgi-express/templates/" + rel, path)
        w.add(info + "/METADATA", _metadata().encode("utf-8"))
        w.add(info + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: mod_wsgi_build\nRoot-Is-Purelib: false\nTag: %s\n"
                                % tc.tag).encode())
        w.add(info + "/top_level.txt", b"mod_wsgi\n")
        w.close(info + "/RECORD")
        os.replace(tmp, os.path.join(wheel_directory, name))
        return name
    finally:
        lock.close()
        if not given:
            shutil.rmtree(scratch, ignore_errors=True)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def _source_files():
    """The files of a git checkout (tracked and untracked-but-not-ignored), else the tree less builds."""
    try:
        r = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           capture_output=True, check=True)
        files = [f for f in r.stdout.decode().split("\0") if f and os.path.isfile(os.path.join(ROOT, f))]
        if files:
            return sorted(files)
    except (OSError, subprocess.CalledProcessError):
        pass
    out = []
    for d, dirs, names in os.walk(ROOT):
        dirs[:] = [x for x in dirs if not x.startswith((".build", ".git", "__pycache__", ".pytest_cache"))]
        out += [os.path.relpath(os.path.join(d, n), ROOT) for n in names if not n.endswith(".pyc")]
    return sorted(out)


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (NAME, version())
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for rel in _source_files():
            tar.add(os.path.join(ROOT, rel), arcname=base + "/" + rel, recursive=False)
        pkg_info = _metadata().encode("utf-8")
        ti = tarfile.TarInfo(base + "/PKG-INFO")
        ti.size = len(pkg_info)
        ti.mode = 0o644
        tar.addfile(ti, io.BytesIO(pkg_info))
    return name
