"""The daemon's side of the wire protocol with a client that connects as the socket's owner:
a request for another process group is refused (503), and truncated, oversized and malformed
frames cost that connection only: the daemon never crashes or hangs."""
import os
import random
import socket
import struct
import time

import pytest

from daemon_harness import harness

CONF = """
WSGIDaemonProcess g threads=2 socket-timeout=3 display-name=%{GROUP}
WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%{GLOBAL}
"""


def frame(kind, payload):
    return bytes([kind]) + struct.pack("<I", len(payload)) + payload


def lp(x):
    b = x.encode() if isinstance(x, str) else x
    return struct.pack("<I", len(b)) + b


def request(a, group="g", path="/pid"):
    env = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/d", "PATH_INFO": path, "SERVER_NAME": "127.0.0.1",
           "SERVER_PORT": str(a.port), "SERVER_PROTOCOL": "HTTP/1.1", "mod_wsgi.process_group": group}
    # Layout 3: ..., flags, request start and queue start (µs), the Apache child's pid, its
    # connects and restarts, the server's index (0: the main one), then the environ.
    now = int(time.time() * 1e6)
    p = struct.pack("<I", 3) + lp(os.path.join(a.apps, "daemon.wsgi")) + lp("application") + lp("")
    p += lp("http") + lp("127.0.0.1:1") + struct.pack("<I", 0)
    p += struct.pack("<qqIIII", now, now, os.getpid(), 1, 0, 0)
    p += struct.pack("<I", len(env)) + b"".join(lp(k) + lp(v) for k, v in env.items())
    return frame(0x51, p)


def complete_frames(got):
    """The kinds of the complete frames at the start of got."""
    kinds = []
    while len(got) >= 5 and len(got) >= 5 + struct.unpack("<I", got[1:5])[0]:
        kinds.append(chr(got[0]))
        got = got[5 + struct.unpack("<I", got[1:5])[0]:]
    return kinds


def exchange(path, data, timeout=15):
    """Sends data; returns the frames read until 'Z' (the daemon keeps the connection for
    the next request) or until the daemon closes, and the seconds it took."""
    t0 = time.time()
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(path)
        try:
            s.sendall(data)
        except OSError:
            pass
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
            if "Z" in complete_frames(got):
                break
    frames = []
    while len(got) >= 5:
        n = struct.unpack("<I", got[1:5])[0]
        frames.append((chr(got[0]), got[5:5 + n]))
        got = got[5 + n:]
    return frames, time.time() - t0


@pytest.fixture
def daemon(apache_factory):
    a = apache_factory(CONF)
    pids = a.wait_daemons(1)
    assert a.get("/d/pid").status == 200
    socks = a.socket_files()
    assert len(socks) == 1
    return a, os.path.join(a.run, socks[0]), pids[0]


def test_a_request_for_another_group_is_refused(daemon):
    a, path, pid = daemon
    frames, _ = exchange(path, request(a, group="g"))
    assert [k for k, _ in frames][0] == "H" and frames[-1][0] == "Z", frames
    assert b"".join(p for k, p in frames if k in "DF") == str(pid).encode()
    frames, _ = exchange(path, request(a, group="other"))
    assert frames == [("Z", struct.pack("<i", 503))], frames
    a.wait_log(r"MW1232: .*Request for daemon process group 'other' reached daemon process group 'g'")


def test_bad_frames_cost_one_connection(daemon):
    a, path, pid = daemon
    good = request(a)
    rng = random.Random(9)
    cases = [
        b"",
        b"Q",
        b"Q\x05\x00",
        bytes(rng.randrange(256) for _ in range(300)),
        frame(0x51, b"\x00" * 3),
        frame(0x51, struct.pack("<I", 4) + good[9:]),               # unknown layout version
        frame(0x44, b"body before the request"),
        b"Q" + struct.pack("<I", 0xFFFFFFF0),                        # oversized length, nothing after
        good[:len(good) // 2],                                       # truncated request
        good[:-3] + b"\xff\xff\xff",                                 # environ string length past the end
        frame(0x51, good[5:-4] + struct.pack("<I", 10 ** 9)),       # absurd count in the last string
        good + frame(0x5A, b"\x00" * 4),                             # a stray frame after the request
    ]
    for _ in range(8):                                               # random mutations of a good request
        b = bytearray(good)
        for _ in range(rng.randrange(1, 6)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        cases.append(bytes(b))
    for data in cases:
        frames, took = exchange(path, data)
        assert took < 10, (data[:40], took)
    assert a.daemon_pids() == [pid]
    r = a.get("/d/pid")
    assert r.status == 200 and int(r.body) == pid
    log = a.log()
    assert "exit signal" not in log and "was killed by signal" not in log, log[-3000:]
