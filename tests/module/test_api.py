"""Issue 12: the mod_wsgi Python API in embedded mode (main interpreter and a
sub-interpreter): module attributes, metrics, events, request_data()."""
import json
import re
import os
import time

import pytest

from apache_harness import REFERENCE, module_apache

DIRECTIVES = r"""
WSGIScriptAlias /main @APPS@/api.wsgi process-group=%{GLOBAL} application-group=%{GLOBAL}
WSGIScriptAlias /sub @APPS@/api.wsgi process-group=%{GLOBAL} application-group=subinterp
"""

api = module_apache(DIRECTIVES)

GROUPS = [("/main", ""), ("/sub", "subinterp")]


@pytest.mark.mod_wsgi_49("mod_wsgi.version and the module attributes stay 4.9.4's (not request handling)")
@pytest.mark.parametrize("prefix,group", GROUPS)
def test_module_attributes(api, prefix, group):
    r = api.get(prefix + "/attrs")
    assert r.status == 200, api.log()[-3000:]
    j = r.json()
    assert j["version"] == [4, 9, 4]
    assert j["process_group"] == ""
    assert j["application_group"] == group
    assert j["maximum_processes"] >= 1 and j["threads_per_process"] == 8
    assert j["file_wrapper_is_type"] and j["file_wrapper_type"]
    assert all(j["callables"].values()), j["callables"]
    assert j["active_requests_type"] == "dict"
    a = j["apache"]
    assert a["mpm_name"] == "event"
    assert a["threads_per_process"] == 8 and a["maximum_processes"] >= 1
    assert isinstance(a["build_date"], str) and a["build_date"]
    assert a["description"].startswith("Apache/2.4")
    assert j["apache_version"][:2] == [2, 4]


@pytest.mark.parametrize("prefix", ["/main", "/sub"])
def test_file_wrapper_type_serves_the_file(api, prefix):
    src = open(os.path.join(api.apps, "api.wsgi"), "rb").read()
    assert api.get(prefix + "/file").body == src
    assert api.get(prefix + "/wrapper").body == src


@pytest.mark.mod_wsgi_49("request_metrics()/process_metrics(): 4.9's API here (6.x: None until start_recording_metrics(), 65 buckets)")
@pytest.mark.parametrize("prefix", ["/main", "/sub"])
def test_process_metrics_counts_requests(api, prefix):
    first = api.get(prefix + "/process_metrics").json()
    for key, kind in [("pid", int), ("request_busy_time", float), ("request_count", int),
                      ("memory_max_rss", int), ("memory_rss", int), ("cpu_user_time", float),
                      ("cpu_system_time", float), ("restart_time", float), ("current_time", float),
                      ("running_time", int), ("request_threads", int), ("active_requests", int),
                      ("threads", list)]:
        assert isinstance(first[key], kind), (key, first[key])
    assert first["active_requests"] >= 1  # this one (a previous one may still be finishing)
    assert first["memory_rss"] > 0 and first["memory_max_rss"] > 0
    for _ in range(3):
        api.get(prefix + "/attrs")
    second = api.get(prefix + "/process_metrics").json()
    assert second["pid"] == first["pid"]
    # request_count counts finished requests; a thread's count includes its running one
    assert second["request_count"] >= first["request_count"] + 4
    assert all(set(t) == {"thread_id", "request_count"} for t in second["threads"])
    assert sum(t["request_count"] for t in second["threads"]) == second["request_count"] + 1


