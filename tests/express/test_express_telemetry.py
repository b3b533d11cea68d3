"""mod_wsgi 6.1's options, directives and telemetry, against a real Apache.

The telemetry consumer is the real mod_wsgi-telemetry 1.1.0 from PyPI, installed once per
session into a virtual environment of /usr/bin/python3 that these tests create (readable by
Apache's user) and remove: its `dump` decodes our datagrams, its ingester and UI run as the
--enable-telemetry service, its `top` reads the UI.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest

from expresslib import fetch, free_port, run, wait_for, write

TELEMETRY_VERSION = "1.1.0"

APP = b"""
import sys, time, warnings, mod_wsgi
def application(environ, start_response):
    path = environ['PATH_INFO']
    if path.startswith('/sleep'):
        time.sleep(3)
    if path == '/warn':
        try:
            warnings.warn('deprecated thing', DeprecationWarning)
            body = b'no error'
        except DeprecationWarning as e:
            body = ('error:%s' % e).encode()
    elif path == '/collect':
        import gc
        body = b'%d' % gc.collect()
    elif path == '/missing':
        start_response('404 Not Found', [('Content-Type', 'text/plain')])
        return [b'missing']
    else:
        body = ('%s|%s|%s' % (sys.getswitchinterval(), mod_wsgi.application_group,
                              mod_wsgi.process_group)).encode()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
