"""Issue 2, point 3: the WSGI environ, to the letter of PEP 3333 and of mod_wsgi embedded mode
(6.1's where it changed 4.9's: issue 23)."""
import json
import os
import socket
import time

import pytest

from apache_harness import FIXTURES, REFERENCE, REFERENCE_VERSION, module_apache, parse_raw

env = module_apache(r"""
WSGIScriptAlias /env @APPS@/env.wsgi
WSGIScriptAlias /input @APPS@/input.wsgi
WSGIScriptAlias /b @APPS@/behave.wsgi
""")

# The environ's keys as mod_wsgi gives them: 4.9.4's (Debian), and 6.1.1's, which this project
# follows (no PATH_TRANSLATED, GATEWAY_INTERFACE, SERVER_SIGNATURE; mod_wsgi.application_start
# and mod_wsgi.server_pid; none of 4.9's script_start, script_reloading, enable_sendfile,
# ignore_activity, thread_requests, total_requests).
REF_FILE = os.path.join(FIXTURES, "reference_environ_keys_61.json" if REFERENCE_VERSION != "4.9"
                        else "reference_environ_keys.json")
READ_MAX_OURS = pytest.mark.ours_only  # mod_wsgi 4.9.4 and 6.1.1 answer 500 to read(sys.maxsize)
STD_HEADERS = {"User-Agent": "mwt/1", "X-Test": "yes", "Accept": "*/*"}