@pytest.mark.mod_wsgi_49("request_metrics()/process_metrics(): 4.9's API here (6.x: None until start_recording_metrics(), 65 buckets)")
def test_request_metrics_intervals_and_buckets(api):
    # the first call starts recording and returns {}
    api.get("/main/request_metrics")
    api.get("/main/request_metrics")  # a fresh interval from here
    for delay in (0.0, 0.0, 0.03, 0.12):
        assert api.get("/main/sleep?%s" % delay).status == 200
    m = api.get("/main/request_metrics").json()
    # the previous request_metrics() call ends inside the new interval; this one is not counted yet
    assert m["request_count"] == 5
    assert m["queue_time"] is None and m["daemon_time"] is None
    for k in ("server_time_buckets", "queue_time_buckets", "daemon_time_buckets",
              "application_time_buckets"):
        assert len(m[k]) == 16 and m[k][15] == 0, (k, m[k])
    b = m["application_time_buckets"]
    assert sum(b) == 5
    assert b[0] >= 2                     # the quick ones: <= 5 ms (loaded machine: allow one slow)
    assert sum(b[3:6]) >= 1              # 30 ms: in (20, 40] ms, or slower under load
    assert sum(b[5:]) >= 1               # 120 ms: (80, 160] ms or more
    assert 0.025 < m["application_time"] < 2.0
    assert m["request_threads_maximum"] == 8 and len(m["request_threads_buckets"]) == 8
    assert sum(m["request_threads_buckets"]) == 5
    assert 0 < m["capacity_utilization"] < 1 and m["request_throughput"] > 0
    assert m["sample_period"] > 0.12


@pytest.mark.ours_only
def test_request_metrics_mod_wsgi_6_keys(api):
    api.get("/main/request_metrics")
    api.post("/main/post", b"x" * 100000)
    m = api.get("/main/request_metrics").json()
    assert m["input_bytes"] >= 100000 and m["input_reads"] >= 1
    assert m["output_bytes"] > 0 and m["output_writes"] >= 1
    for k in ("gil_wait_time", "input_read_time", "output_write_time"):
        assert isinstance(m[k], float) and len(m[k + "_buckets"]) == 16


@pytest.mark.parametrize("prefix", ["/main", "/sub"])
def test_request_data_is_per_request_and_in_active_requests(api, prefix):
    j = api.get(prefix + "/request_data").json()
    assert j["data"] == {"mine": 1, "seen_by_callback": True}
    assert j["active"] is True and j["n_active"] >= 1
    # a new dict for the next request
    assert api.get(prefix + "/request_data").json()["data"] == {"mine": 1, "seen_by_callback": True}


def _events(api, prefix):
    return api.get(prefix + "/events?clear").json()["events"]


def _events_of(api, prefix, path, names=("request_started", "request_finished")):
    """The events of the (one) request to `path`: request_finished may be published after
    the client has its response, so wait for it."""
    seen = []
    deadline = time.time() + 5
    while True:
        seen += _events(api, prefix)
        ids = [e["values"]["request_id"] for e in seen
               if e["name"] == "request_started" and e["values"]["path"] == path]
        mine = [e for e in seen if ids and e["values"].get("request_id") == ids[-1]]
        if set(names) <= {e["name"] for e in mine} or time.time() > deadline:
            return mine
        time.sleep(0.05)


@pytest.mark.parametrize("prefix", ["/main", "/sub"])
def test_events_keys_and_order(api, prefix):
    _events(api, prefix)
    r = api.post(prefix + "/post", b"y" * 5000)
    assert r.status == 200
    evs = _events_of(api, prefix, "/post")
    names = [e["name"] for e in evs]
    assert names == ["request_started", "response_started", "request_finished"], names
    started, response, finished = evs
    assert started["values"]["request_id"] == r.json()["id"]
    base = {"request_id", "thread_id", "daemon_connects", "daemon_restarts", "request_start", "queue_start",
            "daemon_start", "application_object", "request_environ", "application_start", "request_data"}
    # mod_wsgi 6.x adds callable_object and server_pid.
    assert base <= set(started["keys"]) and set(started["keys"]) - base <= {"callable_object", "server_pid"}
    assert started["values"]["request_environ"] == "dict"
    assert started["values"]["application_object"] == "function"
    assert started["values"]["queue_start"] == 0.0 and started["values"]["daemon_start"] == 0.0
    assert started["values"]["request_start"] > 1e9
    assert started["values"]["application_start"] >= started["values"]["request_start"]
    assert set(response["keys"]) == {"request_id", "response_status", "response_headers",
                                     "exception_info", "request_data"}
    assert response["values"]["response_status"] == "200 OK"
    assert response["values"]["exception_info"] is None
    assert set(finished["keys"]) >= {"request_id", "input_reads", "input_length", "input_time",
                                     "output_length", "output_writes", "output_time",
                                     "application_finish", "application_time", "request_data"}
    v = finished["values"]
    assert v["input_length"] == 5000 and v["input_reads"] >= 1
    assert v["output_length"] == len(r.body) and v["output_writes"] >= 1
    assert 0 <= v.get("cpu_user_time", 0) <= v["application_time"]