"""


@pytest.fixture(scope="session")
def telemetry_venv():
    """A venv of the system Python with mod_wsgi-telemetry (the real consumer) installed."""
    d = tempfile.mkdtemp(prefix="mwe-telemetry-venv-", dir="/tmp")
    os.chmod(d, 0o755)
    venv = os.path.join(d, "venv")
    try:
        subprocess.run(["/usr/bin/python3", "-m", "venv", venv], check=True, capture_output=True, timeout=120)
        r = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", "--disable-pip-version-check",
                            "mod_wsgi-telemetry==%s" % TELEMETRY_VERSION],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, "pip install mod_wsgi-telemetry failed: %s" % r.stderr[-2000:]
        subprocess.run(["chmod", "-R", "a+rX", d], check=True)
        yield venv
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Dump:
    """`mod_wsgi-telemetry dump --format json` listening on a socket Apache's user may write."""

    def __init__(self, venv, directory):
        self.dir = os.path.join(directory, "sock")
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o777)
        self.path = os.path.join(self.dir, "t.sock")
        self.out = os.path.join(directory, "dump.json")
        self.err = os.path.join(directory, "dump.err")
        self.proc = subprocess.Popen(
            [os.path.join(venv, "bin", "mod_wsgi-telemetry"), "dump", "--listen", "unix:" + self.path,
             "--socket-mode", "0666", "--format", "json"],
            stdout=open(self.out, "w"), stderr=open(self.err, "w"), start_new_session=True,
            # dump print()s each record: unbuffered, or the last ~8 KB of records (a stop's
            # process_stopping and process_stopped) wait in its buffer until more come.
            env=dict(os.environ, PYTHONUNBUFFERED="1"))
        deadline = time.time() + 20
        while not os.path.exists(self.path):
            assert time.time() < deadline and self.proc.poll() is None, open(self.err).read()
            time.sleep(0.1)

    def samples(self):
        with open(self.out) as f:
            return [json.loads(line) for line in f if line.strip()]

    def wait(self, predicate, timeout=20, server=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.samples()
            if predicate(s):
                return s
            time.sleep(0.3)
        s = self.samples()
        summary = [(x["kind"], x["pid"], x["fields"].get("request_count"), x["fields"].get("slow_record_state"))
                   for x in s]
        raise AssertionError("telemetry never showed what was expected: %s\n%s\n%s" % (
            summary, open(self.err).read(), server.error_log() if server else ""))

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        errors = open(self.err).read()
        return errors


@pytest.fixture
def dump(telemetry_venv, workdir):
    d = Dump(telemetry_venv, workdir)
    yield d
    d.stop()


def raw_receiver(workdir, timeout):
    """A datagram socket Apache's user may send to, for 6.1.1's raw bytes: (path, socket)."""
    d = os.path.join(workdir, "raw")
    os.mkdir(d)
    os.chmod(d, 0o777)
    path = os.path.join(d, "raw.sock")
    recv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    recv.bind(path)
    os.chmod(path, 0o666)
    recv.settimeout(timeout)
    return path, recv


def kinds(samples, kind, pid=None):
    return [s for s in samples if s["kind"] == kind and (pid is None or s["pid"] == pid)]


def count(samples):
    return sum(x["fields"]["request_count"] for x in kinds(samples, "request_metrics"))


def settle(dump, interval=0.5):
    """The requests of the start-up check (one, or more if a probe timed out on a slow machine) are
    reported within an interval: the count from here, once it is non-zero and has not moved for
    three intervals."""
    deadline = time.time() + 30
    last, since = None, time.time()
    while time.time() < deadline:
        c = count(dump.samples())
        if c != last:
            last, since = c, time.time()
        elif c >= 1 and time.time() - since >= 3 * interval:
            return c
        time.sleep(0.1)
    raise AssertionError("the start-up check's request was never reported: %s" % dump.samples())


def started(sr):
    r = sr.apachectl("start")
    assert r.returncode == 0, r.stderr + sr.error_log()
    wait_for(sr.url + "/")
    return sr


# ---- options: each one's effect ------------------------------------------------------------

def test_switch_interval_application_and_process_group(setup_server, workdir):
    app = write(os.path.join(workdir, "app.py"), APP)
    sr = started(setup_server([app, "--switch-interval", "0.002", "--application-group", "myapp",
                               "--process-group", "mygroup"]))
    conf = open(os.path.join(sr.root, "httpd.conf")).read()
    assert "WSGISwitchInterval 0.002" in conf and "switch-interval=0.002" in conf
    assert "WSGIDaemonProcess 'mygroup'" in conf
    status, body, _ = fetch(sr.url + "/")
    assert (status, body) == (200, b"0.002|myapp|mygroup")
    # The daemon's process name is wsgi:NAME (display-name '(wsgi:mygroup)').
    names = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "(wsgi:mygroup)" in names


def test_switch_interval_embedded(setup_server, workdir):
    app = write(os.path.join(workdir, "app.py"), APP)
    sr = started(setup_server([app, "--embedded-mode", "--switch-interval", "0.003"]))
    status, body, _ = fetch(sr.url + "/")
    assert body.split(b"|")[:2] == [b"0.003", b""]


def test_python_warnings_error(setup_server, workdir):
    app = write(os.path.join(workdir, "app.py"), APP)
    sr = started(setup_server([app, "--python-warnings", "error"]))
    assert re.search(r"^WSGIPythonWarnings '?error'?$", open(os.path.join(sr.root, "httpd.conf")).read(), re.M)
    assert fetch(sr.url + "/warn")[1] == b"error:deprecated thing"


def test_response_flush_delay_rendered_and_checked(setup_server, workdir):
    app = write(os.path.join(workdir, "app.py"), APP)
    sr = setup_server([app])
    assert "response-flush-delay=5 " in open(os.path.join(sr.root, "httpd.conf")).read()
    sr = setup_server([app, "--response-flush-delay", "0"], root=os.path.join(workdir, "root0"))
    assert "response-flush-delay=0 " in open(os.path.join(sr.root, "httpd.conf")).read()
    r = run(["setup-server", app, "--response-flush-delay=-1", "--server-root", os.path.join(workdir, "r2")])
    assert r.returncode != 0 and "--response-flush-delay must be 0 or more" in r.stderr


def test_response_flush_delay_coalesces_a_stalled_stream(setup_server, workdir, port):
    """Two writes 2 ms apart: with the 5 ms delay the client gets them in one read; with 0,
    the first is flushed on its own before the second exists."""
    app = write(os.path.join(workdir, "stream.py"), b"""
import time
def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    yield b'a' * 10
    time.sleep(0.002)
    yield b'b' * 10
    time.sleep(0.5)
    yield b'c'
""")

    def first_read(delay, root):
        sr = started(setup_server([app, "--response-flush-delay", str(delay)], root=root))
        try:
            with socket.create_connection(("127.0.0.1", sr.port), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
                data = b""
                while b"\r\n\r\n" not in data:
                    data += s.recv(65536)
                body = data.split(b"\r\n\r\n", 1)[1]
                if not body:
                    body = s.recv(65536)
                time.sleep(0.2)
                return body
        finally:
            sr.stop()

    assert first_read(5, os.path.join(workdir, "r5")).startswith(b"a" * 10 + b"b" * 10)
    assert first_read(0, os.path.join(workdir, "r0")) == b"a" * 10


def test_free_threading_refused_on_a_gil_build(workdir):
    app = write(os.path.join(workdir, "app.py"), APP)
    r = run(["setup-server", app, "--free-threading", "--server-root", os.path.join(workdir, "r")])
    assert r.returncode != 0
    assert "--free-threading requires a Python build with free-threading support (PEP 703)" in r.stderr


def test_telemetry_option_checks(workdir):
    app = write(os.path.join(workdir, "app.py"), APP)
    root = os.path.join(workdir, "r")
    for args, message in [
        (["--telemetry-service", "udp:127.0.0.1:9"], "--telemetry-service must be 'unix:/path'"),
        (["--slow-requests", "1"], "--slow-requests requires --telemetry-service"),
        (["--telemetry-service", "unix:/tmp/x.sock", "--telemetry-interval", "0.1"], "at least 0.5 seconds"),
        (["--telemetry-service", "unix:/tmp/x.sock", "--enable-telemetry"], "mutually exclusive"),
        (["--telemetry-service", "unix:/tmp/x.sock", "--telemetry-options", "+Nope"], "unknown flag '+Nope'"),
        (["--enable-telemetry", "--python-home", "/usr"], "requires the mod_wsgi-telemetry package"),
    ]:
        r = run(["setup-server", app, "--server-root", root] + args)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)


# ---- directives: parsing and errors (httpd -t on a real configuration) ----------------------

@pytest.mark.parametrize("directive, message", [
    ("WSGISwitchInterval 0", "WSGISwitchInterval must be a positive number of seconds."),
    ("WSGISwitchInterval abc", "WSGISwitchInterval must be a positive number of seconds."),
    ("WSGIPerInterpreterGIL On", "WSGIPerInterpreterGIL requires Python 3.12 or later"),
    ("WSGIPerInterpreterGIL Maybe", "must be On or Off"),
    ("WSGIFreeThreading On", "does not support free-threading (PEP 703)"),
    ("WSGITelemetryService udp:1.2.3.4:9", "WSGITelemetryService target must be 'unix:/path'"),
    ("WSGITelemetryService unix:/tmp/t.sock interval=0.2", "interval must be at least 0.5 seconds"),
    ("WSGITelemetryService unix:/tmp/t.sock every=2", "second argument must be 'interval=N'"),
    ("WSGISlowRequests -1", "WSGISlowRequests threshold must be non-negative"),
    ("WSGITelemetryOptions +CaptureUserAgent None", "cannot mix +/- form with absolute names"),
    ("WSGITelemetryOptions -All", "'All' may not have a +/- prefix"),
    ("WSGITelemetryOptions Bogus", "unknown flag 'Bogus'"),
    ("<WSGIInterpreterOptions colour=red>\n</WSGIInterpreterOptions>", "unknown selector 'colour'"),
    ("<WSGIInterpreterOptions process-group>\n</WSGIInterpreterOptions>", "is not of the form key=value"),
    ("<WSGIInterpreterOptions application-group=a application-group=b>\n</WSGIInterpreterOptions>",
     "application-group given more than once"),
    ("<WSGIInterpreterOptions process-group=x>\nWSGIScriptReloading Off\n</WSGIInterpreterOptions>",
     "is not allowed inside <WSGIInterpreterOptions>"),
    ("<WSGIInterpreterOptions application-group=x>\nWSGIFreeThreading Off\n</WSGIInterpreterOptions>",
     "free threading is a setting of the whole process"),
    ("<VirtualHost *:80>\nWSGISwitchInterval 0.01\n</VirtualHost>", "cannot occur within <VirtualHost> section"),
    ("WSGIDaemonProcess g switch-interval=0", "Invalid switch interval for WSGI daemon process"),
    ("WSGIDaemonProcess g response-flush-delay=-5", "Invalid response flush delay for WSGI daemon process"),
    ("WSGIDaemonProcess g script-group=www-data", "option 'script-group' is not supported yet"),
])
def test_directive_errors(setup_server, workdir, directive, message):
    app = write(os.path.join(workdir, "app.py"), APP)
    inc = write(os.path.join(workdir, "extra.conf"), directive.encode() + b"\n")
    sr = setup_server([app, "--include-file", inc])
    r = sr.apachectl("configtest")
    assert r.returncode != 0 and message in r.stderr + r.stdout, r.stderr


def test_interpreter_options_block(setup_server, workdir):
    """<WSGIInterpreterOptions>: the most specific block wins for each setting."""
    app = write(os.path.join(workdir, "app.py"), APP)
    inc = write(os.path.join(workdir, "extra.conf"), b"""
WSGISwitchInterval 0.004
<WSGIInterpreterOptions process-group=nomatch>
WSGISwitchInterval 0.009
</WSGIInterpreterOptions>
<WSGIInterpreterOptions process-group=%{GLOBAL}>
WSGISwitchInterval 0.006
WSGIPerInterpreterGIL Off
</WSGIInterpreterOptions>
""")
    sr = started(setup_server([app, "--embedded-mode", "--include-file", inc]))
    assert fetch(sr.url + "/")[1].split(b"|")[0] == b"0.006"


# ---- telemetry: the wire format, from daemon and embedded processes --------------------------

# mod_wsgi 6.1.1's wsgi_telemetry_encode, in order, for a daemon process whose interval saw
# requests: (field id, type) of each TLV record.
DAEMON_REQUEST_LAYOUT = (
    [(i, 4) for i in (1, 2, 3, 4, 5, 6)] + [(7, 1), (10, 2), (11, 2), (12, 2), (13, 2), (20, 1), (21, 2), (22, 2),
                                            (30, 2), (31, 2), (32, 2), (40, 1), (41, 1), (50, 1), (51, 1), (52, 1)]
    + [(i, 2) for i in (60, 63, 64, 65, 66, 67, 61, 62)]
    + [(i, 2) for pair in ((70, 80), (73, 83), (74, 84), (75, 85), (76, 86), (77, 87), (71, 81), (72, 82))
       for i in pair]
    + [(i, 5) for i in (90, 93, 91, 92, 94, 95, 96, 97)]
    + [(i, 1) for i in (100, 101, 102, 103, 120, 121, 122, 123, 124)]
    + [(110, 5), (111, 6), (112, 6), (113, 6), (114, 6)])


def tlv_layout(raw):
    """(field id, type) of each record of a raw datagram, and its header."""
    import struct
    magic, version, kind, flags, pid, seq, stamp = struct.unpack_from("<4sBBHIId", raw, 0)
    off, out = 24, []
    while off < len(raw):
        fid, t = struct.unpack_from("<HB", raw, off)
        off += 3
        if t in (1, 2, 3):
            off += 8
        else:
            (n,) = struct.unpack_from("<H", raw, off)
            off += 2 + n * {4: 1, 5: 4, 6: 8}[t]
        out.append((fid, t))
    assert off == len(raw)
    return (magic, version, kind, flags, pid, seq), out


def test_daemon_telemetry_decodes_and_adds_up(setup_server, workdir, dump, telemetry_venv):
    app = write(os.path.join(workdir, "app.py"), APP)
    sr = started(setup_server([app, "--telemetry-service", "unix:" + dump.path, "--telemetry-interval", "0.5",
                               "--slow-requests", "1", "--process-group", "tgroup", "--processes", "2",
                               "--threads", "3", "--access-log"]))
    base = settle(dump)
    for path in ["/"] * 12 + ["/missing"] * 3:
        fetch(sr.url + path)
    # A URL longer than mod_wsgi's 512-byte field, with a non-ASCII character, and a Host in
    # capitals: the record carries the bytes mod_wsgi would (the path's UTF-8 cut to 508 bytes
    # and "...", the host name as Apache keeps it).
    long_path = "/sleep/%C3%A9" + "x" * 600
    req = urllib.request.Request(sr.url + long_path, headers={"Host": "Tele.Example:%d" % sr.port})
    slow = threading.Thread(target=lambda: urllib.request.urlopen(req, timeout=10).read())
    slow.start()
    # While it runs, an active slow_request names its URL.
    samples = dump.wait(lambda s: any(x["fields"].get("slow_record_state") == 0 for x in kinds(s, "slow_request")))
    active_record = [x for x in kinds(samples, "slow_request") if x["fields"]["slow_record_state"] == 0][0]
    active = active_record["fields"]
    # (Apache split the URL at the first segment, as for mod_wsgi: SCRIPT_NAME /sleep.)
    assert active["slow_script_name"] == "/sleep"
    assert active["slow_path_info"] == "/\u00e9" + "x" * (508 - 3) + "...", repr(active).replace("x" * 10, "")
    assert len(active["slow_path_info"].encode()) == 511
    assert active["slow_hostname"] == "tele.example"
    assert active["slow_method"] == "GET" and active["slow_status"] == 0 and active["slow_duration"] >= 1.0
    assert active["slow_protocol"] == "HTTP/1.1" and active["slow_peer_ip"] == "127.0.0.1"
    assert active["slow_scheme"] == "http" and active["slow_log_id"]
    # The Apache child that accepted it, which the daemon learns from the request frame.
    children = {int(p) for p in subprocess.run(["pgrep", "-P", str(sr.pid())], capture_output=True,
                                                text=True).stdout.split()}
    assert active["slow_server_pid"] in children and active["slow_server_pid"] != active_record["pid"]
    slow.join()
    samples = dump.wait(lambda s: count(s) - base >= 16
                        and any(x["fields"].get("slow_record_state") == 1 for x in kinds(s, "slow_request")))
    reqs = kinds(samples, "request_metrics")
    daemon_pids = {int(p) for p in subprocess.run(["pgrep", "-f", "wsgi:tgroup"], capture_output=True,
                                                   text=True).stdout.split()}
    assert {s["pid"] for s in reqs} == daemon_pids and len(daemon_pids) == 2
    assert {s["fields"]["process_group"] for s in reqs} == {"tgroup"}
    total = sum(s["fields"]["request_count"] for s in reqs)
    assert total - base == 16
    assert sum(s["fields"]["status_2xx_total"] for s in reqs) - base == 13
    assert sum(s["fields"]["status_4xx_total"] for s in reqs) == 3
    for s in reqs:
        f = s["fields"]
        assert sum(f["status_%dxx_total" % c] for c in range(1, 6)) == f["request_count"]
        assert sum(f["request_time_buckets"]) == f["request_count"] == sum(f["application_time_buckets"])
        assert f["request_threads_maximum"] == 3 and len(f["request_threads_completed"]) == 3
        assert sum(f["request_threads_completed"]) == f["request_count"]
        assert f["telemetry_interval"] == 0.5 and f["slow_requests_threshold"] == 1.0
    # Memory agrees with /proc (the last sample of each process, which still runs).
    last = {}
    for s in reqs:
        last[s["pid"]] = s["fields"]
    for pid, f in last.items():
        with open("/proc/%d/status" % pid) as st:
            status = st.read()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) * 1024
        assert abs(f["memory_rss"] - rss) < 16 * 1024 * 1024, (f["memory_rss"], rss)
        assert f["memory_max_rss"] >= f["memory_rss"] * 0.5
    # The slow request's completed record: its status, its duration matches the access log's.
    done = [x for x in kinds(samples, "slow_request") if x["fields"]["slow_record_state"] == 1][0]["fields"]
    assert done["slow_status"] == 200 and 2.9 < done["slow_duration"] < 4.5
    assert done["slow_server_pid"] == active["slow_server_pid"] and done["slow_path_info"] == active["slow_path_info"]
    # Its phases add up as mod_wsgi's do; its duration counts from when the daemon thread took it.
    assert done["slow_application_time"] >= 2.9
    assert done["slow_start_stamp"] + done["slow_duration"] <= time.time()
    with_times = [s["fields"] for s in reqs if s["fields"]["request_count"]]
    assert max(f["request_time_max"] for f in with_times) >= 2.9
    assert all(f["queue_time_buckets"] and f["daemon_time_buckets"] for f in with_times)
    started_ = kinds(samples, "process_started")
    assert {s["pid"] for s in started_} == daemon_pids
    assert started_[0]["fields"]["process_parent_pid"] == sr.pid()
    errors = dump.stop()
    assert "decode error" not in errors and "Traceback" not in errors, errors


