"""Issue 12, item 5: WSGIMetricsURL, the Prometheus endpoint covering every process of the
server (Apache's children, every daemon process) from the shared metrics board, parsed with
prometheus_client's own parser."""
import http.client
import threading
import time

import pytest

from daemon_harness import harness

parser = pytest.importorskip("prometheus_client.parser")


def scrape(a, path="/metrics", source="127.0.0.1"):
    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=15, source_address=(source, 0))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode()
    finally:
        conn.close()


def families(a):
    status, ctype, text = scrape(a)
    assert status == 200, text
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def value(fams, family, sample_name=None, **labels):
    """Sum of the samples of a family whose labels include `labels`."""
    total = 0
    for s in fams[family].samples:
        if sample_name and s.name != sample_name:
            continue
        if all(s.labels.get(k) == v for k, v in labels.items()):
            total += s.value
    return total


def wait_until(check, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def test_daemon_mode_two_processes_counted_in_one_scrape(apache_factory):
    a = apache_factory("""
WSGIMetricsURL /metrics
WSGIDaemonProcess g processes=2 threads=1 display-name=%{GROUP}
WSGIScriptAlias /app @APPS@/metrics.wsgi process-group=g application-group=%{GLOBAL}
""")
    daemons = a.wait_daemons(2)
    # Four slow requests at once on two single-threaded processes: both serve some.
    pids = []
    def slow():
        pids.append(int(a.get("/app/sleep?0.6", timeout=30).body))
    threads = [threading.Thread(target=slow) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(pids) == set(daemons), (pids, daemons)
    for _ in range(20):
        assert a.get("/app/").status == 200
    for _ in range(3):
        assert a.get("/app/status/404").status == 404
    assert a.get("/app/status/503").status == 503

    def check():
        f = families(a)
        # Apache's children: every request of the WSGI handler, by status class.
        assert value(f, "mod_wsgi_requests", status_class="2xx") == 24
        assert value(f, "mod_wsgi_requests", status_class="4xx") == 3
        assert value(f, "mod_wsgi_requests", status_class="5xx") == 1
        assert value(f, "mod_wsgi_request_duration_seconds", "mod_wsgi_request_duration_seconds_count") == 28
        # The four 0.6 s requests are in the buckets above 0.32 s, and the sum says so.
        assert value(f, "mod_wsgi_request_duration_seconds", "mod_wsgi_request_duration_seconds_bucket", le="0.32") <= 24
        assert value(f, "mod_wsgi_request_duration_seconds", "mod_wsgi_request_duration_seconds_sum") >= 2.4
        # The daemon processes: each counted, both together the requests made.
        per = {n: value(f, "mod_wsgi_daemon_requests", process_group="g", process_num=n) for n in ("1", "2")}
        assert per["1"] > 0 and per["2"] > 0 and sum(per.values()) == 28, per
        assert value(f, "mod_wsgi_daemon_requests", process_group="g", status_class="4xx") == 3
        assert value(f, "mod_wsgi_application_duration_seconds", "mod_wsgi_application_duration_seconds_count",
                     process_group="g") == 28
        assert value(f, "mod_wsgi_queue_duration_seconds", "mod_wsgi_queue_duration_seconds_count",
                     process_group="g") == 28
        assert value(f, "mod_wsgi_daemon_active_requests") == 0
        assert value(f, "mod_wsgi_server_active_requests") == 0
        # Every process of the server, from /proc: the parent, the children, both daemons.
        rss = f["mod_wsgi_process_resident_memory_bytes"].samples
        seen = {(s.labels["kind"], int(s.labels["pid"])) for s in rss}
        assert ("parent", a.pid) in seen
        assert {p for k, p in seen if k == "daemon"} == set(daemons)
        assert {p for k, p in seen if k == "child"} == set(a.children()) - set(daemons)
        assert all(s.value > 0 for s in rss)
        cpu = f["mod_wsgi_process_cpu_seconds"].samples
        assert {s.labels["mode"] for s in cpu} == {"user", "system"}
    wait_until(check)


def test_embedded_mode_counts(apache_factory):
    a = apache_factory("""
WSGIMetricsURL /metrics
WSGIScriptAlias /app @APPS@/metrics.wsgi
""")
    for _ in range(7):
        assert a.get("/app/").status == 200
    assert a.get("/app/status/302").status == 302
    assert a.get("/index.html").status == 200  # static: not a WSGI request
    f = families(a)
    assert value(f, "mod_wsgi_requests", status_class="2xx") == 7
    assert value(f, "mod_wsgi_requests", status_class="3xx") == 1
    assert value(f, "mod_wsgi_application_duration_seconds", "mod_wsgi_application_duration_seconds_count",
                 process_group="") == 8
    assert "mod_wsgi_daemon_requests" not in f
    # HEAD answers the headers only; other methods are refused.
    assert a.head("/metrics").status == 200
    assert a.post("/metrics", b"x").status == 405


def test_only_local_clients_unless_allowed(apache_factory):
    a = apache_factory("""
WSGIMetricsURL /metrics
WSGIMetricsAllow 127.0.0.2
WSGIScriptAlias / @APPS@/metrics.wsgi
""")
    since = a.log_size()
    status, _, _ = scrape(a, source="127.0.0.1")
    assert status == 403
    a.wait_log(r"MW1503: .*Client 127\.0\.0\.1 denied access to the metrics at '/metrics'", since)
    status, _, text = scrape(a, source="127.0.0.2")
    assert status == 200 and "mod_wsgi_requests_total" in text
    # The path is exact: the application keeps everything else.
    assert a.get("/metrics/x").status == 200


def test_default_allows_loopback_only_and_no_directive_no_endpoint(apache_factory):
    a = apache_factory("""
WSGIMetricsURL /metrics
""")
    assert scrape(a, source="127.0.0.2")[0] == 200
    b = apache_factory("""
WSGIScriptAlias / @APPS@/metrics.wsgi
""")
    status, _, text = scrape(b)
    assert status == 200 and "mod_wsgi_requests" not in text  # the application answered


def test_daemon_restarts_by_reason_survive_a_graceful_restart(apache_factory):
    a = apache_factory("""
WSGIMetricsURL /metrics
WSGIDaemonProcess g processes=1 threads=1 maximum-requests=3 display-name=%{GROUP}
WSGIScriptAlias /app @APPS@/metrics.wsgi process-group=g application-group=%{GLOBAL}
""")
    first = a.wait_daemons(1)
    for _ in range(3):
        assert a.get("/app/").status == 200
    a.wait_daemons(1, exclude=first)

    def restarted(reason, n):
        f = families(a)
        assert value(f, "mod_wsgi_daemon_restarts", process_group="g", reason=reason) >= n
        return f
    f = wait_until(lambda: restarted("maximum_requests", 1))
    assert value(f, "mod_wsgi_daemon_restarts", process_group="g", reason="crashed") == 0
    before = a.daemon_pids()
    a.graceful()
    a.wait_daemons(1, exclude=before, timeout=30)
    f = wait_until(lambda: restarted("graceful_signal", 1))
    # The board outlives the restart: the requests counted before it are still there.
    assert value(f, "mod_wsgi_requests", status_class="2xx") == 3
    assert value(f, "mod_wsgi_daemon_requests", process_group="g", status_class="2xx") == 3


def test_prefork_children_summed(apache_factory):
    a = apache_factory("""
WSGIMetricsURL /metrics
WSGIScriptAlias /app @APPS@/metrics.wsgi
""", mpm="prefork")
    # Concurrent slow requests: more than one child serves.
    pids = []
    def slow():
        pids.append(int(a.get("/app/sleep?0.4", timeout=30).body))
    threads = [threading.Thread(target=slow) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(pids)) > 1, pids
    f = families(a)
    assert value(f, "mod_wsgi_requests", status_class="2xx") == 3
    children = {int(s.labels["pid"]) for s in f["mod_wsgi_process_resident_memory_bytes"].samples
                if s.labels["kind"] == "child"}
    assert set(pids) <= children
