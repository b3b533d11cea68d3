"""Issue 12: the mod_wsgi Python API in daemon mode: attributes, metrics with queue and
daemon times, events, server_metrics(), and process_stopping with its shutdown_reason."""
import json
import os
import signal
import time

import pytest

from daemon_harness import harness


def _markers(a, prefix, pid=None, timeout=15.0):
    deadline = time.time() + timeout
    while True:
        found = {}
        for n in os.listdir(a.markers):
            if n.startswith(prefix + "-") and (pid is None or n == "%s-%d" % (prefix, pid)):
                try:
                    found[int(n.split("-")[1])] = json.load(open(os.path.join(a.markers, n)))
                except ValueError:
                    continue  # being written
        if found or time.time() > deadline:
            return found
        time.sleep(0.1)


def test_daemon_attributes_metrics_and_events(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g processes=2 threads=3
WSGIScriptAlias /main @APPS@/api.wsgi process-group=g application-group=%{GLOBAL}
WSGIScriptAlias /sub @APPS@/api.wsgi process-group=g application-group=subinterp
""")
    for prefix, group in (("/main", ""), ("/sub", "subinterp")):
        j = a.get(prefix + "/attrs").json()
        assert j["process_group"] == "g" and j["application_group"] == group
        assert j["maximum_processes"] == 2 and j["threads_per_process"] == 3
        assert j["file_wrapper_is_type"] and all(j["callables"].values())
        assert j["apache"]["mpm_name"] == "event" and j["apache"]["threads_per_process"] == 8
    # request_metrics: queue and daemon times are measured in daemon mode. Two processes:
    # keep asking until one process has seen its baseline call and then some requests.
    deadline = time.time() + 20
    while True:
        m = a.get("/main/request_metrics").json()
        if m.get("request_count", 0) >= 1 or time.time() > deadline:
            break
        a.get("/main/sleep?0.01")
    assert m["queue_time"] is not None and m["daemon_time"] is not None, m
    assert len(m["queue_time_buckets"]) == 16 and sum(m["queue_time_buckets"]) == m["request_count"]
    assert m["request_threads_maximum"] == 3
    # request_started carries the daemon-side timestamps
    for _ in range(4):
        r = a.post("/main/post", b"z" * 100)
        rid = r.json()["id"]
        evs = []
        for _ in range(20):
            evs += a.get("/main/events?clear").json()["events"]
            if any(e["values"].get("request_id") == rid and e["name"] == "request_started" for e in evs):
                break
        started = [e for e in evs if e["values"].get("request_id") == rid and e["name"] == "request_started"]
        if started:
            break
    v = started[0]["values"]
    assert v["request_start"] <= v["queue_start"] <= v["daemon_start"] <= v["application_start"], v
    assert v["daemon_connects"] >= 1
    assert a.get("/main/request_data").json()["active"] is True
    # server_metrics() is None in a daemon group without server-metrics=On
    assert a.get("/main/server_metrics").json() == {"value": None}


def test_server_metrics_on_in_a_daemon_group(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g threads=2 server-metrics=On
WSGIScriptAlias /main @APPS@/api.wsgi process-group=g application-group=%{GLOBAL}
""")
    for _ in range(3):
        a.get("/main/attrs")
    v = a.get("/main/server_metrics").json()["value"]
    assert v is not None
    assert {"server_limit", "thread_limit", "running_generation", "restart_time", "current_time",
            "running_time", "processes"} <= set(v)
    workers = [w for p in v["processes"] for w in p["workers"]]
    assert all(set(w) >= {"thread_num", "generation", "status", "access_count", "bytes_served",
                          "start_time", "stop_time", "last_used", "client", "request", "vhost"}
               for w in workers)
    assert any(w["status"] == "W" for w in workers)  # the worker relaying this request


