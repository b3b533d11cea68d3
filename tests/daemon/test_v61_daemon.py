"""Issue 23: mod_wsgi 6.1's daemon-mode request handling where it changed 4.9's:
request-timeout measured per thread against request-timeout x (1 + ln threads), recovery by
interrupt-timeout (an empty 504 and 6.1's log lines), requests past request-timeout +
interrupt-timeout not holding a graceful drain, and 502 for a daemon that goes away before
its response headers. Run against mod_wsgi 6.1.1 too (`make module-test-61`)."""
import os
import re
import threading
import time

import pytest

from daemon_harness import harness  # noqa: F401

pytestmark = [pytest.mark.mod_wsgi_61, pytest.mark.slow]


def conf(options):
    return ("WSGIDaemonProcess g %s display-name=%%{GROUP}\n"
            "WSGIScriptAlias /d @APPS@/v61d.wsgi process-group=g application-group=%%{GLOBAL}\n" % options)


def pid(a):
    r = a.get("/d/pid", timeout=30)
    assert r.status == 200, (r, a.log()[-3000:])
    return int(r.body)


def timed(a, path, timeout=60):
    t0 = time.time()
    r = a.get(path, timeout=timeout)
    return r, time.time() - t0


def info(pattern):
    """An info-level line of the error log: Apache's decoration, our ID (or none), the text."""
    return r"(?m)\[wsgi:info\] .*\] (?:MW\d{4}: )?" + pattern + "$"


def test_interrupt_timeout_recovers_the_thread_with_an_empty_504(apache_factory):
    a = apache_factory(conf("threads=1 request-timeout=1 interrupt-timeout=5 shutdown-timeout=1"))
    before = pid(a)
    since = a.log_size()
    r, elapsed = timed(a, "/d/spin?s=30")
    assert r.status == 504 and r.body == b"" and elapsed < 10, (r, elapsed, a.log(since))
    script = re.escape(a.apps + "/v61d.wsgi")
    a.wait_log(info(r"Dumping stack trace for thread 0 of daemon process 'g' which has exceeded request-timeout "
                    r"of 1 seconds, before injecting RequestTimeout to unwind it\."), since=since)
    a.wait_log(info(r"Thread \d+ executing file \"%s\", line \d+, in application" % script), since=since)
    a.wait_log(info(r"Injected RequestTimeout into thread 0 of daemon process 'g'\."), since=since)
    a.wait_log(r"(?m)\[wsgi:info\] .*\[(?:client|remote) 127\.0\.0\.1:\d+\] (?:MW\d{4}: )?\[script %s\] "
               r"Request interrupted by RequestTimeout; thread recovered\.$" % script, since=since)
    assert pid(a) == before
    assert "exception raised" not in a.log(since)


def test_interrupt_timeout_in_the_iterable_after_headers_truncates(apache_factory):
    a = apache_factory(conf("threads=1 request-timeout=1 interrupt-timeout=5 shutdown-timeout=1"))
    before = pid(a)
    since = a.log_size()
    s = a.connect(timeout=30)
    s.sendall(b"GET /d/spin_iter?s=30 HTTP/1.1\r\nHost: x\r\n\r\n")
    head, body = harness.read_until_close(s, timeout=30)
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body.startswith(b"8\r\nstarted;") and b"finished" not in body, body
    a.wait_log(r"(?m)\[wsgi:info\] .*\] (?:MW\d{4}: )?\[script %s\] Request interrupted by RequestTimeout after "
               r"headers sent; response truncated\.$" % re.escape(a.apps + "/v61d.wsgi"), since=since)
    assert pid(a) == before


def test_request_timeout_is_per_thread_and_scales_with_ln_threads(apache_factory):
    # threads=4: a request is stopped once it runs past 1 x (1 + ln 4) = 2.39 s (4.9 summed the
    # running time of the active requests over 4 threads: 3.5 s alone would have passed).
    a = apache_factory(conf("threads=4 request-timeout=1 interrupt-timeout=5 shutdown-timeout=1"))
    r, elapsed = timed(a, "/d/spin?s=1.8")
    assert r.status == 200, (r, a.log()[-3000:])
    r, elapsed = timed(a, "/d/spin?s=3.5")
    assert r.status == 504 and 2.3 < elapsed < 3.4, (r, elapsed, a.log()[-3000:])


