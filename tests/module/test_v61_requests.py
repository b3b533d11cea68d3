"""Issue 23: mod_wsgi 6.1's request handling, where it changed 4.9's, in embedded mode and in a
daemon process group alike: start_response()'s checks and messages, what the application gets
when it misbehaves, the log lines of an exception and of loading a script, events, environ,
wsgi.errors and the standard streams, repeated response headers.

Every test here was run against mod_wsgi 6.1.1 (`make module-test-61`) and fails against 4.9.4
(`make module-test-reference` skips those: marker mod_wsgi_61). The others describe what 4.9
and 6.1 both do, where this project did otherwise."""
import json
import os
import re
import time
from urllib.parse import quote

import pytest

from apache_harness import Apache, REFERENCE, _chown_tree

MODES = {
    "embedded": ("main interpreter in embedded mode", ""),
    "daemon": ("main interpreter of daemon process 'v61'",
               "WSGIDaemonProcess v61 threads=4\nWSGIProcessGroup v61\n"),
}


@pytest.fixture(scope="module", params=sorted(MODES))
def srv(request, module_file):
    context, daemon = MODES[request.param]
    a = Apache("WSGIScriptAlias /v @APPS@/v61.wsgi\n" + daemon + "WSGIApplicationGroup %{GLOBAL}\n"
               "<Location /v/https>\nSetEnv HTTPS on\n</Location>\n", name="v61")
    a.mode = request.param
    a.context = context
    a.script = os.path.join(a.apps, "v61.wsgi")
    try:
        a.start()
        yield a
    finally:
        a.cleanup()


# An identifier before the text: ours (MWnnnn) or mod_wsgi 6.1's (WSGInnnn), or none.
ID = r"(?:(?:MW|WSGI)\d{4}: )?"


def line_after(a, since, pattern, timeout=5.0):
    """The first error-log line after `since` matching `pattern` (a regex of the text after
    Apache's decoration and the identifier)."""
    return a.wait_log(r"(?m)\] " + ID + pattern, since=since, timeout=timeout)


