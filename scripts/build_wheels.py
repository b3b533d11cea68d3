#!/usr/bin/python3
"""Binary wheels of mod_wsgi-express, one per CPython (`make wheels`).

    scripts/build_wheels.py [--dist DIR] [--no-check] [PYTHON ...]

Builds, with the project's PEP 517 backend (python/backend/mod_wsgi_build.py) run by each
Python, a wheel holding the command, the module built for that Python, the templates and the
`mod_wsgi` package, into DIR (default dist/). The Pythons: the ones given, else every CPython
3.9 to 3.13 found (`find_pythons`): Debian's /usr/bin/python3, python3.X in /usr/bin,
/usr/local/bin and /opt/python*/bin, and pyenv's versions. A Python without a shared
libpython (built without --enable-shared) cannot be embedded in Apache: it is listed as
skipped, with that reason.

Each wheel's platform tag is then checked with auditwheel (from PyPI, in a venv under
.build/wheel-tools): the build fails when auditwheel does not find the wheel consistent with
its own tag. The swift build directory is kept in .build/wheels (only the module is rebuilt
for another Python).
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKEND = os.path.join(ROOT, "python", "backend")
BUILD_DIR = os.path.join(ROOT, ".build", "wheels")
TOOLS = os.path.join(ROOT, ".build", "wheel-tools")
VERSIONS = [(3, minor) for minor in range(9, 14)]

INFO = ("import json, sys, sysconfig; print(json.dumps({'version': '%d.%d' % sys.version_info[:2], "
        "'full': sys.version.split()[0], 'implementation': sys.implementation.name, "
        "'shared': bool(sysconfig.get_config_var('Py_ENABLE_SHARED')), 'prefix': sys.base_prefix, "
        "'executable': sys.executable}))")


def python_info(python):
    """What a Python says of itself, or None when it does not run."""
    try:
        r = subprocess.run([python, "-c", INFO], capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)


def candidates():
    found = ["/usr/bin/python3"]
    for major, minor in VERSIONS:
        for d in ["/usr/bin", "/usr/local/bin"] + sorted(glob.glob("/opt/python*/bin")):
            found.append(os.path.join(d, "python%d.%d" % (major, minor)))
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for d in sorted(glob.glob(os.path.join(pyenv, "versions", "*", "bin"))):
        found.append(os.path.join(d, "python3"))
    return found


def find_pythons(given=None, per_version=True):
    """([(python, info)] the CPythons 3.9-3.13 with a shared libpython, the first found of
    each version (Debian's python3 first) unless `per_version` is False; [(python, reason)]
    skipped). Pythons given are all taken, whatever their version."""
    use, skipped, seen = [], [], set()
    for p in (given or candidates()):
        if not os.access(p, os.X_OK):
            if given:
                skipped.append((p, "not an executable"))
            continue
        info = python_info(p)
        if info is None:
            skipped.append((p, "does not run"))
            continue
        key = os.path.realpath(info["executable"])
        if key in seen:
            continue
        seen.add(key)
        major, minor = map(int, info["version"].split("."))
        if info["implementation"] != "cpython":
            skipped.append((p, "%s, not CPython" % info["implementation"]))
        elif (major, minor) not in VERSIONS and not given:
            continue
        elif not info["shared"]:
            skipped.append((p, "Python %s built without --enable-shared: no libpython for Apache to load"
                            % info["full"]))
        elif per_version and any(i["version"] == info["version"] for _, i in use) and not given:
            skipped.append((p, "Python %s: a wheel for %s is built already" % (info["full"], info["version"])))
        else:
            use.append((p, info))
    return use, skipped


def build(python, dist, log=sys.stderr):
    """Builds the wheel of `python` into `dist`; returns its path."""
    os.makedirs(dist, exist_ok=True)
    os.makedirs(BUILD_DIR, exist_ok=True)
    code = ("import sys; sys.path.insert(0, %r); import mod_wsgi_build as b; print(b.build_wheel(%r))"
            % (BACKEND, os.path.abspath(dist)))
    env = dict(os.environ, MOD_WSGI_BUILD_DIR=BUILD_DIR)
    for k in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(k, None)
    r = subprocess.run([python, "-c", code], stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit("wheels: building the wheel of %s failed (output above)" % python)
    return os.path.join(dist, r.stdout.strip().splitlines()[-1])


def auditwheel():
    """auditwheel from PyPI, in a venv of Debian's python3 under .build/wheel-tools."""
    exe = os.path.join(TOOLS, "bin", "auditwheel")
    if not os.access(exe, os.X_OK):
        subprocess.run(["/usr/bin/python3", "-m", "venv", TOOLS], check=True)
        subprocess.run([os.path.join(TOOLS, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
                        "auditwheel"], check=True)
    return exe


def platform_tag(wheel):
    return os.path.basename(wheel)[:-len(".whl")].rsplit("-", 1)[1]


def check(wheel):
    """auditwheel's verdict on the wheel: (the platform tag it finds the wheel consistent with,
    its whole report). The wheel's own tag must be that one."""
    r = subprocess.run([auditwheel(), "show", wheel], capture_output=True, text=True)
    text = " ".join((r.stdout + r.stderr).split())
    m = re.search(r'consistent with the following platform tag: "([^"]+)"', text)
    return (m.group(1) if m else None), r.stdout + r.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pythons", nargs="*", help="Python executables (default: every CPython 3.9-3.13 found)")
    ap.add_argument("--dist", default=os.path.join(ROOT, "dist"))
    ap.add_argument("--no-check", action="store_true", help="skip the auditwheel check")
    a = ap.parse_args()
    use, skipped = find_pythons(a.pythons or None)
    for p, why in skipped:
        print("wheels: skipped %s: %s" % (p, why))
    if not use:
        raise SystemExit("wheels: no CPython with a shared libpython found")
    failed = False
    for python, info in use:
        t = time.monotonic()
        wheel = build(python, a.dist)
        took = time.monotonic() - t
        if a.no_check:
            print("wheels: %s (Python %s, %s) in %.0f s" % (wheel, info["full"], python, took))
            continue
        verdict, report = check(wheel)
        ok = verdict == platform_tag(wheel)
        print("wheels: %s (Python %s, %s) in %.0f s; auditwheel: %s" % (
            wheel, info["full"], python, took, "consistent" if ok else "finds it %s" % verdict))
        if not ok:
            print(report)
            failed = True
    if failed:
        raise SystemExit("wheels: a wheel's platform tag is not the one auditwheel finds (report above)")


if __name__ == "__main__":
    main()
