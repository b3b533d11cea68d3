"""mod_wsgi-express (in Swift) installed with pip, seen from Python.

- where(): the Apache module built for this Python, as mod_wsgi.server.where() gives it;
- executable(): the `mod_wsgi-express` command installed with it;
- main(): runs that command with sys.argv (what mod_wsgi's `mod_wsgi.server:main` is);
- 'mod_wsgi.server' in Django's INSTALLED_APPS adds `python manage.py runmodwsgi`.

This package is also imported inside Apache (the module extends the `mod_wsgi` package):
keep it free of imports that cost time or have side effects.
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def where():
    """The absolute path of the Apache module (mod_wsgi-py3X<EXT_SUFFIX>) for this Python."""
    import sysconfig
    name = "mod_wsgi-py%d%d%s" % (sys.version_info[0], sys.version_info[1], sysconfig.get_config_var("EXT_SUFFIX"))
    path = os.path.join(_HERE, name)
    if os.path.exists(path):
        return path
    # Not the daemon runtime beside it (mod_wsgi-py311-daemon.cpython-...so), which sorts first.
    found = sorted(f for f in os.listdir(_HERE) if f.startswith("mod_wsgi-py") and f.endswith(".so")
                   and not f.split(".", 1)[0].endswith("-daemon"))
    if found:
        return os.path.join(_HERE, found[0])
    raise RuntimeError("the mod_wsgi Apache module is not installed in %s: reinstall with `pip install`" % _HERE)


def executable():
    """The installed `mod_wsgi-express`: <prefix>/bin beside <prefix>/lib/pythonX.Y/site-packages
    (where the executable itself looks for this package), else the first on PATH."""
    prefix = os.path.normpath(os.path.join(_HERE, "..", "..", "..", "..", ".."))
    path = os.path.join(prefix, "bin", "mod_wsgi-express")
    if os.access(path, os.X_OK):
        return path
    import shutil
    path = shutil.which("mod_wsgi-express")
    if path:
        return path
    raise RuntimeError("mod_wsgi-express is not installed beside %s nor on PATH: reinstall with `pip install`" % _HERE)


def main():
    """Runs mod_wsgi-express with this process's arguments (it replaces this process)."""
    exe = executable()
    os.execv(exe, [exe] + sys.argv[1:])
