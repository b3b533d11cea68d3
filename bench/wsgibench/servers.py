"""The servers measured, and the pairs whose requests/s are compared."""

from .common import STATIC_THREADS


class ServerDef:
    """One configuration of one implementation."""

    def __init__(self, name, impl, mode, shape, note=""):
        self.name, self.impl, self.mode, self.shape, self.note = name, impl, mode, shape, note

    def processes_threads(self):
        if self.impl == "static":
            return 2, STATIC_THREADS
        if self.shape == "2x8":
            return 2, 8
        # mod_wsgi-express defaults: one process (embedded: worker MPM, 1 x 5 threads;
        # daemon: 1 daemon process x 5 threads behind an event MPM front end).
        return 1, 5

    def front_workers(self):
        """Apache worker threads that can hold a client connection (None: not Apache)."""
        p, t = self.processes_threads()
        if self.impl == "static":
            return p * t
        if self.impl in ("ours", "mod_wsgi"):
            if self.mode == "embedded":
                return p * t
            if self.shape == "2x8":
                return DAEMON_2X8_MAX_CLIENTS
            return 10 + max(10, int(1.5 * p * t))   # mod_wsgi-express's default max-clients
        return None


# In daemon mode with 2 x 8 we size Apache's front end above every connection count we
# use (64), so the event MPM never has to cut keep-alive connections.
DAEMON_2X8_MAX_CLIENTS = 80

SERVERS = [
    ServerDef("ours embedded default", "ours", "embedded", "default"),
    ServerDef("mod_wsgi embedded default", "mod_wsgi", "embedded", "default"),
    ServerDef("ours embedded 2x8", "ours", "embedded", "2x8"),
    ServerDef("mod_wsgi embedded 2x8", "mod_wsgi", "embedded", "2x8"),
    ServerDef("ours daemon default", "ours", "daemon", "default"),
    ServerDef("mod_wsgi daemon default", "mod_wsgi", "daemon", "default"),
    ServerDef("ours daemon 2x8", "ours", "daemon", "2x8"),
    ServerDef("mod_wsgi daemon 2x8", "mod_wsgi", "daemon", "2x8"),
    ServerDef("gunicorn sync -w16", "gunicorn", "sync", "2x8",
              note="sync workers: 16 processes = 2x8 concurrency; no keep-alive"),
    ServerDef("gunicorn gthread 2x8", "gunicorn", "gthread", "2x8"),
    ServerDef("apache static file", "static", "static", "2x32",
              note="event MPM, 2 x 32 threads; the ceiling"),
]
SERVER_BY_NAME = {s.name: s for s in SERVERS}

# (A, B, target for rps A/B, label).  A target of None: reported for reference only.
PAIRS = [
    ("ours embedded default", "mod_wsgi embedded default", 1.2),
    ("ours embedded 2x8", "mod_wsgi embedded 2x8", 1.2),
    ("ours daemon default", "mod_wsgi daemon default", 1.5),
    ("ours daemon 2x8", "mod_wsgi daemon 2x8", 1.5),
    ("ours daemon 2x8", "gunicorn gthread 2x8", 1.2),
    ("mod_wsgi daemon 2x8", "gunicorn gthread 2x8", None),
    ("mod_wsgi embedded 2x8", "apache static file", None),
]


def pair_target(a, b, target, workload):
    if target is None:
        return None
    if workload == "django" and a.startswith("ours daemon") and b.startswith("mod_wsgi daemon"):
        return 1.2          # "Django through our daemon >= 1.2x mod_wsgi's"
    return target
