"""Apache children keep one glibc malloc arena per core (at least 2), set at child_init;
daemon processes two.

glibc's default is up to 8 arenas per core, one per thread that mallocs; each keeps the free
memory at its top (up to 512 KB once the relay's 256 KB request-body blocks were freed). An
Apache child of daemon mode runs 80 relay threads: after 1 MB POSTs 15 arenas held 6.5 MB of
its 10 MB PSS. The count is read from the child's mappings: every arena but the main one is a
64 MB-aligned heap (read-write part, then the PROT_NONE rest of its 64 MB).
"""
import os
import re
import threading

import pytest

from daemon_harness import harness  # noqa: F401 - registers the fixtures

HEAP_MAX = 64 << 20
ECHO = b"""
def application(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(len(body)).encode()]
"""
MPM = ("StartServers 1\nServerLimit 1\nThreadsPerChild 64\nMaxRequestWorkers 64\n"
       "MinSpareThreads 1\nMaxSpareThreads 64\nThreadLimit 64\n")
# More clients than the limit (one arena per core), fewer than the child's threads.
CLIENTS = min(60, max(24, 3 * (os.cpu_count() or 2)))


def arena_heaps(pid):
    """Non-main malloc arenas of a process: 64 MB-aligned anonymous read-write mappings
    followed by the PROT_NONE rest of their 64 MB."""
    maps = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)", line)
            maps.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3), m.group(5).strip()))
    count = 0
    for (start, end, perm, name), nxt in zip(maps, maps[1:] + [None]):
        if name or perm != "rw-p" or start % HEAP_MAX:
            continue
        if end - start == HEAP_MAX or (nxt and nxt[0] == end and nxt[2] == "---p"
                                       and not nxt[3] and nxt[1] - start == HEAP_MAX):
            count += 1
    return count


def load(a, clients=CLIENTS, requests=4, size=300 * 1024):
    body = b"x" * size
    failures = []

    def client():
        try:
            for _ in range(requests):
                r = a.post("/echo", body, timeout=30)
                if r.status != 200 or r.body != str(size).encode():
                    failures.append(r)
        except Exception as e:  # pragma: no cover - reported below
            failures.append(e)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]


@pytest.mark.ours_only
@pytest.mark.parametrize("mode", ["daemon", "embedded"])
def test_apache_child_arenas_are_capped(apache_factory, mode):
    route = "process-group=g application-group=%{GLOBAL}" if mode == "daemon" else \
        "application-group=%{GLOBAL}"
    a = apache_factory("""
WSGIDaemonProcess g threads=4
WSGIScriptAlias /echo @APPS@/arena_echo.wsgi %s
""" % route, mpm_conf=MPM, start=False)
    path = os.path.join(a.apps, "arena_echo.wsgi")
    with open(path, "wb") as f:
        f.write(ECHO)
    os.chmod(path, 0o644)
    a.start()
    load(a)
    children = [p for p in a.children() if p not in a.daemon_pids()]
    assert children
    limit = max(2, os.cpu_count())
    for pid in children:
        n = arena_heaps(pid)
        assert 1 <= n + 1 <= limit, "Apache child %d has %d malloc arenas besides the main one " \
            "(limit %d in all)" % (pid, n, limit)
    # Daemon processes: 2 in all, whatever the cores (their threads take turns at the GIL;
    # mod_wsgi's daemon of 5 threads had 6).
    for pid in a.daemon_pids() if mode == "daemon" else []:
        n = arena_heaps(pid)
        assert n + 1 <= 2, "daemon process %d has %d malloc arenas besides the main one" % (pid, n)
