"""What the harness requests from every server."""

from .common import HELLO, BIG_SIZE, POST_SIZE


class Workload:
    def __init__(self, name, desc, app, path, conns, static_path=None, method="GET",
                 body_size=0, expect=None, expect_len=None, quick=False, system_apache=False,
                 expect_contains=None):
        self.name, self.desc, self.app, self.path = name, desc, app, path
        self.conns, self.static_path, self.method = conns, static_path, method
        self.body_size, self.expect, self.expect_len, self.quick = body_size, expect, expect_len, quick
        self.expect_contains = expect_contains
        # Run only by the hand-written system-Apache configurations (and only they run it).
        self.system_apache = system_apache



WORKLOADS = [
    Workload("hello", "hello world, 14-byte body", "generic", "/hello", 12,
             static_path="/hello.txt", expect=HELLO, quick=True),
    Workload("100k", "100 KB response", "generic", "/100k", 12,
             static_path="/100k.bin", expect_len=BIG_SIZE),
    Workload("post1m", "1 MB POST echoed back", "generic", "/echo", 12,
             method="POST", body_size=POST_SIZE, expect_len=POST_SIZE),
    Workload("django", "Django view (startproject + one view, DEBUG off)", "django", "/", 12,
             expect=HELLO, quick=True),
    Workload("django-admin", "Django admin login page (a template, the CSRF token, default middleware)",
             "django", "/admin/login/", 12, expect_contains=b"csrfmiddlewaretoken"),
    Workload("django-sqlite", "Django view with one SQLite query (auth_permission by codename)", "django",
             "/db/", 12, expect=b"Can view user\n"),
    Workload("hello-c64", "hello world at 64 connections: the p99 latency", "generic", "/hello", 64,
             expect=HELLO),
    Workload("django-c64", "Django view at 64 connections: the p99 latency", "django", "/", 64,
             expect=HELLO),
    Workload("apache-hello", "hello world, hand-written system-Apache configuration", "generic",
             "/hello", 16, expect=HELLO, quick=True, system_apache=True),
    Workload("sleep", "I/O-bound view, time.sleep(0.05)", "generic", "/sleep",
             64, expect=HELLO),
]
WORKLOAD_BY_NAME = {w.name: w for w in WORKLOADS}


def applies(sd, wl):
    """Whether server sd runs workload wl."""
    if (sd.mode == "apache") != wl.system_apache:
        return False
    if sd.impl == "static" and not wl.static_path:
        return False
    return True