# What mod_wsgi 6.1.1 raises for each start_response() call of v61.wsgi's SR_CASES.
START_RESPONSE = {
    "exc_info_list": ("RuntimeError", "start_response() argument 'exc_info' must be a 3-tuple or None"),
    "exc_info_str": ("RuntimeError", "start_response() argument 'exc_info' must be a 3-tuple or None"),
    "header_list_item": ("TypeError", "each header must be a 2-tuple, not list"),
    "header_name_bytes": ("TypeError", "must be str, not bytes"),
    "header_name_crlf": ("ValueError", "control character in header name: b'X-A\\r\\nX-Injected'"),
    "header_name_ctl": ("ValueError", "control character in header name: b'X-\\x01A'"),
    "header_name_empty": ("ValueError", "header name is empty"),
    "header_name_int": ("TypeError", "must be str, not int"),
    "header_name_nonlatin": ("UnicodeEncodeError", "'latin-1' codec can't encode character '\\u2603' in "
                                                   "position 2: ordinal not in range(256)"),
    "header_name_space": ("ValueError", "space character in header name: b'X A'"),
    "header_name_tab": ("ValueError", "control character in header name: b'X\\tA'"),
    "header_name_trailing_space": ("ValueError", "space character in header name: b'X-A '"),
    "header_one_item": ("ValueError", "each header must be a 2-tuple, got length 1"),
    "header_str_item": ("TypeError", "each header must be a 2-tuple, not str"),
    "header_three_items": ("ValueError", "each header must be a 2-tuple, got length 3"),
    "header_value_bytes": ("TypeError", "must be str, not bytes"),
    "header_value_cr": ("ValueError", "carriage return/line feed character in header value: b'a\\rb'"),
    "header_value_crlf": ("ValueError", "carriage return/line feed character in header value: "
                                        "b'a\\r\\nX-Injected: yes'"),
    "header_value_int": ("TypeError", "must be str, not int"),
    "header_value_lf": ("ValueError", "carriage return/line feed character in header value: "
                                      "b'a\\nX-Injected: yes'"),
    "header_value_nonlatin": ("UnicodeEncodeError", "'latin-1' codec can't encode character '\\u2603' in "
                                                    "position 5: ordinal not in range(256)"),
    "headers_dict": ("TypeError", "start_response() argument 2 must be list, not dict"),
    "headers_none": ("TypeError", "start_response() argument 2 must be list, not None"),
    "headers_str": ("TypeError", "start_response() argument 2 must be list, not str"),
    "headers_tuple": ("TypeError", "start_response() argument 2 must be list, not tuple"),
    "none_args": ("TypeError", "start_response() takes at least 2 arguments (0 given)"),
    "status_bare": None,
    "status_bytes": ("TypeError", "must be str, not bytes"),
    "status_crlf": ("ValueError", "control character in status reason phrase: b'200 OK\\r\\nX-Injected: yes'"),
    "status_del": ("ValueError", "control character in status reason phrase: b'200 O\\x7fK'"),
    "status_empty": ("ValueError", "status code must be a 3 digit integer: b''"),
    "status_four_digits": ("ValueError", "status code must be a 3 digit integer: b'2000 OK'"),
    "status_int": ("TypeError", "must be str, not int"),
    "status_letters": ("ValueError", "status code must be a 3 digit integer: b'abc'"),
    "status_no_space": ("ValueError", "no space following status code: b'200OK'"),
    "status_none": ("TypeError", "must be str, not NoneType"),
    "status_nonlatin": ("UnicodeEncodeError", "'latin-1' codec can't encode character '\\u2603' in position 4: "
                                              "ordinal not in range(256)"),
    "status_tab": ("ValueError", "control character in status reason phrase: b'200 O\\tK'"),
    "status_two_digits": ("ValueError", "status code must be a 3 digit integer: b'20 OK'"),
    "too_few": ("TypeError", "start_response() takes at least 2 arguments (1 given)"),
    "too_many": ("TypeError", "start_response() takes at most 3 arguments (4 given)"),
}


@pytest.mark.mod_wsgi_61
def test_start_response_checks_raise_6_1s_exceptions(srv):
    got = {}
    for case in sorted(START_RESPONSE):
        r = srv.get("/v/sr?case=" + case)
        assert r.status == 200, (case, r, srv.log()[-2000:])
        j = r.json()
        got[case] = None if j is None else (j["type"], j["message"])
    assert got == START_RESPONSE


@pytest.mark.mod_wsgi_61
def test_a_bare_three_digit_status_is_accepted(srv):
    raw = srv.raw(b"GET /v/sr_status?s=200 HTTP/1.0\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n"), raw[:200]
    assert raw.endswith(b"status 200")


@pytest.mark.mod_wsgi_61
def test_start_response_again_after_output(srv):
    r = srv.get("/v/sr_second_after_output")
    assert r.body == (b'first;{"type": "RuntimeError", "message": '
                      b'"start_response() called more than once without exc_info"}')


def test_exc_info_is_unpacked_only_after_output(srv):
    assert srv.get("/v/sr_exc_info_pair_before_output").json() is None
    r = srv.get("/v/sr_exc_info_after_output")
    assert r.body == b'first;{"type": "TypeError", "message": "function takes exactly 3 arguments (2 given)"}'


@pytest.mark.mod_wsgi_61
def test_write_of_a_str(srv):
    assert srv.get("/v/write_str").body == b'{"type": "TypeError", "message": "write() argument must be bytes, not str"}'


