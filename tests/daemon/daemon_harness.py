"""Harness of the daemon-mode integration tests: the Apache harness of tests/module (imported,
not copied) with daemon-process helpers.

The daemon apps (tests/daemon/apps) are copied next to the embedded-mode ones in each server's
temp dir, so @APPS@ reaches both.
"""
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "module"))
import apache_harness as harness  # noqa: E402

DAEMON_APPS = os.path.join(HERE, "apps")
module_file = harness.module_file
pytest_configure = harness.pytest_configure
pytest_report_header = harness.pytest_report_header
pytest_collection_modifyitems = harness.pytest_collection_modifyitems


# MOD_WSGI_DAEMON_PYTHON_EXECUTABLE=off (or a path) runs every daemon process group of the
# suite with that python-executable= (`make daemon-test-fork`: the suite in fork mode, Python
# from libpython in the process Apache forks); unset, each group gets the default (auto).
PYTHON_EXECUTABLE = os.environ.get("MOD_WSGI_DAEMON_PYTHON_EXECUTABLE")


class DaemonApache(harness.Apache):
    def subst(self, text):
        text = super().subst(text)
        if PYTHON_EXECUTABLE:
            text = re.sub(r"^(\s*WSGIDaemonProcess\s+\S+)(?![^\n]*python-executable=)",
                          r"\1 python-executable=" + PYTHON_EXECUTABLE, text, flags=re.M)
        return text

    def __init__(self, directives="", **kw):
        super().__init__(directives, **kw)
        shutil.copytree(DAEMON_APPS, self.apps, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        harness._chown_tree(self.dir)
        os.chmod(self.markers, 0o777)

    def daemon_pids(self):
        """Children of the Apache parent that are daemon processes (not MPM children)."""
        out = []
        for pid in self.children():
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmd = f.read()
                with open("/proc/%d/status" % pid) as f:
                    status = f.read()
            except OSError:
                continue
            if b"wsgi:" in cmd or "\nName:\twsgi:" in status:
                out.append(pid)
        return out

    def wait_daemons(self, n, timeout=15.0, exclude=()):
        """Waits until exactly n daemon processes (none of `exclude`) run; returns their pids."""
        import time
        deadline = time.time() + timeout
        while True:
            pids = self.daemon_pids()
            if len(pids) == n and not set(pids) & set(exclude):
                return pids
            if time.time() >= deadline:
                raise AssertionError("expected %d daemon processes, found %r (excluding %r)\n%s"
                                     % (n, pids, exclude, self.log()[-4000:]))
            time.sleep(0.05)

    def socket_files(self):
        return sorted(f for f in os.listdir(self.run) if f.endswith(".sock"))


apache_factory = harness.apache_factory_for(DaemonApache)
