# `make wheels-test` runs these (MOD_WSGI_WHEELS_TEST=1): a wheel built per CPython takes
# minutes, so `make test` (which collects tests/) leaves them out; tests/pip tests Debian's
# python3's wheel without a toolchain there.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pip"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))

collect_ignore_glob = [] if os.environ.get("MOD_WSGI_WHEELS_TEST") == "1" else ["test_*.py"]

from piplib import servers, workdir  # noqa: E402,F401
