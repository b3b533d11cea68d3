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
  beside its bin/), and the pure-Python package `mod_wsgi` (python/mod_wsgi): see
  `built_files` to add a file the build makes.
- the module is linked without libpython (MOD_WSGI_LINK_LIBPYTHON=0) and without its symbol
  table (MOD_WSGI_STRIP_MODULE=1, as the command is in any release build): the command loads the
  Python of the environment it serves with `LoadFile` before the module, wherever that Python
  is on the machine that installs the wheel. Both are linked with the Swift runtime
  statically, so the wheel needs no Swift, no compiler and no apache2-dev where it is
  installed, and is tagged manylinux_2_X for the newest glibc symbol version its files use
  (`make wheels` checks that tag with auditwheel).

A missing prerequisite stops the build with one line saying what to install; without a
Swift toolchain, that line says to install a wheel instead or Swift 6.
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
        self.swift = self._swift()
        self.version = cv("VERSION") or "%d.%d" % sys.version_info[:2]
        self.ext_suffix = cv("EXT_SUFFIX") or ".so"
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
        abiflags = getattr(sys, "abiflags", "")
        nodot = self.version.replace(".", "")
        self.python_tag = "cp%s-cp%s%s" % (nodot, nodot, abiflags)
        self.arch = sysconfig.get_platform().split("-", 1)[-1].replace("-", "_").replace(".", "_")
        self.module_name = "mod_wsgi-py%s%s" % (nodot, self.ext_suffix)

    @staticmethod
    def _swift():
        """The Swift 6 toolchain, checked first: without it nothing else matters, and the way
        out is a wheel built elsewhere (no compiler needed) or the toolchain."""
        given = os.environ.get("SWIFT")
        swift = given or shutil.which("swift")
        why = None
        if not swift or not os.access(swift, os.X_OK):
            why = "SWIFT=%s is not executable" % given if given else "no `swift` on PATH"
        else:
            try:
                out = run_swift([swift, "--version"], capture_output=True, text=True, timeout=60).stdout
            except (OSError, subprocess.SubprocessError) as e:
                out, why = "", "`%s --version` failed: %s" % (swift, e)
            m = re.search(r"Swift version (\d+)\.(\d+)", out)
            if why is None and not m:
                why = "`%s --version` names no Swift version" % swift
            elif why is None and int(m.group(1)) < 6:
                why = "%s is Swift %s.%s" % (swift, m.group(1), m.group(2))
        if why:
            _fail("building mod_wsgi from source needs the Swift 6 toolchain (%s): install a binary wheel of "
                  "mod_wsgi for this Python instead (`make wheels` builds them, no compiler needed where they "
                  "are installed), or install Swift 6 from swift.org and put its usr/bin on PATH (or set "
                  "SWIFT=/path/to/swift)" % why)
        return swift

    def _python_config(self, bindir):
        # python3.11d-config for a debug build: the one of this very build comes first.
        names = ["python%s%s-config" % (self.version, getattr(sys, "abiflags", "")), "python%s-config" % self.version]
        for name in names:
            for d in (bindir, os.path.dirname(getattr(sys, "_base_executable", sys.executable))):
                p = os.path.join(d, name)
                if d and os.access(p, os.X_OK):
                    return p
        return None


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


