"""The Apache child relays the daemon's response blocks to Apache: a block already in the
connection's buffer from there, a larger one read into memory that Apache's heap bucket then
owns (up to 256 KB a bucket). Every byte of every response is checked (no block misplaced,
repeated, cut or reused after Apache was given it), around every size limit of the relay, in
one block and in many small writes, through wsgi.file_wrapper, on connections kept across
requests on both sides, and when the client or the daemon goes away mid-response."""
import hashlib
import http.client
import socket
import threading
import time

import pytest

from daemon_harness import DaemonApache, harness  # noqa: F401  (pytest plugin set-up)

CONF = """
WSGIDaemonProcess g processes=1 threads=4 display-name=%{GROUP}
WSGIScriptAlias /r @APPS@/relay.wsgi process-group=g application-group=%{GLOBAL}
"""

SIZES = [0, 1, 16000, 16379, 16384, 16385, 65536, 65541, 102400, 262144, 262145, 300000,
         1048576, 1048577, 3 * 1048576 + 5]


def pattern(n, seed=0):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha512(b"%d:%d" % (seed, i)).digest()
        i += 1
    return bytes(out[:n])


@pytest.fixture(scope="module")
def relay(module_file):
    a = DaemonApache(CONF)
    try:
        a.start()
        yield a
    finally:
        a.cleanup()


def fetch(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, dict(r.getheaders()), r.read()


def test_one_block_every_size(relay):
    conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=30)
    for seed, size in enumerate(SIZES):
        status, headers, body = fetch(conn, "/r/one?size=%d&seed=%d" % (size, seed))
        assert status == 200 and len(body) == size, (size, len(body))
        assert body == pattern(size, seed), size
    conn.close()


@pytest.mark.parametrize("how", ["cl=1", "cl=0", "cl=1&write=1", "cl=0&write=1"])
def test_many_blocks(relay, how):
    conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=30)
    for seed, size in enumerate([100000, 3 * 1048576 + 11]):
        status, headers, body = fetch(conn, "/r/many?size=%d&seed=%d&%s" % (size, seed, how))
        assert status == 200 and body == pattern(size, seed), (how, size, len(body))
    conn.close()


def test_file_wrapper(relay):
    conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=30)
    for seed, size in enumerate([5, 100000, 2 * 1048576 + 3]):
        status, headers, body = fetch(conn, "/r/file?size=%d&seed=%d" % (size, seed))
        assert status == 200 and body == pattern(size, seed), size
    conn.close()


def test_client_gone_mid_response_then_next_response_intact(relay):
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
        s.sendall(b"GET /r/one?size=20000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(100000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=30)
    for seed, size in enumerate([102400, 1048577]):
        status, headers, body = fetch(conn, "/r/one?size=%d&seed=%d" % (size, seed))
        assert status == 200 and body == pattern(size, seed)
    conn.close()


def test_daemon_killed_mid_response(relay):
    old = relay.wait_daemons(1)
    size = 3 * 1048576
    s = socket.create_connection(("127.0.0.1", relay.port), timeout=30)
    s.sendall(b"GET /r/die?size=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % size)
    got = b""
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        got += b
    s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    # The half that was sent arrives intact; the response is cut, never completed.
    assert size // 2 <= len(body) < size
    assert body[:size // 2] == pattern(size)[:size // 2]
    relay.wait_log(r"killed by signal 9", timeout=15)
    relay.wait_daemons(1, exclude=old)
    deadline = time.time() + 15
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=30)
        try:
            status, headers, body = fetch(conn, "/r/one?size=300000&seed=9")
            break
        except (http.client.HTTPException, OSError):
            if time.time() > deadline:
                raise
            time.sleep(0.2)
        finally:
            conn.close()
    assert status == 200 and body == pattern(300000, 9)


def slow_get(port, path, pause=0.3):
    """GET with a client that waits before reading: the response backs up into the Apache
    child and the daemon's socket to it fills."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
    time.sleep(pause)
    got = []
    while True:
        b = s.recv(65536)
        if not b:
            break
        got.append(b)
        time.sleep(0.001)
    s.close()
    head, _, body = b"".join(got).partition(b"\r\n\r\n")
    return head, body


def test_large_responses_to_slow_clients_while_other_threads_run_python(relay):
    """Large writes find the socket to the Apache child full while another daemon thread
    holds the GIL. A writing thread that does not hold the GIL must not release it: Python
    3.11's current thread state is the GIL holder's, so deciding from it made a writer
    release another thread's GIL (daemon crashes: 'PyEval_SaveThread: the function must be
    called with the GIL held', segmentation faults)."""
    old = relay.wait_daemons(1)
    since = relay.log_size()
    stop = time.time() + 5
    spins, bodies, errors = [], [], []

    def spin():
        conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=30)
        while time.time() < stop:
            status, _, _ = fetch(conn, "/r/spin?ms=50")
            spins.append(status)
        conn.close()

    def download(seed):
        size = 2 * 1048576 + seed
        while time.time() < stop:
            try:
                head, body = slow_get(relay.port, "/r/one?size=%d&seed=%d" % (size, seed), pause=0.05)
            except OSError as e:
                errors.append(repr(e))
                continue
            bodies.append(head.startswith(b"HTTP/1.1 200") and body == pattern(size, seed))

    threads = [threading.Thread(target=spin) for _ in range(2)]
    threads += [threading.Thread(target=download, args=(seed,)) for seed in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "Fatal Python error" not in relay.log(since)
    assert relay.wait_daemons(1) == old, "the daemon process was replaced:\n" + relay.log(since)[-3000:]
    assert not errors and bodies and all(bodies), (errors, bodies)
    assert spins and set(spins) == {200}
