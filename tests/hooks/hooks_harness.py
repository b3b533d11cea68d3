"""Harness of the access / auth / dispatch / trusted-proxy hook tests: the Apache harness of
tests/module (imported, not copied), with this directory's scripts copied next to its apps so
@APPS@ reaches both."""
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "module"))
import apache_harness as harness  # noqa: E402

HOOK_APPS = os.path.join(HERE, "apps")
module_file = harness.module_file
pytest_configure = harness.pytest_configure
pytest_report_header = harness.pytest_report_header
pytest_collection_modifyitems = harness.pytest_collection_modifyitems
AUTH_MODULES = ("authn_core", "auth_basic", "auth_digest", "authz_user")


class HooksApache(harness.Apache):
    def __init__(self, directives="", **kw):
        super().__init__(directives, **kw)
        shutil.copytree(HOOK_APPS, self.apps, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        harness._chown_tree(self.dir)
        os.chmod(self.markers, 0o777)

    def seen(self, name):
        """The JSON a hook script wrote to markers/<name>.json (None if absent)."""
        text = self.wait_marker(name + ".json", timeout=2.0)
        return json.loads(text) if text is not None else None


hooks_factory = harness.apache_factory_for(HooksApache)


def hooks_apache(directives, **kw):
    """A module-scoped HooksApache fixture for a test file."""
    import pytest

    @pytest.fixture(scope="module")
    def _fixture(module_file):
        a = HooksApache(directives, **kw)
        try:
            a.start()
            yield a
        finally:
            a.cleanup()

    return _fixture


def curl(*args, timeout=15):
    """Runs curl; returns (status code, body)."""
    import subprocess
    p = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", str(timeout)] + list(args),
                       capture_output=True, timeout=timeout + 5)
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code), body