@pytest.mark.mod_wsgi_61
def test_request_finished_mod_wsgi_6_keys(api):
    _events(api, "/main")
    api.get("/main/attrs")
    finished = [e for e in _events_of(api, "/main", "/attrs") if e["name"] == "request_finished"][0]
    v = finished["values"]
    assert v["status"] == 200
    assert isinstance(v["gil_wait_time"], float) and isinstance(v["gil_wait_count"], int)
    assert {"cpu_user_time", "cpu_system_time"} <= set(finished["keys"])


@pytest.mark.parametrize("prefix", ["/main", "/sub"])
def test_request_started_can_replace_the_application(api, prefix):
    r = api.get(prefix + "/replace")
    assert r.status == 200 and r.body == b"replaced"


@pytest.mark.parametrize("prefix", ["/main", "/sub"])
def test_request_exception_event(api, prefix):
    _events(api, prefix)
    assert api.get(prefix + "/raise").status == 500
    evs = _events_of(api, prefix, "/raise", names=("request_started", "request_exception", "request_finished"))
    exc = [e for e in evs if e["name"] == "request_exception"]
    assert len(exc) == 1, evs
    assert set(exc[0]["keys"]) == {"request_id", "exception_info", "request_data"}
    assert exc[0]["values"]["exception_info"] == "tuple"


@pytest.mark.mod_wsgi_61  # 4.9's header: "Exception occurred within event callback."
def test_a_raising_callback_is_logged_and_the_others_run(api):
    since = api.log_size()
    _events(api, "/main")
    api.get("/main/attrs")
    evs = _events_of(api, "/main", "/attrs")
    assert [e["name"] for e in evs] == ["request_started", "response_started", "request_finished"]
    api.wait_log("broken callback for request_finished", since)
    log = api.log(since)
    assert re.search(r"\] (?:(?:MW|WSGI)\d{4}: )?ValueError exception raised by event callback for "
                     r"'request_started'\.\n", log), log
    assert "ValueError: broken callback for request_started" in log


@pytest.mark.parametrize("prefix", ["/main", "/sub"])
def test_request_data_outside_a_request_raises(api, prefix):
    j = api.get(prefix + "/nodata").json()
    assert j == {"error": "RuntimeError: no active request for thread"}


def test_process_stopping_at_child_exit(apache_factory):
    a = apache_factory(DIRECTIVES)
    assert a.get("/main/attrs").status == 200
    assert a.get("/sub/attrs").status == 200
    a.stop()
    names = os.listdir(a.markers)
    stopping = [n for n in names if n.startswith("stopping-")]
    shutdown = [n for n in names if n.startswith("shutdown-")]
    assert stopping and shutdown, (names, a.log()[-3000:])
    for n in stopping:
        j = json.load(open(os.path.join(a.markers, n)))
        assert j == {"reason": "", "keys": ["shutdown_reason"]}


@pytest.mark.parametrize("line,expect", [
    pytest.param("", True, marks=pytest.mark.mod_wsgi_49("6.x: absent WSGIServerMetrics is Off (the metrics API stays 4.9's)")),
    ("WSGIServerMetrics On", True), ("WSGIServerMetrics Off", False)])