def _keys(a, method):
    if method == "GET":
        r = a.get("/env/p/q?x=1", headers=STD_HEADERS)
    else:
        r = a.post("/env/p/q?x=1", b"a=1&b=2", headers=dict(STD_HEADERS, **{
            "Content-Type": "application/x-www-form-urlencoded"}))
    assert r.status == 200, r
    return sorted(k for k in r.json() if k != "_")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_environ_key_set_matches_reference(env, method):
    keys = _keys(env, method)
    if REFERENCE and os.environ.get("MOD_WSGI_RECORD_REFERENCE") == "1":
        data = {}
        if os.path.exists(REF_FILE):
            data = json.load(open(REF_FILE))
        data[method] = keys
        data["_recorded_with"] = (
            "Debian libapache2-mod-wsgi-py3 4.9.4, Apache 2.4, Python 3.11, embedded mode" if REFERENCE_VERSION == "4.9"
            else "mod_wsgi 6.1.1 (pip), Apache 2.4, Python 3.11, embedded mode")
        with open(REF_FILE, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
    ref = json.load(open(REF_FILE))[method]
    missing = sorted(set(ref) - set(keys))
    extra = sorted(set(keys) - set(ref))
    assert not missing and not extra, "missing: %s; extra: %s" % (missing, extra)


def _raw_get(a, target, extra=b"", proto=b"HTTP/1.1"):
    s = a.connect()
    try:
        local_port = s.getsockname()[1]
        s.sendall(b"GET " + target + b" " + proto + b"\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n" % a.port
                  + extra + b"\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    finally:
        s.close()
    status, headers, body = parse_raw(data)
    return status, json.loads(body), local_port


def test_cgi_values(env):
    status, e, local_port = _raw_get(env, b"/env/caf%C3%A9/x?y=1&z=%20",
                                     b"X-Multi: one\r\nX-Multi: two\r\nX-Dash-Name: d\r\n")
    assert status == 200
    port = env.port
    assert e["REQUEST_METHOD"] == "GET"
    assert e["SCRIPT_NAME"] == "/env"
    assert e["PATH_INFO"] == "/caf\u00c3\u00a9/x"  # bytes decoded as latin-1, per PEP 3333
    assert e["QUERY_STRING"] == "y=1&z=%20"
    assert e["REQUEST_URI"] == "/env/caf%C3%A9/x?y=1&z=%20"
    assert e["SERVER_NAME"] == "127.0.0.1"
    assert e["SERVER_PORT"] == str(port)
    assert e["SERVER_ADDR"] == "127.0.0.1"
    assert e["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert e["SERVER_SOFTWARE"].startswith("Apache/2.4")
    assert e["SERVER_ADMIN"] == "admin@example.test"
    assert e["REMOTE_ADDR"] == "127.0.0.1"
    assert e["REMOTE_PORT"] == str(local_port)
    assert e["REQUEST_SCHEME"] == "http"
    assert e["DOCUMENT_ROOT"] == env.htdocs
    assert e["CONTEXT_PREFIX"] == ""
    assert e["CONTEXT_DOCUMENT_ROOT"] == env.htdocs
    assert e["SCRIPT_FILENAME"] == os.path.join(env.apps, "env.wsgi")
    assert e["HTTP_HOST"] == "127.0.0.1:%d" % port
    assert e["HTTP_X_MULTI"] == "one, two"
    assert e["HTTP_X_DASH_NAME"] == "d"
    assert "CONTENT_LENGTH" not in e and "CONTENT_TYPE" not in e
    assert "HTTPS" not in e
    for k, v in e.items():
        if k != "_" and not (k.startswith("wsgi.") or k.startswith("mod_wsgi.") or k.startswith("apache.")):
            assert isinstance(v, str), (k, v)


@pytest.mark.mod_wsgi_61
def test_cgi_variables_6_1_leaves_out(env):
    # mod_wsgi 6.0 sets the CGI variables itself: no PATH_TRANSLATED (Apache's sub-request),
    # GATEWAY_INTERFACE, SERVER_SIGNATURE, REMOTE_HOST, REMOTE_IDENT, PATH.
    status, e, _ = _raw_get(env, b"/env/caf%C3%A9/x?y=1&z=%20")
    assert status == 200
    for k in ("PATH_TRANSLATED", "GATEWAY_INTERFACE", "SERVER_SIGNATURE", "REMOTE_HOST", "REMOTE_IDENT", "PATH"):
        assert k not in e, k


def test_http_10_protocol(env):
    status, e, _ = _raw_get(env, b"/env", proto=b"HTTP/1.0")
    assert status == 200 and e["SERVER_PROTOCOL"] == "HTTP/1.0"


def test_header_with_underscore_is_dropped(env):
    # Apache 2.4 drops request headers whose names contain '_' from the CGI variables
    status, e, _ = _raw_get(env, b"/env", b"X_Under: 1\r\n")
    assert "HTTP_X_UNDER" not in e


def test_content_type_and_length(env):
    r = env.post("/env", b"0123456789", headers={"Content-Type": "text/x-test; charset=utf-8"})
    e = r.json()
    assert e["CONTENT_LENGTH"] == "10"
    assert e["CONTENT_TYPE"] == "text/x-test; charset=utf-8"
    assert "HTTP_CONTENT_LENGTH" not in e and "HTTP_CONTENT_TYPE" not in e
    assert e["REQUEST_METHOD"] == "POST"


def test_wsgi_keys(env):
    e = env.get("/env").json()
    x = e["_"]
    assert x["wsgi.version"] == [1, 0]
    assert e["wsgi.version"]["type"] == "tuple"
    assert e["wsgi.url_scheme"] == "http"
    assert x["wsgi.run_once"] is False
    assert x["wsgi.multithread"] is True   # event MPM
    assert x["wsgi.multiprocess"] is False  # ServerLimit 1
    assert x["wsgi.input_terminated"] is True
    assert "wsgi.errors" in e and "wsgi.input" in e and "wsgi.file_wrapper" in e
    assert len(x["apache.version"]) == 3 and x["apache.version"][:2] == [2, 4]


def test_mod_wsgi_keys(env):
    e1 = env.get("/env/one").json()
    e = env.get("/env/two").json()
    port = env.port
    assert e["mod_wsgi.process_group"] == ""
    assert e["mod_wsgi.application_group"] == "127.0.0.1:%d|/env" % port
    assert e["mod_wsgi.callable_object"] == "application"
    assert e["mod_wsgi.handler_script"] == ""
    assert e["mod_wsgi.request_handler"] == "wsgi-script"
    assert e["mod_wsgi.script_name"] == "/env"
    assert e["mod_wsgi.path_info"] == "/two"
    assert e["mod_wsgi.listener_host"] == "127.0.0.1"
    assert e["mod_wsgi.listener_port"] == str(port)
    assert isinstance(e["mod_wsgi.request_id"], str) and e["mod_wsgi.request_id"]
    assert e["mod_wsgi.request_id"] != e1["mod_wsgi.request_id"]
    assert e["mod_wsgi.thread_id"]["type"] == "int"
    assert e["mod_wsgi.version"]["type"] == "tuple" and len(e["_"]["mod_wsgi.version"]) == 3


@pytest.mark.mod_wsgi_61
def test_mod_wsgi_timing_keys(env):
    # mod_wsgi 6.0: float seconds since the epoch, as in the events; queue_start and
    # daemon_start 0.0 in embedded mode; script_start is application_start.
    before = time.time()
    e1 = env.get("/env/one").json()
    e = env.get("/env/two").json()
    after = time.time()
    for k in ("mod_wsgi.request_start", "mod_wsgi.application_start"):
        assert e[k]["type"] == "float", k
        t = float(e[k]["repr"])
        assert before - 120 < t < after + 1, (k, t)
    assert float(e["mod_wsgi.request_start"]["repr"]) <= float(e["mod_wsgi.application_start"]["repr"])
    assert float(e1["mod_wsgi.request_start"]["repr"]) <= float(e["mod_wsgi.request_start"]["repr"])
    for k in ("mod_wsgi.queue_start", "mod_wsgi.daemon_start"):
        assert e[k] == {"type": "float", "repr": "0.0"}, k
    assert int(e["mod_wsgi.server_pid"]) in env.children()
    for k in ("mod_wsgi.script_start", "mod_wsgi.script_reloading", "mod_wsgi.enable_sendfile",
              "mod_wsgi.ignore_activity", "mod_wsgi.thread_requests", "mod_wsgi.total_requests"):
        assert k not in e, k


# ------------------------------------------------------------------ wsgi.input
BODY = b"".join(b"line %04d of the request body, with some padding...\n" % i for i in range(300)) + b"no newline"


def _input(a, mode, n=7, body=BODY):
    r = a.post("/input?mode=%s&n=%d" % (mode, n), body, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200, r
    return r.json()


@pytest.mark.parametrize("mode,n", [("read", 0), ("readn", 7), ("readn", 1000), ("readn", 100000),
                                    ("read_big", 0), pytest.param("read_max", 0, marks=READ_MAX_OURS), ("read0", 0),
                                    ("readline", 0), ("readline_n", 10),
                                    ("readline_n", 100), ("readlines", 0), ("iter", 0)])
def test_input_modes_read_exact_body(env, mode, n):
    j = _input(env, mode, n)
    assert bytes.fromhex(j["data"]) == BODY
    assert j["CONTENT_LENGTH"] == str(len(BODY))
    if "after" in j:
        assert j["after"] == ""
    if mode in ("readline", "readlines", "iter"):
        lines = [bytes.fromhex(l) for l in j["lines"]]
        assert lines == BODY.splitlines(True)
    if mode == "readline_n":
        lines = [bytes.fromhex(l) for l in j["lines"]]
        assert all(len(l) <= n for l in lines)
    if mode == "read0":
        assert j["zero"] == ""


def test_input_empty_bodies(env):
    j = _input(env, "read", body=b"")
    assert j["data"] == "" and j["CONTENT_LENGTH"] in ("0", "<absent>")
    r = env.get("/input?mode=read", timeout=5)
    assert r.status == 200 and r.json()["data"] == ""
    r = env.get("/input?mode=readlines", timeout=5)
    assert r.json()["lines"] == []


def _read_responses(sock, count, timeout=10):
    sock.settimeout(timeout)
    buf = b""
    out = []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        hdrs = {l.split(b":", 1)[0].strip().lower(): l.split(b":", 1)[1].strip() for l in lines[1:]}
        length = int(hdrs[b"content-length"])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        out.append((int(lines[0].split()[1]), rest[:length]))
        buf = rest[length:]
    return out


@pytest.mark.parametrize("mode", ["read_big", "readn", "readlines", "iter"])
def test_input_never_reads_past_body_pipelined(env, mode):
    body = b"abc\ndef\n" * 50
    req1 = (b"POST /input?mode=%s&n=1000 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" % (mode.encode(), len(body))) + body
    req2 = b"GET /env/second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with env.connect() as s:
        s.sendall(req1 + req2)
        res = _read_responses(s, 2)
    assert len(res) == 2, res
    assert res[0][0] == 200 and bytes.fromhex(json.loads(res[0][1])["data"]) == body
    assert res[1][0] == 200 and json.loads(res[1][1])["PATH_INFO"] == "/second"


@pytest.mark.parametrize("mode", ["read", pytest.param("read_max", marks=READ_MAX_OURS), "readn"])
def test_input_body_longer_than_content_length_after_inflate(apache_factory, mode):
    # SetInputFilter DEFLATE: the application reads the inflated body, longer than the
    # Content-Length (of the gzip data) that CONTENT_LENGTH still says. read() must read on
    # to the end of the body, not stop at CONTENT_LENGTH.
    import gzip
    a = apache_factory("""
WSGIScriptAlias /input @APPS@/input.wsgi
<Location /input>
    SetInputFilter DEFLATE
</Location>
""", modules=("deflate",))
    body = gzip.compress(BODY)
    r = a.post("/input?mode=%s&n=1000" % mode, body, headers={
        "Content-Type": "application/octet-stream", "Content-Encoding": "gzip"})
    assert r.status == 200, r
    j = r.json()
    assert bytes.fromhex(j["data"]) == BODY and len(BODY) > len(body)
    assert j.get("after", "") == ""


def test_input_chunked_refused_by_default(env):
    req = (b"POST /input?mode=read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           b"5\r\nhello\r\n0\r\n\r\n")
    status, _, _ = parse_raw(env.raw(req))
    assert status == 411


# ------------------------------------------------------------------ wsgi.errors, file_wrapper
def test_wsgi_errors_go_to_error_log(env):
    mark = env.log_size()
    r = env.get("/b/errors?token=err-tok-1")
    assert r.status == 200
    env.wait_log(r"wsgi\.errors write err-tok-1", since=mark)
    env.wait_log(r"wsgi\.errors writelines err-tok-1", since=mark)


def test_wsgi_errors_is_not_readable(env):
    r = env.get("/b/errors_read")
    assert r.status == 200
    # 6.x: an io.TextIOWrapper refuses itself (io.UnsupportedOperation, an OSError).
    assert r.text.splitlines() == ["read OSError: not readable", "readline OSError: not readable"]


def test_file_wrapper(env):
    path = os.path.join(env.apps, "behave.wsgi")
    data = open(path, "rb").read()
    for blk in (1, 8192, 10 ** 6):
        r = env.get("/b/file?path=%s&blksize=%d" % (path, blk))
        assert r.status == 200 and r.body == data
    r = env.get("/b/file?path=%s&cl=100" % path)
    assert r.status == 200 and r.body == data[:100]
    assert r.header("Content-Length") == "100"


def test_file_wrapper_closes_filelike(env):
    r = env.get("/b/file_close?name=fw1")
    assert r.body == b"filelike data"
    assert env.wait_marker("close-fw1") is not None


def test_file_wrapper_head(env):
    path = os.path.join(env.apps, "behave.wsgi")
    r = env.head("/b/file?path=%s" % path)
    assert r.status == 200 and r.body == b""