def test_daemon_datagram_layout_is_mod_wsgi_6_1_1s(setup_server, workdir, telemetry_venv):
    """The raw bytes: header and the order and types of the TLV records of 6.1.1's encoder."""
    path, recv = raw_receiver(workdir, timeout=15)
    try:
        app = write(os.path.join(workdir, "app.py"), APP)
        sr = started(setup_server([app, "--telemetry-service", "unix:" + path, "--telemetry-interval", "0.5"]))
        deadline = time.time() + 20
        while time.time() < deadline:
            fetch(sr.url + "/")
            raw = recv.recv(65536)
            (magic, version, kind, flags, pid, seq), layout = tlv_layout(raw)
            assert (magic, version, flags) == (b"WSGI", 1, 0)
            if kind == 2 and (20, 1) in layout and (70, 2) in layout:
                assert layout == DAEMON_REQUEST_LAYOUT
                from_pkg = subprocess.run(
                    [os.path.join(telemetry_venv, "bin", "python"), "-c",
                     "import sys; from mod_wsgi.telemetry import wire; s = wire.decode(sys.stdin.buffer.read()); "
                     "print(s.kind, s.pid, s.seq)"], input=raw, capture_output=True)
                assert from_pkg.stdout.decode().split() == ["2", str(pid), str(seq)], from_pkg.stderr
                break
        else:
            raise AssertionError("no request_metrics datagram with requests in 20 s")
    finally:
        recv.close()