def test_server_metrics_in_embedded_mode(apache_factory, line, expect):
    # mod_wsgi 4.9: absent counts as on in embedded mode (its flag starts at -1, tested with !flag)
    a = apache_factory(line + "\n" + DIRECTIVES)
    v = a.get("/main/server_metrics").json()["value"]
    if not expect:
        assert v is None
        return
    assert v["server_limit"] >= 1 and v["thread_limit"] >= 8
    assert isinstance(v["restart_time"], float) and isinstance(v["running_time"], int)
    mine = [p for p in v["processes"] if p["pid"] == os.getpid() or p["workers"]]
    assert mine and {"process_num", "pid", "generation", "quiescing", "workers"} <= set(mine[0])
    statuses = {w["status"] for p in v["processes"] for w in p["workers"]}
    assert "W" in statuses and statuses <= set("._SRWKLDCGI")


@pytest.mark.parametrize("restrict", [True, False])
def test_restricted_stdin_stdout(apache_factory, restrict):
    flag = "On" if restrict else "Off"
    a = apache_factory("WSGIRestrictStdin %s\nWSGIRestrictStdout %s\n" % (flag, flag) + DIRECTIVES)
    for prefix in ("/main", "/sub"):
        j = a.get(prefix + "/stdio").json()
        if restrict:
            assert j["stdin"] == {"type": "mod_wsgi.Restricted",
                                  "error": "OSError: sys.stdin access restricted by mod_wsgi"}
            assert j["stdout"] == {"type": "mod_wsgi.Restricted",
                                   "error": "OSError: sys.stdout access restricted by mod_wsgi"}
        else:
            assert j["stdout"]["error"] is None
        assert j["stderr"]["error"] is None and j["stderr_text"] is True


@pytest.mark.mod_wsgi_49("request_metrics()/process_metrics(): 4.9's API here (6.x: None until start_recording_metrics(), 65 buckets)")
def test_process_stopping_after_graceful_restart(apache_factory):
    a = apache_factory(DIRECTIVES)
    pid = a.get("/main/process_metrics").json()["pid"]
    a.get("/sub/attrs")
    a.graceful()
    deadline = time.time() + 15
    path = os.path.join(a.markers, "stopping-%d" % pid)
    while not os.path.exists(path) and time.time() < deadline:
        a.get("/main/attrs")
        time.sleep(0.1)
    assert json.load(open(path)) == {"reason": "", "keys": ["shutdown_reason"]}


def _client_lines(api, since):
    """The text of the lines logged with the client's address (after mod_wsgi 6.x's
    "[script …] ", which 4.9 did not write)."""
    return [re.sub(r"^\[script [^]]*\] ", "", l.split("] ", 4)[-1])
            for l in api.log(since).splitlines() if "[client 127.0.0.1:" in l]


def test_wsgi_errors_text_and_buffer_reach_the_log_with_the_client(api):
    since = api.log_size()
    j = api.get("/main/errors").json()
    assert j["has_buffer"] is True
    assert j["buffer"]["bytes"] is None and j["buffer"]["writelines"] is None
    api.wait_log("buffer writelines two", since)
    lines = _client_lines(api, since)
    for text in ("text line one", "text line two", "text line three", "buffer bytes line",
                 "buffer writelines one", "buffer writelines two"):
        assert text in lines, (text, lines)


@pytest.mark.mod_wsgi_61
def test_wsgi_errors_buffer_takes_bytes_like_objects(api):
    """mod_wsgi 4.9 refuses bytearray and memoryview (6.0.1 takes them)."""
    since = api.log_size()
    j = api.get("/main/errors").json()
    assert j["buffer"]["bytearray"] is None and j["buffer"]["memoryview"] is None
    api.wait_log("buffer memoryview line", since)
    lines = _client_lines(api, since)
    assert "buffer bytearray line" in lines and "buffer memoryview line" in lines
