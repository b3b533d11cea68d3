#!/usr/bin/python3
"""The size of what a user installs: our command (at most 16 MB, no ICU data), our module and
wheel, beside mod_wsgi's installed package (pip install mod_wsgi, into a venv).

    python3 bench/command_size.py [--ours PATH] [--baseline PATH] [--wheel WHEEL]
                                  [--mod-wsgi-venv VENV] [--work-dir DIR]

--ours: our mod_wsgi-express (default .build/release/mod_wsgi-express); --baseline: another build
of it, printed beside (an older one, say); --wheel: a wheel of ours (default: the newest in dist/);
--mod-wsgi-venv: a venv with mod_wsgi installed (default: the benchmark's,
/var/tmp/mod_wsgi-bench/venv; made in --work-dir with `pip install mod_wsgi==6.1.1` when
missing: that compiles it, so it needs apache2-dev and python3-dev).
Exits 1 when the command is over 16 MB or carries ICU's data.
"""
import argparse
import glob
import os
import subprocess
import sys
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT = 16 * 1000 * 1000
MOD_WSGI = "mod_wsgi==6.1.1"


def mb(n):
    return "%.1f MB" % (n / 1e6)


def has_icu_data(path):
    """ICU's data table (icudt<N>_dat) in the file: what full Foundation brings."""
    with open(path, "rb") as f:
        data = f.read()
    return b"icudt" in data


def installed_size(venv, distribution):
    """Bytes of the files pip installed for `distribution` (its RECORD), and how many."""
    infos = glob.glob(os.path.join(venv, "lib", "python3*", "site-packages", "%s-*.dist-info" % distribution))
    if not infos:
        # Installed with setup.py (mod_wsgi's sdist): its package directory and its command.
        files = [os.path.join(d, f) for top in glob.glob(os.path.join(venv, "lib", "python3*", "site-packages",
                                                                      distribution))
                 for d, _, fs in os.walk(top) for f in fs if "__pycache__" not in d]
        files += glob.glob(os.path.join(venv, "bin", distribution + "-express"))
        return (sum(os.path.getsize(f) for f in files), len(files)) if files else None
    site = os.path.dirname(infos[0])
    total = count = 0
    with open(os.path.join(infos[0], "RECORD")) as f:
        for line in f:
            name = line.rsplit(",", 2)[0]
            p = os.path.normpath(os.path.join(site, name))
            if os.path.isfile(p):
                total += os.path.getsize(p)
                count += 1
    return total, count


def mod_wsgi_venv(given, work_dir):
    if given:
        return given
    default = "/var/tmp/mod_wsgi-bench/venv"
    if installed_size(default, "mod_wsgi"):
        return default
    venv = os.path.join(work_dir, "mod_wsgi-venv")
    if not installed_size(venv, "mod_wsgi"):
        os.makedirs(work_dir, exist_ok=True)
        subprocess.run(["/usr/bin/python3", "-m", "venv", venv], check=True)
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "--disable-pip-version-check", MOD_WSGI],
                       check=True)
    return venv


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ours", default=os.path.join(REPO, ".build", "release", "mod_wsgi-express"))
    ap.add_argument("--baseline")
    ap.add_argument("--wheel")
    ap.add_argument("--mod-wsgi-venv")
    ap.add_argument("--work-dir", default="/var/tmp/mod_wsgi-bench")
    a = ap.parse_args()
    rows = []
    ours = os.path.getsize(a.ours)
    icu = has_icu_data(a.ours)
    rows.append(("ours: mod_wsgi-express", ours, "ICU data: %s" % ("yes" if icu else "none")))
    module = os.path.join(os.path.dirname(a.ours), "libmod_wsgi.so")
    if os.path.isfile(module):
        rows.append(("ours: libmod_wsgi.so", os.path.getsize(module), ""))
    if a.baseline:
        rows.append(("baseline: mod_wsgi-express", os.path.getsize(a.baseline),
                     "ICU data: %s" % ("yes" if has_icu_data(a.baseline) else "none")))
    wheel = a.wheel or max(glob.glob(os.path.join(REPO, "dist", "*.whl")), key=os.path.getmtime, default=None)
    if wheel:
        with zipfile.ZipFile(wheel) as z:
            unpacked = sum(i.file_size for i in z.infolist())
        rows.append(("ours: wheel %s" % os.path.basename(wheel), os.path.getsize(wheel), "installed: %s" % mb(unpacked)))
    venv = mod_wsgi_venv(a.mod_wsgi_venv, a.work_dir)
    size = installed_size(venv, "mod_wsgi")
    if size:
        rows.append(("mod_wsgi (pip, %s): installed package" % venv, size[0], "%d files" % size[1]))
        so = glob.glob(os.path.join(venv, "lib", "python3*", "site-packages", "mod_wsgi", "server", "mod_wsgi*.so"))
        if so:
            rows.append(("mod_wsgi: its module", os.path.getsize(so[0]), ""))
    for name, n, note in rows:
        print("%-70s %10s  %s" % (name, mb(n), note))
    if size:
        print("ours: the command is %.1fx mod_wsgi's installed package" % (ours / size[0]))
    ok = ours <= LIMIT and not icu
    print("the command at most 16 MB with no ICU data: %s" % ("met" if ok else "NOT met"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
