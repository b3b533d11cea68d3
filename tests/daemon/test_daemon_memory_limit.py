"""Issue 9, item 5 (recovery): an application that reaches memory-limit gets MemoryError; the
process is then replaced gracefully, so service recovers (mod_wsgi answers 500 from then on)."""
import time

import pytest

from daemon_harness import harness


@pytest.mark.ours_only
def test_memory_limit_reached_replaces_the_process(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g threads=2 memory-limit=200000000 display-name=%{GROUP}
WSGIScriptAlias /m @APPS@/leak.wsgi process-group=g application-group=%{GLOBAL}
""")
    first = int(a.get("/m/").body.split()[0])
    statuses = []
    for _ in range(20):
        r = a.get("/m/leak", timeout=20)
        statuses.append(r.status)
        if r.status != 200:
            break
    assert statuses[-1] == 500 and statuses.count(200) >= 4, statuses
    a.wait_log(r"MW1215: .*uses \d+ MB of its memory-limit of 190 MB; restarting gracefully")
    # Later requests are served again, by a new process.
    deadline = time.time() + 20
    while True:
        r = a.get("/m/", timeout=20)
        if r.status == 200 and int(r.body.split()[0]) != first:
            break
        assert time.time() < deadline, (r, a.log()[-3000:])
        time.sleep(0.2)
    assert a.get("/m/leak").status == 200