def test_embedded_telemetry_and_lifecycle(setup_server, workdir, dump):
    app = write(os.path.join(workdir, "app.py"), APP)
    sr = started(setup_server([app, "--embedded-mode", "--telemetry-service", "unix:" + dump.path,
                               "--telemetry-interval", "0.5", "--telemetry-options", "+CaptureUserAgent",
                               "--slow-requests", "1"]))
    base = settle(dump)
    for _ in range(10):
        fetch(sr.url + "/")
    req = urllib.request.Request(sr.url + "/sleep", headers={"User-Agent": "telemetry-test/1"})
    urllib.request.urlopen(req, timeout=10).read()
    # Until the slow request's completed record: the stop below comes after its last interval.
    samples = dump.wait(lambda s: count(s) - base >= 11
                        and any(x["fields"]["slow_record_state"] == 1 for x in kinds(s, "slow_request")), server=sr)
    reqs = kinds(samples, "request_metrics")
    assert all("process_group" not in s["fields"] for s in reqs)
    assert all("queue_time" not in s["fields"] for s in reqs)
    assert count(samples) - base == 11
    slow = kinds(samples, "slow_request")[-1]["fields"]
    assert slow["slow_user_agent"] == "telemetry-test/1" and slow["slow_server_pid"] == kinds(samples,
                                                                                              "slow_request")[-1]["pid"]
    children = {s["pid"] for s in reqs}
    sr.stop()
    samples = dump.wait(lambda s: {x["pid"] for x in kinds(s, "process_stopped")} >= children, server=sr)
    for pid in children:
        stopped = [x["fields"] for x in kinds(samples, "process_stopped", pid)]
        assert len(stopped) == 1 and stopped[0]["active_requests_at_exit"] == 0
        assert stopped[0]["graceful_drain"] == 1
        assert kinds(samples, "process_stopping", pid)
    lifetime = sum(x["fields"]["lifetime_request_count"] for x in kinds(samples, "process_stopped"))
    assert lifetime == count(samples)