@pytest.mark.mod_wsgi_61
@pytest.mark.parametrize("path,message", [
    ("/v/bad_content_length", r"ValueError: invalid Content-Length header value: 'abc'"),
    ("/v/yield_str", r"TypeError: response iterable must yield bytes, not str"),
    ("/v/no_start", r"RuntimeError: start_response\(\) must be called before response content is produced"),
    ("/v/no_start?body=1", r"RuntimeError: start_response\(\) must be called before response content is produced"),
])
def test_what_the_log_says_of_a_misbehaving_application(srv, path, message):
    since = srv.log_size()
    r = srv.get(path)
    assert r.status == 500
    head = line_after(srv, since, r"\[script %s\] (\w+) exception raised processing WSGI script '%s' for %s\."
                      % (re.escape(srv.script), re.escape(srv.script), re.escape(srv.context)))
    assert message.startswith(head.group(1))
    line_after(srv, head.end(), message)


@pytest.mark.mod_wsgi_61
@pytest.mark.parametrize("exc,after", [("RuntimeError", ""), ("KeyError", "start"), ("ValueError", "start")])
def test_the_exception_header_names_the_class(srv, exc, after):
    since = srv.log_size()
    token = "%s-%s-%s" % (srv.mode, exc, after)
    r = srv.get("/v/raise?exc=%s&after=%s&token=%s" % (exc, after, token))
    assert r.status == 500
    m = line_after(srv, since, r"\[script %s\] %s exception raised processing WSGI script '%s' for %s\.$"
                   % (re.escape(srv.script), exc, re.escape(srv.script), re.escape(srv.context)))
    last = "%s: %s" % (exc, repr("raised on purpose " + token) if exc == "KeyError" else "raised on purpose " + token)
    line_after(srv, m.end(), re.escape(last))
    # 6.x dropped the "mod_wsgi (pid=N): " prefix of 4.9.
    assert "mod_wsgi (pid=" not in srv.log(since)


@pytest.mark.mod_wsgi_61
def test_system_exit_has_its_own_header(srv):
    since = srv.log_size()
    r = srv.get("/v/raise?exc=SystemExit&token=se-" + srv.mode)
    assert r.status == 500
    m = line_after(srv, since, r"\[script %s\] SystemExit exception raised by WSGI script '%s' for %s; ignored\.$"
                   % (re.escape(srv.script), re.escape(srv.script), re.escape(srv.context)))
    line_after(srv, m.end(), re.escape("SystemExit: raised on purpose se-" + srv.mode))


@pytest.mark.mod_wsgi_61
def test_loading_is_logged_at_info_naming_the_interpreter(srv):
    assert srv.get("/v/identity").status == 200
    srv.wait_log(r"\[wsgi:info\] .*\] " + ID + re.escape("Loading WSGI script '%s' into %s." % (srv.script, srv.context)))


REQUEST_STARTED = {"application_object", "application_start", "callable_object", "daemon_connects",
                   "daemon_restarts", "daemon_start", "queue_start", "request_data", "request_environ",
                   "request_start", "server_pid", "thread_id"}
REQUEST_FINISHED = {"application_finish", "application_time", "cpu_system_time", "cpu_time", "cpu_user_time",
                    "daemon_start", "gil_wait_count", "gil_wait_time", "input_length", "input_reads",
                    "input_time", "output_length", "output_time", "output_writes", "queue_start", "request_data",
                    "request_start", "server_pid", "status", "thread_id"}


