"""What the harness requests from every server."""

from .common import HELLO, BIG_SIZE, POST_SIZE


class Workload:
    def __init__(self, name, desc, app, path, conns, static_path=None, method="GET",
                 body_size=0, expect=None, expect_len=None, quick=False):
        self.name, self.desc, self.app, self.path = name, desc, app, path
        self.conns, self.static_path, self.method = conns, static_path, method
        self.body_size, self.expect, self.expect_len, self.quick = body_size, expect, expect_len, quick


WORKLOADS = [
    Workload("hello", "hello world, 14-byte body", "generic", "/hello", 12,
             static_path="/hello.txt", expect=HELLO, quick=True),
    Workload("100k", "100 KB response", "generic", "/100k", 12,
             static_path="/100k.bin", expect_len=BIG_SIZE),
    Workload("post1m", "1 MB POST echoed back", "generic", "/echo", 12,
             method="POST", body_size=POST_SIZE, expect_len=POST_SIZE),
    Workload("django", "Django view (startproject + one view, DEBUG off)", "django", "/", 12,
             expect=HELLO, quick=True),
    Workload("sleep", "I/O-bound view, time.sleep(0.05)", "generic", "/sleep",
             64, expect=HELLO),
]
WORKLOAD_BY_NAME = {w.name: w for w in WORKLOADS}