def test_telemetry_socket_absent_never_blocks(setup_server, workdir):
    """No ingester: requests are served as usual; the datagrams are dropped and counted."""
    app = write(os.path.join(workdir, "app.py"), APP)
    sr = started(setup_server([app, "--telemetry-service", "unix:" + os.path.join(workdir, "nobody.sock"),
                               "--telemetry-interval", "0.5", "--log-level", "info"]))
    t0 = time.time()
    for _ in range(50):
        assert fetch(sr.url + "/")[0] == 200
    assert time.time() - t0 < 10
    assert "MW1710" in sr.error_log()


def test_metrics_url_agrees_with_telemetry(setup_server, workdir, dump):
    app = write(os.path.join(workdir, "app.py"), APP)
    sr = started(setup_server([app, "--telemetry-service", "unix:" + dump.path, "--telemetry-interval", "0.5",
                               "--metrics-url", "/metrics"]))
    base = settle(dump)
    for path in ["/"] * 7 + ["/missing"] * 2:
        fetch(sr.url + path)
    samples = dump.wait(lambda s: count(s) - base >= 9)
    text = fetch(sr.url + "/metrics")[1].decode()
    daemon = {}
    for line in text.splitlines():
        m = re.match(r'mod_wsgi_daemon_requests_total\{([^}]*)\} (\d+)', line)
        if m:
            status = re.search(r'status_class="(\w+)"', m.group(1)).group(1)
            daemon[status] = daemon.get(status, 0) + int(m.group(2))
    reqs = kinds(samples, "request_metrics")
    assert daemon.get("2xx", 0) == sum(s["fields"]["status_2xx_total"] for s in reqs) == base + 7, text
    assert daemon.get("4xx", 0) == sum(s["fields"]["status_4xx_total"] for s in reqs) == 2


# ---- the whole pipeline: --enable-telemetry ------------------------------------------------

def test_enable_telemetry_pipeline(setup_server, workdir, telemetry_venv):
    app = write(os.path.join(workdir, "app.py"), APP)
    ui = free_port()
    sr = started(setup_server([app, "--python-home", telemetry_venv, "--enable-telemetry",
                               "--telemetry-ui-port", str(ui), "--telemetry-interval", "0.5",
                               "--slow-requests", "1", "--process-group", "piped"]))
    conf = open(os.path.join(sr.root, "httpd.conf")).read()
    assert "WSGITelemetryService unix:%s/telemetry/telemetry.sock interval=0.5" % sr.root in conf
    for _ in range(5):
        fetch(sr.url + "/")
    slow = threading.Thread(target=fetch, args=(sr.url + "/sleep",), kwargs={"timeout": 10})
    slow.start()
    deadline = time.time() + 30
    state = None
    while time.time() < deadline:
        try:
            state = json.loads(fetch("http://127.0.0.1:%d/api/state" % ui)[1])
            text = json.dumps(state)
            if "piped" in text and "/sleep" in text:
                break
        except Exception:
            pass
        time.sleep(0.5)
    slow.join()
    assert state is not None, "the telemetry UI never answered on 127.0.0.1:%d" % ui
    text = json.dumps(state)
    daemon_pid = int(subprocess.run(["pgrep", "-f", "wsgi:piped"], capture_output=True, text=True).stdout.split()[0])
    assert "piped" in text and str(daemon_pid) in text, text[:2000]
    assert "/sleep" in text, "no slow request naming /sleep in /api/state: " + text[:2000]
    top = subprocess.run([os.path.join(telemetry_venv, "bin", "mod_wsgi-telemetry"), "top", "--once",
                          "--url", "ws://127.0.0.1:%d/ws" % ui, "--no-color"],
                         capture_output=True, text=True, timeout=30)
    assert top.returncode == 0, top.stderr
    assert str(daemon_pid) in top.stdout or "piped" in top.stdout, top.stdout


# ---- GC telemetry: gc_snapshot and gc_event, per interpreter ----------------------------------