@pytest.mark.ours_only  # mod_wsgi: "Invalid server metrics flag for WSGI daemon process."
def test_server_metrics_option_takes_on_or_off(apache_factory):
    a = apache_factory("WSGIDaemonProcess g server-metrics=maybe\n", start=False)
    out = a.configtest()[1]
    assert "server-metrics must be On or Off, not 'maybe'" in out


def _daemon_pid(a, path="/main/process_metrics"):
    return a.get(path, timeout=30).json()["pid"]


@pytest.mark.parametrize("options,trigger,reason", [
    ("maximum-requests=2", "requests", ""),
    ("restart-interval=2", "wait", "restart_interval"),
    ("inactivity-timeout=2", "wait", "inactivity_timeout"),
    ("graceful-timeout=2", "sigusr1", "graceful_signal"),
    ("request-timeout=2 shutdown-timeout=1", "stuck", "request_timeout"),
])
@pytest.mark.slow
def test_process_stopping_reason(apache_factory, options, trigger, reason):
    a = apache_factory("""
WSGIDaemonProcess g threads=1 %s
WSGIScriptAlias /main @APPS@/api.wsgi process-group=g application-group=%%{GLOBAL}
WSGIScriptAlias /sub @APPS@/api.wsgi process-group=g application-group=subinterp
""" % options)
    pid = _daemon_pid(a)
    a.get("/sub/attrs")  # the sub-interpreter subscribes too
    if trigger == "requests":
        a.get("/main/attrs")
    elif trigger == "sigusr1":
        os.kill(pid, signal.SIGUSR1)
    elif trigger == "stuck":
        assert a.get("/main/sleep?30", timeout=30).status in (500, 502, 503, 504)
    found = _markers(a, "stopping", pid, timeout=20)
    assert pid in found, (os.listdir(a.markers), a.log()[-3000:])
    assert found[pid]["reason"] == reason
    assert found[pid]["keys"] == ["shutdown_reason"]
    shut = _markers(a, "shutdown", pid)
    assert shut[pid] == {"name": "process_stopping", "reason": reason}


@pytest.mark.mod_wsgi_61  # mod_wsgi 6.0's interrupt-timeout; 4.9 refuses the option
@pytest.mark.slow
def test_interrupt_timeout_gives_504_and_keeps_the_process(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g threads=1 request-timeout=1 interrupt-timeout=5 shutdown-timeout=1
WSGIScriptAlias /main @APPS@/api.wsgi process-group=g application-group=%{GLOBAL}
""")
    pid = _daemon_pid(a)
    t0 = time.time()
    r = a.get("/main/spin", timeout=30)
    assert r.status == 504 and time.time() - t0 < 10, (r, a.log()[-3000:])
    a.wait_log(r"MW1405: \[script [^]]*api\.wsgi\] Request interrupted by RequestTimeout; thread recovered\.")
    a.wait_log(r"Injected RequestTimeout into thread 0 of daemon process 'g'\.")
    assert _daemon_pid(a) == pid  # the same process serves on
    assert "exception raised processing WSGI script" not in a.log()  # no traceback for it
    exc = [e for e in a.get("/main/events").json()["events"] if e["name"] == "request_exception"]
    assert exc == []


@pytest.mark.mod_wsgi_61
@pytest.mark.slow
def test_interrupt_timeout_replaces_the_process_when_the_thread_does_not_unwind(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g threads=1 request-timeout=1 interrupt-timeout=2 shutdown-timeout=1
WSGIScriptAlias /main @APPS@/api.wsgi process-group=g application-group=%{GLOBAL}
""")
    pid = _daemon_pid(a)
    a.get("/main/spin?swallow", timeout=30)  # swallows RequestTimeout: its process is replaced
    a.wait_log(r"Daemon process request time limit exceeded, stopping daemon process 'g'\.", timeout=15)
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            if _daemon_pid(a) != pid:
                break
        except Exception:
            pass
        time.sleep(0.2)
    assert _daemon_pid(a) != pid
    found = _markers(a, "stopping", pid)
    assert found[pid]["reason"] == "request_timeout"
