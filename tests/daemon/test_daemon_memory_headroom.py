"""Issue 9, item 5 (headroom): memory-limit is RLIMIT_DATA, and every thread stack is a private
writable mapping that counts against it. mod_wsgi 4.9 gives all 7 threads of a 5-thread daemon
the default stack (RLIMIT_STACK, 8 MB here): 56 MB of the limit gone before the app allocates
anything. Only the threads that run requests keep the default stack here; the daemon's helpers
(deadlock watch, interpreter factory, shutdown watchdog) get small ones, so the app keeps at
least mod_wsgi's headroom and 12 MB more
(VmData at start: 51 MB; before: 65 MB; mod_wsgi 4.9: 63 MB)."""
import time

import pytest

from daemon_harness import harness  # noqa: F401 - registers the fixtures

THREADS = 5
# What the interpreter, the libraries and the module may take besides the request threads'
# stacks (measured: about 10 MB; mod_wsgi's daemon starts at 64 MB with 7 full stacks).
BASE = 16 << 20
HELPERS = (2 << 20) + (256 << 10)  # interpreter factory + deadlock watch


@pytest.mark.ours_only
def test_only_request_threads_take_default_stacks(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g threads=%d memory-limit=400000000 display-name=%%{GROUP}
WSGIScriptAlias /h @APPS@/headroom.wsgi process-group=g application-group=%%{GLOBAL}
""" % THREADS)
    # The first worker serves while the others are still being created: wait for all of them.
    deadline = time.time() + 20
    while True:
        r = a.get("/h/")
        assert r.status == 200, r
        data_kb, stack, full_stacks = (int(x) for x in r.body.split())
        if full_stacks >= THREADS or time.time() > deadline:
            break
        time.sleep(0.2)
    assert full_stacks == THREADS, (full_stacks, stack)
    bound = THREADS * stack + HELPERS + BASE
    assert data_kb * 1024 <= bound, "VmData %d MB at start, bound %d MB" % (data_kb >> 10, bound >> 20)