@pytest.mark.mod_wsgi_61
def test_events_carry_6_1s_keys_in_seconds(srv):
    r = srv.get("/v/event_source")
    assert r.status == 200
    env = r.json()
    deadline = time.time() + 5
    while True:  # request_finished comes once the response has gone out
        events = srv.get("/v/events?id=" + quote(env["mod_wsgi.request_id"], safe="")).json()
        if (events and "request_finished" in events) or time.time() > deadline:
            break
        time.sleep(0.05)
    assert events and "request_finished" in events, events
    started, finished = events["request_started"], events["request_finished"]
    assert REQUEST_STARTED <= set(started["keys"]), set(started["keys"]) ^ REQUEST_STARTED
    assert REQUEST_FINISHED <= set(finished["keys"]), set(finished["keys"]) ^ REQUEST_FINISHED
    for e in (started, finished):
        for k in ("request_start", "queue_start", "daemon_start"):
            assert e["types"][k] == "float", (k, e)
        assert e["types"]["thread_id"] == "int" and e["types"]["server_pid"] == "int"
    assert started["types"]["callable_object"] == "str" and started["values"]["callable_object"] == "application"
    for k in ("cpu_time", "application_time", "application_finish"):
        assert finished["types"][k] == "float"
    s, f = started["values"], finished["values"]
    now = time.time()
    # Seconds since the epoch, the same in the environ and both events.
    assert now - 60 < s["request_start"] <= s["application_start"] <= f["application_finish"] <= now + 1
    for k, ek in (("request_start", "mod_wsgi.request_start"), ("queue_start", "mod_wsgi.queue_start"),
                  ("daemon_start", "mod_wsgi.daemon_start"), ("application_start", "mod_wsgi.application_start")):
        assert isinstance(env[ek], float), (ek, env)
        assert abs(env[ek] - s[k]) < 1e-5, (k, env[ek], s[k])
    for k in ("request_start", "queue_start", "daemon_start", "thread_id", "server_pid"):
        assert s[k] == f[k], (k, s, f)
    assert isinstance(env["mod_wsgi.thread_id"], int) and env["mod_wsgi.thread_id"] == s["thread_id"]
    assert env["mod_wsgi.server_pid"] == str(s["server_pid"])
    if srv.mode == "embedded":
        assert s["queue_start"] == 0.0 and s["daemon_start"] == 0.0
        assert s["server_pid"] in srv.children()
    else:
        assert s["request_start"] <= s["queue_start"] <= s["daemon_start"] <= s["application_start"]
        assert s["server_pid"] in srv.children()  # the Apache child that relayed the request
    assert abs(f["cpu_time"] - (f["cpu_user_time"] + f["cpu_system_time"])) < 1e-6
    assert f["status"] == 200


# The environ of a GET from http.client in this configuration, as mod_wsgi 6.1.1 gives it (the
# same in both modes): no GATEWAY_INTERFACE, PATH_TRANSLATED, SERVER_SIGNATURE, REMOTE_HOST; none
# of 4.9's mod_wsgi.script_start / script_reloading / enable_sendfile / ignore_activity /
# thread_requests / total_requests; mod_wsgi.application_start and mod_wsgi.server_pid instead.
ENVIRON_KEYS = [
    "CONTEXT_DOCUMENT_ROOT", "CONTEXT_PREFIX", "DOCUMENT_ROOT", "HTTP_ACCEPT_ENCODING", "HTTP_HOST",
    "PATH_INFO", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_PORT", "REQUEST_METHOD", "REQUEST_SCHEME",
    "REQUEST_URI", "SCRIPT_FILENAME", "SCRIPT_NAME", "SERVER_ADDR", "SERVER_ADMIN", "SERVER_NAME",
    "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE", "apache.version", "mod_wsgi.application_group",
    "mod_wsgi.application_start", "mod_wsgi.callable_object", "mod_wsgi.daemon_start",
    "mod_wsgi.handler_script", "mod_wsgi.listener_host", "mod_wsgi.listener_port", "mod_wsgi.path_info",
    "mod_wsgi.process_group", "mod_wsgi.queue_start", "mod_wsgi.request_handler", "mod_wsgi.request_id",
    "mod_wsgi.request_start", "mod_wsgi.script_name", "mod_wsgi.server_pid", "mod_wsgi.thread_id",
    "mod_wsgi.version", "wsgi.errors", "wsgi.file_wrapper", "wsgi.input", "wsgi.input_terminated",
    "wsgi.multiprocess", "wsgi.multithread", "wsgi.run_once", "wsgi.url_scheme", "wsgi.version"]