GC_APP = b"""
import gc, json, os, mod_wsgi
def application(environ, start_response):
    path = environ['PATH_INFO']
    out = {'pid': os.getpid(), 'group': mod_wsgi.application_group}
    if path == '/gc':
        # Only the collections asked for here from now on; thresholds the snapshots must show.
        gc.disable()
        gc.set_threshold(1234, 11, 12)
        class Node:
            pass
        for _ in range(500):
            a, b = Node(), Node()
            a.other, b.other = b, a
        del a, b
        out['collected'] = gc.collect()
        gc.freeze()
    elif path == '/many':
        for _ in range(300):
            gc.collect(0)
    # (Objects of this request that the freeze took leave the count as they go: it is read
    # again by the next request.)
    out['freeze'] = gc.get_freeze_count()
    out['stats'] = gc.get_stats()
    out['enabled'] = gc.isenabled()
    body = json.dumps(out).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
"""


def gc_kinds(samples, kind, pid, interpreter=None):
    return [s["fields"] for s in samples if s["kind"] == kind and s["pid"] == pid
            and s["fields"].get("interpreter_name") == interpreter]


@pytest.mark.parametrize("mode", ["daemon", "embedded"])
def test_gc_telemetry_field_by_field(setup_server, workdir, dump, mode):
    """gc_snapshot carries gc.get_threshold(), get_stats(), isenabled(), get_freeze_count() of the
    interpreter as the application saw them; a forced gc.collect() arrives as a gc_event of
    generation 2 with the count it returned; the ring overflows into gc_dropped_events."""
    app = write(os.path.join(workdir, "app.py"), GC_APP)
    args = [app, "--telemetry-service", "unix:" + dump.path, "--telemetry-interval", "0.5"]
    args += ["--embedded-mode"] if mode == "embedded" else ["--processes", "1", "--threads", "2"]
    sr = started(setup_server(args))
    collected = json.loads(fetch(sr.url + "/gc")[1])["collected"]
    seen = json.loads(fetch(sr.url + "/")[1])
    pid = seen["pid"]
    # The tick after the request: its snapshot read after the collection, then its event.
    samples = dump.wait(lambda s: any(f["gc_freeze_count"] == seen["freeze"] for f in gc_kinds(s, "gc_snapshot", pid))
                        and any(f["gc_event_generation"] == 2 for f in gc_kinds(s, "gc_event", pid)))
    # %{GLOBAL} only: one interpreter, so no interpreter_name on any of them.
    assert not [s for s in samples if s["kind"].startswith("gc_") and "interpreter_name" in s["fields"]]
    snap = [f for f in gc_kinds(samples, "gc_snapshot", pid) if f["gc_freeze_count"] == seen["freeze"]][-1]
    assert (snap["gc_threshold0"], snap["gc_threshold1"], snap["gc_threshold2"]) == (1234, 11, 12)
    for g in range(3):
        for key in ("collections", "collected", "uncollectable"):
            assert snap["gc_%s%d" % (key, g)] == seen["stats"][g][key], (key, g, snap, seen["stats"])
    assert snap["gc_is_enabled"] == 0 and seen["enabled"] is False
    assert snap["gc_freeze_count"] == seen["freeze"] > 0
    # Right after a full collection with collection disabled: no older generation has counted.
    assert snap["gc_count1"] == 0 and snap["gc_count2"] == 0 and snap["gc_count0"] >= 0
    assert snap["gc_dropped_events"] == 0
    full = [f for f in gc_kinds(samples, "gc_event", pid) if f["gc_event_generation"] == 2]
    assert full, gc_kinds(samples, "gc_event", pid)
    event = full[-1]
    assert event["gc_event_collected"] == collected >= 1000
    assert event["gc_event_uncollectable"] == 0
    assert 0 <= event["gc_event_duration"] < 5
    assert abs(event["gc_event_start_stamp"] - time.time()) < 60
    # 300 collections in one request: the ring keeps 256; every collection is either an event
    # or counted as dropped, and the drain sends at most 64 a tick.
    before = len(gc_kinds(dump.samples(), "gc_event", pid))
    many = json.loads(fetch(sr.url + "/many")[1])
    assert many["pid"] == pid
    want = before + 300

    def accounted(s):
        events = len(gc_kinds(s, "gc_event", pid))
        dropped = sum(f["gc_dropped_events"] for f in gc_kinds(s, "gc_snapshot", pid))
        return events + dropped >= want and events >= before + 256

    samples = dump.wait(accounted, timeout=30)
    events = gc_kinds(samples, "gc_event", pid)
    dropped = sum(f["gc_dropped_events"] for f in gc_kinds(samples, "gc_snapshot", pid))
    assert len(events) + dropped == want and dropped == 300 - 256
    assert all(e["gc_event_generation"] == 0 for e in events[before:])
    # Per tick and interpreter at most 64 gc_event datagrams follow a gc_snapshot.
    run_ = 0
    for s in samples:
        if s["pid"] != pid:
            continue
        if s["kind"] == "gc_snapshot":
            run_ = 0
        elif s["kind"] == "gc_event":
            run_ += 1
            assert run_ <= 64
    errors = dump.stop()
    assert "decode error" not in errors and "Traceback" not in errors, errors


