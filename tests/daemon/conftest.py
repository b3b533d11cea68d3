"""Daemon-mode integration tests: reuse the Apache harness of tests/module (imported, not copied).

The daemon apps (tests/daemon/apps) are copied next to the embedded-mode ones in each server's
temp dir, so @APPS@ reaches both.
"""
import importlib.util
import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "module_harness", os.path.join(HERE, "..", "module", "conftest.py"))
harness = importlib.util.module_from_spec(_spec)
sys.modules["module_harness"] = harness
_spec.loader.exec_module(harness)

DAEMON_APPS = os.path.join(HERE, "apps")
module_file = harness.module_file
pytest_configure = harness.pytest_configure
pytest_report_header = harness.pytest_report_header
pytest_collection_modifyitems = harness.pytest_collection_modifyitems


class DaemonApache(harness.Apache):
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


# tests/module's files do `from conftest import ...`; when both directories run in one pytest
# session, that name may resolve to this file. Re-export the harness so either works.
for _name in dir(harness):
    if not _name.startswith("__") and _name not in globals():
        globals()[_name] = getattr(harness, _name)