def run_swift(cmd, env=None, **kw):
    """Runs the toolchain with a $TMPDIR of its own, removed afterwards: Foundation in the Swift
    driver and in SwiftPM leaves a TemporaryDirectory.XXXXXX in $TMPDIR for each file it writes
    atomically (even `swift --version` does)."""
    tmp = tempfile.mkdtemp(prefix="mod_wsgi-swift-")
    try:
        return subprocess.run(cmd, env=dict(env if env is not None else os.environ, TMPDIR=tmp), **kw)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def swift_build(tc, scratch):
    """Builds every product in `scratch`; returns the directory holding them."""
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
           "--scratch-path", os.path.join(scratch, "build"), "--manifest-cache", "none"]
    env = dict(os.environ, PYTHON_CONFIG=tc.python_config, APXS=tc.apxs, MOD_WSGI_LINK_LIBPYTHON="0",
               MOD_WSGI_STRIP_MODULE="1")
    sys.stderr.write("mod_wsgi: building for Python %s (%s) with %s\n" % (tc.version, tc.python_config, " ".join(cmd)))
    sys.stderr.flush()
    r = run_swift(cmd, env=env, stdout=sys.stderr, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        _fail("`swift build -c release` failed (exit %d, output above): check that apache2-dev and "
              "python3-dev are installed (Debian: apt-get install apache2-dev python3-dev)" % r.returncode)
    out = os.path.join(scratch, "build", "release")
    for name in ("mod_wsgi-express", "libmod_wsgi.so", "libmod_wsgi-daemon.so"):
        if not os.path.isfile(os.path.join(out, name)):
            _fail("swift build finished but %s is missing in %s" % (name, out))
    return out


# --- the platform tag ------------------------------------------------------------------------

# What a manylinux wheel may take from the system (PEP 600; auditwheel's manylinux_2_28+
# policies, less the X11 and GLib libraries): glibc's libraries (not libcrypt, which is
# libxcrypt now), libgcc_s, libstdc++, libatomic, zlib; anything else must be in the wheel.
GLIBC_LIBS = {"libc.so.6", "libm.so.6", "libmvec.so.1", "libpthread.so.0", "libdl.so.2", "librt.so.1",
              "libutil.so.1", "libnsl.so.1", "libresolv.so.2", "libanl.so.1",
              "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}
MANYLINUX_LIBS = GLIBC_LIBS | {"libgcc_s.so.1", "libstdc++.so.6", "libatomic.so.1", "libz.so.1"}


def elf_needs(path):
    """(DT_NEEDED names, {library: {version names}}) of a 64-bit little-endian ELF file: the
    libraries it loads and the symbol versions it wants from each (.gnu.version_r)."""
    import struct
    with open(path, "rb") as f:
        b = f.read()
    if b[:4] != b"\x7fELF" or b[4] != 2 or b[5] != 1:
        raise BuildError("%s is not a 64-bit little-endian ELF file" % path)
    shoff, = struct.unpack_from("<Q", b, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", b, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", b, shoff + i * shentsize) for i in range(shnum)]

    def string(strtab, offset):
        start = sections[strtab][4] + offset
        return b[start:b.index(b"\0", start)].decode()

    needed, versions = [], {}
    for _, sh_type, _, _, offset, size, link, info, _, _ in sections:
        if sh_type == 6:  # SHT_DYNAMIC
            for o in range(offset, offset + size, 16):
                tag, val = struct.unpack_from("<qQ", b, o)
                if tag == 0:
                    break
                if tag == 1:  # DT_NEEDED
                    needed.append(string(link, val))
        elif sh_type == 0x6FFFFFFE:  # SHT_GNU_verneed
            o = offset
            for _ in range(info):
                _, count, file_name, aux, next_need = struct.unpack_from("<HHIII", b, o)
                names = versions.setdefault(string(link, file_name), set())
                a = o + aux
                for _ in range(count):
                    _, _, _, name, next_aux = struct.unpack_from("<IHHII", b, a)
                    names.add(string(link, name))
                    a += next_aux
                o += next_need
    return needed, versions


def platform_tag(paths, arch):
    """manylinux_2_N_<arch> for the newest GLIBC_2.N the files want when they load nothing but
    what manylinux allows, else linux_<arch> (which says nothing about glibc)."""
    newest = 5
    for path in paths:
        needed, versions = elf_needs(path)
        if any(lib not in MANYLINUX_LIBS for lib in needed):
            return "linux_%s" % arch
        for lib, names in versions.items():
            for name in names:
                m = re.match(r"GLIBC_2\.(\d+)", name)
                if m and lib in GLIBC_LIBS:
                    newest = max(newest, int(m.group(1)))
    return "manylinux_2_%d_%s" % (newest, arch)


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


def built_files(tc, out, data):
    """What the Swift build made, as (name in the wheel, file): the Apache module, in the
    `mod_wsgi.server` package as mod_wsgi names it, and the command, installed into bin/. A
    file the build adds (another shared object, say) is one more row; every ELF file listed
    here decides the wheel's platform tag."""
    # The daemon runtime goes beside the module, under the module's name with -daemon before
    # the first dot: what a daemon process loads into the application's Python executable.
    stem, dot, rest = tc.module_name.partition(".")
    return [
        ("mod_wsgi/server/" + tc.module_name, os.path.join(out, "libmod_wsgi.so")),
        ("mod_wsgi/server/%s-daemon%s%s" % (stem, dot, rest), os.path.join(out, "libmod_wsgi-daemon.so")),
        (data + "/scripts/mod_wsgi-express", os.path.join(out, "mod_wsgi-express")),
    ]


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
        data = "%s-%s.data" % (NAME, ver)
        info = "%s-%s.dist-info" % (NAME, ver)
        built = built_files(tc, out, data)
        tag = "%s-%s" % (tc.python_tag, platform_tag([path for _, path in built], tc.arch))
        name = "%s-%s-%s.whl" % (NAME, ver, tag)
        tmp = os.path.join(wheel_directory, name + ".part")
        w = WheelWriter(tmp)
        for rel, path in _tree(os.path.join(ROOT, "python", "mod_wsgi")):
            w.add_file("mod_wsgi/" + rel, path)
        for arcname, path in built:
            w.add_file(arcname, path)
        for rel, path in _tree(os.path.join(ROOT, "templates")):
            w.add_file(data + "/data/share/mod_wsgi-express/templates/" + rel, path)
        w.add(info + "/METADATA", _metadata().encode("utf-8"))
        w.add(info + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: mod_wsgi_build\nRoot-Is-Purelib: false\nTag: %s\n"
                                % tag).encode())
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