def test_gc_telemetry_per_interpreter(setup_server, workdir, dump):
    """Two interpreters in the daemon process (the main one and the application group's): one
    gc_snapshot each per tick, the sub-interpreter's named, and each with its own counters."""
    app = write(os.path.join(workdir, "app.py"), GC_APP)
    sr = started(setup_server([app, "--telemetry-service", "unix:" + dump.path, "--telemetry-interval", "0.5",
                               "--application-group", "gcgroup", "--processes", "1"]))
    collected = json.loads(fetch(sr.url + "/gc")[1])["collected"]
    seen = json.loads(fetch(sr.url + "/")[1])
    assert seen["group"] == "gcgroup"
    pid = seen["pid"]
    samples = dump.wait(lambda s: any(f["gc_freeze_count"] == seen["freeze"]
                                      for f in gc_kinds(s, "gc_snapshot", pid, "gcgroup"))
                        and len([x for x in s if x["kind"] == "request_metrics" and x["pid"] == pid]) >= 4)
    named = [f for f in gc_kinds(samples, "gc_snapshot", pid, "gcgroup") if f["gc_freeze_count"] == seen["freeze"]][-1]
    assert named["gc_collections2"] == seen["stats"][2]["collections"]
    # The main interpreter's are its own (never disabled, default thresholds), and unnamed.
    main = gc_kinds(samples, "gc_snapshot", pid, None)[-1]
    assert main["gc_is_enabled"] == 1 and main["gc_threshold0"] != 1234
    events = gc_kinds(samples, "gc_event", pid, "gcgroup")
    assert any(e["gc_event_generation"] == 2 and e["gc_event_collected"] == collected for e in events)
    # Each tick sends the process's request_metrics first, then one gc_snapshot per interpreter.
    # (From the first tick after the application group's interpreter was made.)
    seqs = sorted((s["seq"], s["kind"], s["fields"].get("interpreter_name")) for s in samples if s["pid"] == pid)
    first = min(i for i, x in enumerate(seqs) if x[2] == "gcgroup")
    ticks = [i for i, x in enumerate(seqs) if x[1] == "request_metrics" and i > first]
    assert len(ticks) >= 2, seqs
    for a, b in zip(ticks, ticks[1:]):
        snaps = [x[2] for x in seqs[a:b] if x[1] == "gc_snapshot"]
        assert sorted(snaps, key=str) == sorted([None, "gcgroup"], key=str), seqs[a:b]


def test_enable_telemetry_embedded_mode(setup_server, workdir, telemetry_venv):
    """As mod_wsgi-express 6.1.1: --enable-telemetry with --embedded-mode runs the ingester as a
    service daemon process, and the Apache children that run the application report to it."""
    app = write(os.path.join(workdir, "app.py"), APP)
    ui = free_port()
    sr = started(setup_server([app, "--embedded-mode", "--python-home", telemetry_venv, "--enable-telemetry",
                               "--telemetry-ui-port", str(ui), "--telemetry-interval", "0.5"]))
    conf = open(os.path.join(sr.root, "httpd.conf")).read()
    assert "WSGIDaemonProcess service:telemetry " in conf and "WSGITelemetryService unix:" in conf
    served = set()
    deadline = time.time() + 30
    state = None
    while time.time() < deadline:
        for _ in range(3):
            fetch(sr.url + "/")
        try:
            state = json.loads(fetch("http://127.0.0.1:%d/api/state" % ui)[1])
            reporting = {p["pid"]: p for p in state["processes"] if p.get("samples")}
            if reporting and all(p["gc_snapshots"] for p in reporting.values()):
                break
        except Exception:
            pass
        time.sleep(0.5)
    assert state is not None, "the telemetry UI never answered on 127.0.0.1:%d" % ui
    reporting = {p["pid"]: p for p in state["processes"] if p.get("samples")}
    children = {int(p) for p in subprocess.run(["pgrep", "-P", str(sr.pid())], capture_output=True,
                                                text=True).stdout.split()}
    service = {int(p) for p in subprocess.run(["pgrep", "-f", "service:telemetry"], capture_output=True,
                                               text=True).stdout.split()}
    assert service and reporting, (service, state)
    # Every reporter is an Apache child (embedded, no process group); the service reports nothing.
    assert set(reporting) <= children - service, (reporting.keys(), children, service)
    assert all(not p["process_group"] for p in reporting.values())
    assert sum(s["fields"]["request_count"] for p in reporting.values() for s in p["samples"]) >= 3
    assert all(p["gc_snapshots"] for p in reporting.values())


def expected_layout(kind, fields, daemon):
    """mod_wsgi 6.1.1's encoders (wsgi_telemetry.c), as (field id, type) in order, for a datagram
    of `kind` whose decoded `fields` say which optional parts are there."""
    identity = [(i, 4) for i in (1, 2, 3, 4, 5)] + ([(6, 4)] if daemon else [])
    reason = [(130, 4)] if fields.get("shutdown_reason") else []
    if kind == 5:
        return identity + [(7, 1)] + ([(13, 2)] if "switch_interval" in fields else [])
    if kind == 6:
        return identity[4:] + reason + [(133, 1)]
    if kind == 7:
        return identity[4:] + reason + [(131, 2), (132, 1), (134, 1), (135, 1)]
    if kind == 2:
        timing = daemon and fields["request_count"] > 0
        out = identity + [(7, 1), (10, 2), (11, 2), (12, 2), (13, 2), (20, 1), (21, 2), (22, 2), (30, 2), (31, 2),
                          (32, 2), (40, 1), (41, 1), (50, 1), (51, 1), (52, 1)]
        out += [(i, 2) for i in (60, 63, 64, 65, 66, 67) + ((61, 62) if timing else ())]
        if fields["request_count"] > 0:
            out += [(i, 2) for p in (0, 3, 4, 5, 6, 7) + ((1, 2) if timing else ()) for i in (70 + p, 80 + p)]
        out += [(i, 5) for i in (90, 93) + ((91, 92) if timing else ()) + (94, 95, 96, 97)]
        out += [(i, 1) for i in (100, 101, 102, 103, 120, 121, 122, 123, 124)]
        return out + [(110, 5), (111, 6), (112, 6), (113, 6), (114, 6)]
    if kind == 4:
        names = {204: "slow_log_id", 210: "slow_method", 211: "slow_scheme", 212: "slow_hostname",
                 213: "slow_script_name", 214: "slow_path_info", 215: "slow_protocol", 216: "slow_peer_ip",
                 217: "slow_user_agent"}
        return ([(200, 1), (201, 2), (202, 2), (203, 1), (205, 1), (230, 1), (231, 1), (232, 1), (233, 1),
                 (250, 2), (251, 2), (220, 2), (221, 2), (222, 2), (223, 2), (224, 2), (225, 1), (234, 2), (235, 2),
                 (260, 1), (261, 1), (240, 1)] + [(i, 4) for i in sorted(names) if fields.get(names[i])])
    name = [(8, 4)] if "interpreter_name" in fields else []
    if kind == 8:
        return [(300 + i, 1) for i in range(18)] + name
    if kind == 9:
        return [(320, 2), (321, 2), (322, 1), (323, 1), (324, 1)] + name
    raise AssertionError("kind %d is not one mod_wsgi 6.1.1 sends" % kind)


