"""--server-metrics, --server-status, --interrupt-timeout, and the Prometheus endpoint
--metrics-url/--metrics-allow, each against a running server."""
import http.client
import json
import os
import threading
import time

from expresslib import fetch, run, wait_for, write

PROBE = b"""
import json, os, time
import mod_wsgi

def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/metrics-probe':
        body = json.dumps({'server_metrics': mod_wsgi.server_metrics() is not None,
                           'pid': os.getpid()}).encode()
    elif path == '/spin':
        deadline = time.time() + 30
        try:
            while time.time() < deadline:
                time.sleep(0.02)
        except mod_wsgi.RequestTimeout:
            with open(os.path.join(os.path.dirname(__file__), 'markers', 'interrupted'), 'w') as f:
                f.write(str(os.getpid()))
            raise
        body = b'not interrupted'
    elif path == '/sleep':
        time.sleep(0.5)
        body = str(os.getpid()).encode()
    else:
        body = b'app:' + path.encode()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body]
"""


def probe_app(workdir):
    markers = os.path.join(workdir, "markers")
    os.makedirs(markers, exist_ok=True)
    os.chmod(markers, 0o777)
    return write(os.path.join(workdir, "probe.py"), PROBE)


def conf(sr):
    return open(os.path.join(sr.root, "httpd.conf")).read()


def test_server_metrics_flag(setup_server, workdir):
    app = probe_app(workdir)
    sr = setup_server([app, "--server-metrics"])
    c = conf(sr)
    assert "WSGIServerMetrics On" in c and "server-metrics=On" in c and "ExtendedStatus On" in c
    assert "<Location /server-status>" not in c
    assert sr.apachectl("start").returncode == 0
    status, body, _ = wait_for(sr.url + "/metrics-probe")
    assert status == 200 and json.loads(body)["server_metrics"] is True, sr.error_log()
    # /server-status is not served without --server-status: the application has it.
    assert fetch(sr.url + "/server-status")[1] == b"app:/server-status"


def test_without_server_metrics_the_daemon_has_none(setup_server, workdir):
    app = probe_app(workdir)
    sr = setup_server([app])
    c = conf(sr)
    assert "WSGIServerMetrics" not in c and "server-metrics=" not in c and "ExtendedStatus" not in c
    sr.apachectl("start")
    status, body, _ = wait_for(sr.url + "/metrics-probe")
    assert status == 200 and json.loads(body)["server_metrics"] is False, sr.error_log()


def test_server_status_flag(setup_server, workdir):
    app = probe_app(workdir)
    sr = setup_server([app, "--server-status"])
    c = conf(sr)
    assert "SetHandler server-status" in c and "Require local" in c and "ExtendedStatus On" in c
    # As 4.9: --server-status alone does not turn on WSGIServerMetrics.
    assert "WSGIServerMetrics" not in c
    assert "Server Status" in sr.result.stdout and sr.url + "/server-status" in sr.result.stdout
    sr.apachectl("start")
    wait_for(sr.url + "/")
    # Served by mod_status, not swallowed by the application's mount, with ExtendedStatus data.
    status, body, _ = fetch(sr.url + "/server-status?auto")
    assert status == 200 and b"Total Accesses" in body and b"ServerUptime" in body, body
    assert fetch(sr.url + "/other")[1] == b"app:/other"


def test_interrupt_timeout(setup_server, workdir):
    app = probe_app(workdir)
    sr = setup_server([app, "--request-timeout", "1", "--interrupt-timeout", "5", "--threads", "1"])
    c = conf(sr)
    assert "interrupt-timeout=5" in c
    assert "interrupt-timeout" not in conf(setup_server([app], root=os.path.join(workdir, "r2")))
    sr.apachectl("start")
    status, body, _ = wait_for(sr.url + "/metrics-probe")
    pid = json.loads(body)["pid"]
    t0 = time.time()
    status, body, _ = fetch(sr.url + "/spin", timeout=30)
    assert status == 504 and time.time() - t0 < 15, (status, body, sr.error_log()[-3000:])
    with open(os.path.join(workdir, "markers", "interrupted")) as f:
        assert int(f.read()) == pid  # the application saw mod_wsgi.RequestTimeout
    # The thread unwound in time: the same process serves on.
    assert json.loads(fetch(sr.url + "/metrics-probe")[1])["pid"] == pid


def scrape(sr, source="127.0.0.1"):
    conn = http.client.HTTPConnection("127.0.0.1", sr.port, timeout=15, source_address=(source, 0))
    try:
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode()
    finally:
        conn.close()


def test_metrics_url_two_daemon_processes(setup_server, workdir):
    from prometheus_client.parser import text_string_to_metric_families
    app = probe_app(workdir)
    sr = setup_server([app, "--metrics-url", "/metrics", "--processes", "2", "--threads", "1"])
    assert "WSGIMetricsURL '/metrics'" in conf(sr)
    assert "Metrics URL" in sr.result.stdout and sr.url + "/metrics" in sr.result.stdout
    sr.apachectl("start")
    wait_for(sr.url + "/")  # 1 request
    pids = []
    threads = [threading.Thread(target=lambda: pids.append(int(fetch(sr.url + "/sleep", timeout=30)[1])))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(5):
        assert fetch(sr.url + "/x")[0] == 200
    assert len(set(pids)) == 2, pids
    status, ctype, text = scrape(sr)
    assert status == 200 and ctype == "text/plain; version=0.0.4; charset=utf-8", text
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    served = {}
    for s in fams["mod_wsgi_daemon_requests"].samples:
        served[s.labels["process_num"]] = served.get(s.labels["process_num"], 0) + s.value
    assert sorted(served) == ["1", "2"] and all(served.values()) and sum(served.values()) == 10, served
    total = sum(s.value for s in fams["mod_wsgi_requests"].samples if s.labels["status_class"] == "2xx")
    assert total == 10
    daemons = {int(s.labels["pid"]) for s in fams["mod_wsgi_process_resident_memory_bytes"].samples
               if s.labels["kind"] == "daemon"}
    assert daemons == set(pids)


def test_metrics_allow(setup_server, workdir):
    app = probe_app(workdir)
    sr = setup_server([app, "--metrics-url", "/metrics", "--metrics-allow", "127.0.0.2",
                       "--metrics-allow", "10.0.0.0/8"])
    assert "WSGIMetricsAllow 127.0.0.2 10.0.0.0/8" in conf(sr)
    sr.apachectl("start")
    wait_for(sr.url + "/")
    assert scrape(sr, "127.0.0.1")[0] == 403
    assert scrape(sr, "127.0.0.2")[0] == 200
    assert "MW1503" in sr.error_log()


def test_metrics_options_checked(workdir):
    for args, message in (
        (["--metrics-url", "metrics"], "--metrics-url must be a URL path such as /metrics, not 'metrics'"),
        (["--metrics-url", "/m", "--metrics-allow", "localhost"], "--metrics-allow takes an IP address or a network (address/bits), not 'localhost'"),
        (["--metrics-url", "/m", "--metrics-allow", "10.0.0.0/33"], "not '10.0.0.0/33'"),
        (["--metrics-allow", "127.0.0.1"], "--metrics-allow needs --metrics-url"),
    ):
        r = run(["setup-server", "--server-root", os.path.join(workdir, "r")] + args)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