def test_requests_past_the_timeouts_do_not_hold_a_graceful_drain(apache_factory):
    # threads=10, request-timeout=3: a request is stopped past 3 x (1 + ln 10) = 9.9 s (the
    # supervisor looks about once a second). One wedged request, and one of 2.5 s started at
    # 8.5 s: when the limit fires the process drains gracefully, waiting for the second (it
    # never runs past request-timeout + interrupt-timeout = 3 s, so it is never stale) but not
    # for the first, and stops as soon as the second is done, long before graceful-timeout.
    a = apache_factory(conf("threads=10 request-timeout=3 graceful-timeout=30 shutdown-timeout=1"))
    before = pid(a)
    since = a.log_size()
    out = {}

    def hit(name, path):
        out[name] = timed(a, path)

    wedged = threading.Thread(target=hit, args=("wedged", "/d/spin?s=60"))
    wedged.start()
    time.sleep(8.5)
    hit("late", "/d/spin?s=2.5")
    wedged.join(60)
    late, _ = out["late"]
    (wr, welapsed) = out["wedged"]
    assert late.status == 200 and late.body == b"finished", (late, a.log(since))
    assert wr.status == 502 and welapsed < 20, (wr, welapsed, a.log(since))
    a.wait_log(info(r"Daemon process request time limit exceeded; waiting for in-flight requests to complete "
                    r"in daemon process 'g'\."), since=since)
    assert pid(a) != before


def test_a_daemon_gone_before_the_response_headers_is_a_502(apache_factory):
    a = apache_factory(conf("threads=2"))
    pid(a)
    since = a.log_size()
    r, _ = timed(a, "/d/die")
    assert r.status == 502, (r, a.log(since))
    a.wait_log(r"(?m)\[wsgi:error\] .*\] (?:(?:MW|WSGI)\d{4}: )?(?:\[script [^]]*\] )?(?:(?:MW|WSGI)\d{4}: )?"
               r"(Error reading response headers from daemon process 'g' \(.*\)|Daemon process 'g' closed "
               r"connection before sending complete response headers)\.$", since=since)


def test_what_the_daemon_logs_about_a_request_goes_to_its_virtual_hosts_error_log(apache_factory):
    # mod_wsgi 6.0.1: a daemon group of the main server serving a <VirtualHost> writes the
    # application's output and the module's lines about the request to that host's ErrorLog.
    a = apache_factory("""
WSGIDaemonProcess g threads=2 display-name=%{GROUP}
WSGIProcessGroup g
WSGIApplicationGroup %{GLOBAL}
WSGIScriptAlias /d @APPS@/v61d.wsgi
<VirtualHost *:@PORT@>
    ServerName main.test
</VirtualHost>
<VirtualHost *:@PORT@>
    ServerName site-b.test
    ErrorLog "@DIR@/logs/site-b_error_log"
</VirtualHost>
""")
    site_log = os.path.join(a.logs, "site-b_error_log")
    assert a.get("/d/log?token=vh-1", headers={"Host": "site-b.test"}).status == 200
    assert a.get("/d/log?token=vh-2&raise=1", headers={"Host": "site-b.test"}).status == 500
    deadline = time.time() + 10
    want = ("wsgi.errors line vh-1", "sys.stderr line vh-1", "wsgi.errors line vh-2",
            "RuntimeError exception raised processing WSGI script", "RuntimeError: raised on purpose vh-2")
    while time.time() < deadline:
        text = open(site_log).read() if os.path.exists(site_log) else ""
        if all(w in text for w in want):
            break
        time.sleep(0.1)
    assert all(w in text for w in want), (text, a.log()[-3000:])
    assert "vh-1" not in a.log() and "vh-2" not in a.log()