@pytest.mark.parametrize("mode", ["daemon", "embedded"])
def test_every_datagram_is_laid_out_as_mod_wsgi_6_1_1s(setup_server, workdir, telemetry_venv, mode):
    """Every datagram of a run (start, requests, a slow request, GC, stop) decoded by the
    mod_wsgi-telemetry package and checked, record by record, against 6.1.1's encoder."""
    path, recv = raw_receiver(workdir, timeout=0.5)
    raws, stop = [], threading.Event()

    def collect():
        while not stop.is_set():
            try:
                raws.append(recv.recv(65536))
            except socket.timeout:
                pass

    collector = threading.Thread(target=collect)
    collector.start()
    try:
        app = write(os.path.join(workdir, "app.py"), APP)
        args = [app, "--telemetry-service", "unix:" + path, "--telemetry-interval", "0.5", "--slow-requests", "1",
                "--telemetry-options", "+CaptureUserAgent"]
        args += ["--embedded-mode"] if mode == "embedded" else ["--process-group", "laid-out"]
        sr = started(setup_server(args))
        for p in ["/", "/missing", "/collect"]:
            fetch(sr.url + p)
        fetch(sr.url + "/sleep", timeout=10)
        time.sleep(1.2)
        sr.stop()
        time.sleep(1)
    finally:
        stop.set()
        collector.join()
        recv.close()
    decoded = subprocess.run(
        [os.path.join(telemetry_venv, "bin", "python"), "-c",
         "import sys, json\nfrom mod_wsgi.telemetry import wire\n"
         "for line in sys.stdin:\n"
         "    s = wire.decode(bytes.fromhex(line.strip()))\n"
         "    print(json.dumps({'kind': s.kind, 'pid': s.pid, 'seq': s.seq, 'fields': {k: (v.decode() if "
         "isinstance(v, bytes) else v) for k, v in s.fields.items()}}))"],
        input="\n".join(r.hex() for r in raws), capture_output=True, text=True)
    assert decoded.returncode == 0, decoded.stderr
    samples = [json.loads(line) for line in decoded.stdout.splitlines()]
    assert len(samples) == len(raws)
    seen_kinds = set()
    seqs = {}
    for raw, s in zip(raws, samples):
        (magic, version, kind, flags, pid, seq), layout = tlv_layout(raw)
        assert (magic, version, flags, kind, pid, seq) == (b"WSGI", 1, 0, s["kind"], s["pid"], s["seq"])
        assert layout == expected_layout(kind, s["fields"], mode == "daemon"), (kind, layout, s["fields"])
        seen_kinds.add(kind)
        seqs.setdefault(pid, []).append(seq)
    # Each process numbers its datagrams 1, 2, 3... (no other process's, none lost here).
    for pid, numbers in seqs.items():
        assert numbers == list(range(1, len(numbers) + 1)), (pid, numbers)
    assert seen_kinds == {2, 4, 5, 6, 7, 8, 9}, seen_kinds
    slow = [s["fields"] for s in samples if s["kind"] == 4]
    assert {f["slow_record_state"] for f in slow} == {0, 1}
    assert all(f["slow_user_agent"].startswith("Python-urllib") for f in slow)


GIL_WAIT_APP = b"""
import threading, time
def spin(stop):
    while not stop.is_set():
        pass
def application(environ, start_response):
    # A thread of the application's hogs the GIL; each write of the response gives the GIL up
    # and waits to take it back.
    stop = threading.Event()
    t = threading.Thread(target=spin, args=(stop,))
    t.start()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    try:
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            yield b'x' * 100
    finally:
        stop.set()
        t.join()
"""


def test_running_slow_request_carries_its_gil_waits_so_far(setup_server, workdir, dump):
    """As mod_wsgi 6.1.1's slot: a record of a request still running has its GIL waits so far;
    its completed record the final ones."""
    app = write(os.path.join(workdir, "app.py"), GIL_WAIT_APP)
    sr = started(setup_server([app, "--telemetry-service", "unix:" + dump.path, "--telemetry-interval", "0.5",
                               "--slow-requests", "1"]))
    fetch(sr.url + "/", timeout=20)
    samples = dump.wait(lambda s: {x["fields"]["slow_record_state"] for x in kinds(s, "slow_request")} >= {0, 1})
    # started()'s probe of "/" is a request of this app too: compare one request's records.
    done = [x["fields"] for x in kinds(samples, "slow_request") if x["fields"]["slow_record_state"] == 1][-1]
    running = [x["fields"] for x in kinds(samples, "slow_request")
               if x["fields"]["slow_record_state"] == 0 and x["fields"]["slow_log_id"] == done["slow_log_id"]]
    assert any(f["slow_gil_wait_count"] > 0 and f["slow_gil_wait_time"] > 0 for f in running), running
    assert done["slow_gil_wait_count"] >= max(f["slow_gil_wait_count"] for f in running)
    assert done["slow_output_writes"] > 0