@pytest.mark.mod_wsgi_61
def test_environ_has_6_1s_keys(srv):
    assert srv.get("/v/environ_keys").json() == ENVIRON_KEYS
    types = srv.get("/v/environ_types").json()
    for k in ("mod_wsgi.request_start", "mod_wsgi.queue_start", "mod_wsgi.daemon_start",
              "mod_wsgi.application_start"):
        assert types[k] == "float", (k, types)
    assert types["mod_wsgi.thread_id"] == "int" and types["mod_wsgi.server_pid"] == "str"


def test_the_https_variable_becomes_the_url_scheme(srv):
    # SetEnv HTTPS on (as mod_ssl's StdEnvVars sets it): wsgi.url_scheme says it; HTTPS is gone.
    j = srv.get("/v/https/environ?keys=HTTPS,wsgi.url_scheme").json()
    assert j == {"HTTPS": "'<absent>'", "wsgi.url_scheme": "'https'"}


@pytest.mark.mod_wsgi_61
def test_wsgi_errors_is_a_text_wrapper_and_lines_name_the_script(srv):
    since = srv.log_size()
    token = "err-" + srv.mode
    j = srv.get("/v/errors?token=" + token).json()
    assert j == {
        "type": "_io.TextIOWrapper", "isinstance_textio": True, "encoding": "utf-8", "errors": "replace",
        "line_buffering": True, "buffer_type": "mod_wsgi.Log", "name": "<wsgi.errors>",
        "stderr_type": "_io.TextIOWrapper", "stdout_type": "_io.TextIOWrapper",
        "stderr_name": "<stderr>", "stderr_buffer_name": "<stderr>"}
    for what in ("wsgi.errors line", "sys.stderr line", "sys.stdout line"):
        m = srv.wait_log(r"(?m)\[wsgi:error\] .*\[script %s\] %s %s$" % (re.escape(srv.script), what, token),
                         since=since)
        # During a request the streams write with the request's client, as wsgi.errors does.
        assert re.search(r"\[(client|remote) 127\.0\.0\.1:\d+\]", m.group(0)), m.group(0)


@pytest.mark.mod_wsgi_61
def test_wsgi_errors_kept_after_the_request_refuses_to_write(srv):
    assert srv.get("/v/errors_kept").status == 200
    assert srv.get("/v/errors_kept_write").json() == {
        "type": "RuntimeError", "message": "write() called on wsgi.errors after request completed"}


REPEATED = "X-A:1|X-A:2|Set-Cookie:a=1|Set-Cookie:b=2|x-a:3|Cache-Control:no-cache|Cache-Control:no-store|" \
           "WWW-Authenticate:Basic|WWW-Authenticate:Digest|Content-Type:text/html"
# mod_wsgi 6.1.1 on the wire, after Date and Server: in embedded mode the headers as given (the
# WWW-Authenticate ones first: Apache's error headers); in daemon mode as Apache's CGI header
# parser merges them in the Apache child: one line per name, Set-Cookie and WWW-Authenticate not.
REPEATED_ON_THE_WIRE = {
    "embedded": ["WWW-Authenticate: Basic", "WWW-Authenticate: Digest", "X-A: 1", "X-A: 2", "Set-Cookie: a=1",
                 "Set-Cookie: b=2", "x-a: 3", "Cache-Control: no-cache", "Cache-Control: no-store",
                 "Connection: close", "Content-Type: text/html"],
    "daemon": ["WWW-Authenticate: Basic", "WWW-Authenticate: Digest", "X-A: 1, 2, 3",
               "Cache-Control: no-cache, no-store", "Set-Cookie: a=1", "Set-Cookie: b=2", "Connection: close",
               "Content-Type: text/html"],
}


def test_repeated_response_headers_as_apache_gives_them(srv):
    raw = srv.raw(("GET /v/headers?h=%s HTTP/1.0\r\nHost: x\r\n\r\n" % REPEATED).encode())
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    assert head[0] == "HTTP/1.1 200 OK"
    lines = [l for l in head[1:] if not l.startswith(("Date:", "Server:"))]
    assert lines == REPEATED_ON_THE_WIRE[srv.mode]
