#!/usr/bin/env python3
"""Instructions per request, by part, under callgrind (issue 29, point 2).

    python3 bench/request_profile.py                       # hello: static file, embedded, daemon
    python3 bench/request_profile.py --app django-admin --modes embedded,daemon,daemon-libpython
    python3 bench/request_profile.py --baseline /var/tmp/old/mod_wsgi-express   # before/after

Apache runs in one process (-X) under valgrind --tool=callgrind (the daemon process too: it is
forked from Apache, and its exec of the application's Python is traced). After --warmup
requests on one keep-alive connection the counters are zeroed, --requests more are sent one at
a time (no contention: pure work), and every traced process is dumped. Instruction counts do
not depend on what else runs on the machine, so before/after figures from a busy machine hold.

Parts (inclusive instructions of the functions that enter them, per request):
- Apache core: everything in the Apache process that is not under one of our hooks
- our hooks: translate_name, the access checker, the metrics handler test, and the handler's own
  work (below, what is left of wsgi_swift_handler once its parts are taken out)
- environ, the application call, start_response and the response: embedded mode's parts
- the daemon hop: in Apache's child, everything under DaemonClient.forward (connecting, sending
  the request, receiving the response and passing it to Apache's filters); in the daemon
  process, everything (its own environ, application call, response, the wait for requests)
Names are matched in the demangled symbols (`swift demangle`); see PARTS below.
"""
import argparse
import collections
import glob
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from wsgibench.procs import free_port  # noqa: E402

HELLO_APP = b'''
def application(environ, start_response):
    body = b"Hello, World!\\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''

CONF = '''
ServerRoot "%(root)s"
DefaultRuntimeDir "%(root)s"
PidFile "%(root)s/httpd.pid"
ErrorLog "%(root)s/error_log"
LogLevel warn
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
%(load)s
User www-data
Group www-data
ServerName 127.0.0.1
Listen 127.0.0.1:%(port)d
KeepAlive On
KeepAliveTimeout 30
MaxKeepAliveRequests 0
ThreadsPerChild 4
DocumentRoot "%(root)s/htdocs"
<Directory "%(root)s">
    Require all granted
</Directory>
%(wsgi)s
'''

# (part, regex on the demangled name of a function whose inclusive cost is the part's)
PARTS_CHILD = [
    ("translate_name", r"^wsgi_swift_translate_name$"),
    ("access checker", r"^wsgi_swift_access_checker$"),
    ("handler (all)", r"^wsgi_swift_handler$"),
    ("daemon hop: forward", r"DaemonClient\.forward"),
    ("environ", r"(WSGIRequest|RequestHandler|ApacheEnviron)\.\w*[Ee]nviron"),
    ("application call", r"^_?PyObject_(Vectorcall|Call)$|^PyObject_CallOneArg$"),
    ("start_response", r"StartResponse\.\w*call|start_response"),
    ("response to Apache", r"ApacheChannel\.(write|sendHeaders|finish)|^wsgi_pass_"),
]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def keepalive_requests(port, path, n):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        for _ in range(n):
            conn.request("GET", path, headers={"Host": "127.0.0.1"})
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                raise RuntimeError("GET %s: %d %r" % (path, r.status, body[:200]))
    finally:
        conn.close()


def wait_port(port, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/__nothing__")
            c.getresponse().read()
            c.close()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("Apache did not answer on port %d" % port)


def traced_pids(root):
    return sorted({int(m.group(1)) for f in glob.glob(os.path.join(root, "cg", "cg.*"))
                   for m in [re.match(r".*cg\.(\d+)$", f)] if m})


def demangle(names):
    if not names or not shutil.which("swift"):
        return dict(zip(names, names))
    p = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(names),
                       capture_output=True, text=True)
    out = p.stdout.splitlines()
    return dict(zip(names, out)) if len(out) == len(names) else dict(zip(names, names))


def inclusive(path):
    """{function: inclusive Ir} and the total Ir of one dump."""
    p = run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", "--auto=no", path])
    total = 0
    rows = []
    for line in p.stdout.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(.+?)\s*$", line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        name = m.group(2)
        if "PROGRAM TOTALS" in name:
            total = ir
            continue
        # "file:function [object]"
        fn = name.split(":", 1)[1] if ":" in name else name
        fn = re.sub(r"\s+\[[^\]]*\]$", "", fn)
        rows.append((fn, ir))
    names = demangle([fn for fn, _ in rows])
    incl = collections.defaultdict(int)
    for fn, ir in rows:
        incl[names.get(fn, fn)] = max(incl[names.get(fn, fn)], ir)
    return incl, total


def part_cost(incl, pattern):
    """The largest inclusive cost among functions matching (callers include callees: the largest
    is the outermost)."""
    best = 0
    for fn, ir in incl.items():
        if re.search(pattern, fn):
            best = max(best, ir)
    return best


def profile(mode, args, express):
    root = tempfile.mkdtemp(prefix="mwx-profile-%s-" % mode, dir=args.work_dir)
    os.chmod(root, 0o755)
    os.makedirs(os.path.join(root, "htdocs"))
    os.makedirs(os.path.join(root, "cg"))
    os.chmod(os.path.join(root, "cg"), 0o777)
    with open(os.path.join(root, "htdocs", "hello.txt"), "wb") as f:
        f.write(b"Hello, World!\n")
    port = free_port()
    module = os.path.join(os.path.dirname(os.path.abspath(express)), "libmod_wsgi.so")
    load = wsgi = ""
    path = "/hello.txt"
    if mode != "static":
        load = "LoadModule wsgi_module %s" % module
        if args.app == "hello":
            script = os.path.join(root, "app.py")
            with open(script, "wb") as f:
                f.write(HELLO_APP)
            path = "/hello"
        else:
            script = os.path.join(args.django_dir, "benchsite", "wsgi.py")
            path = {"django": "/", "django-admin": "/admin/login/", "django-sqlite": "/db/"}[args.app]
        home = "WSGIPythonHome %s\nWSGIPythonPath %s\n" % (args.venv, args.django_dir or root)
        if mode == "embedded":
            wsgi = home + "WSGIScriptAlias / %s\nWSGIApplicationGroup %%{GLOBAL}\n" % script
        else:
            exe = "python-executable=off" if mode == "daemon-libpython" else ""
            wsgi = home + ("WSGIDaemonProcess g threads=2 python-home=%s %s\n"
                           "WSGIScriptAlias / %s process-group=g application-group=%%{GLOBAL}\n"
                           % (args.venv, exe, script))
    conf = os.path.join(root, "httpd.conf")
    with open(conf, "w") as f:
        f.write(CONF % {"root": root, "port": port, "load": load, "wsgi": wsgi})
    subprocess.run(["chmod", "-R", "a+rX", root], check=True)
    cmd = ["valgrind", "--tool=callgrind", "--trace-children=yes", "--collect-atstart=yes",
           "--callgrind-out-file=%s/cg/cg.%%p" % root, "/usr/sbin/apache2", "-X", "-f", conf]
    log = open(os.path.join(root, "valgrind.log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_port(port, 300)
        keepalive_requests(port, path, args.warmup)
        pids = traced_pids(root) or [proc.pid]
        for pid in pids:
            run(["callgrind_control", "-z", str(pid)], timeout=120)
        keepalive_requests(port, path, args.requests)
        for pid in pids:
            run(["callgrind_control", "-d", str(pid)], timeout=300)
        time.sleep(1)
        dumps = {}
        for pid in pids:
            files = sorted(glob.glob(os.path.join(root, "cg", "cg.%d.*" % pid)))
            if files:
                dumps[pid] = files[-1]
        return root, dumps, path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def analyse(mode, dumps, n):
    """{process kind: {part: instructions per request}}"""
    out = {}
    for pid, f in dumps.items():
        incl, total = inclusive(f)
        is_apache = any(re.search(r"^(ap_run_handler|ap_process_request|wsgi_swift_handler|ap_read_request)$", fn)
                        for fn in incl) or mode == "static"
        parts = collections.OrderedDict()
        parts["total"] = total / n
        if is_apache:
            ours = 0
            for name, pattern in PARTS_CHILD:
                parts[name] = part_cost(incl, pattern) / n
            ours = parts["translate_name"] + parts["access checker"] + parts["handler (all)"]
            parts["Apache core"] = parts["total"] - ours
            if mode.startswith("daemon"):
                parts["our hooks (besides the hop)"] = ours - parts["daemon hop: forward"]
            else:
                parts["our hooks (besides the parts)"] = ours - parts["environ"] - parts["application call"] \
                    - parts["start_response"] - parts["response to Apache"]
            out["apache"] = parts
        else:
            parts["serve (a request, inclusive)"] = part_cost(incl, r"DaemonProcess\.serve") / n
            parts["environ"] = part_cost(incl, r"DaemonRequest\.forEachEntry|closure.*DaemonProcess\.serve") / n
            parts["application call"] = part_cost(incl, r"^_?PyObject_(Vectorcall|Call)$|^PyObject_CallOneArg$") / n
            parts["start_response"] = part_cost(incl, r"StartResponse\.\w*call|start_response") / n
            parts["response (socket)"] = part_cost(incl, r"SocketChannel\.(write|sendHeaders|finish)") / n
            parts["waiting for requests (poller, accept)"] = part_cost(incl, r"DaemonPoller\.next") / n
            out["daemon %d" % pid] = parts
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--modes", default="static,embedded,daemon,daemon-libpython")
    p.add_argument("--app", default="hello", choices=["hello", "django", "django-admin", "django-sqlite"])
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--ours", default=os.path.join(REPO, ".build", "release", "mod_wsgi-express"))
    p.add_argument("--baseline", metavar="PATH", help="another build's mod_wsgi-express: profiled too, as 'before'")
    p.add_argument("--work-dir", default="/var/tmp/mod_wsgi-bench",
                   help="where bench/run.py made its venv and apps (default %(default)s)")
    p.add_argument("--keep", action="store_true", help="keep the server roots and callgrind files")
    args = p.parse_args()
    args.venv = os.path.join(args.work_dir, "venv")
    args.django_dir = os.path.join(args.work_dir, "apps", "django") if args.app != "hello" else None
    if not os.path.exists(os.path.join(args.venv, "bin", "python")):
        sys.exit("request_profile: run `python3 bench/run.py --quick` once first (it makes %s)" % args.venv)
    builds = [("after", args.ours)] + ([("before", args.baseline)] if args.baseline else [])
    results = collections.OrderedDict()
    for label, express in builds:
        for mode in args.modes.split(","):
            if mode == "static" and label == "before":
                continue
            print("profiling %s %s (%s) ..." % (label, mode, args.app), file=sys.stderr, flush=True)
            root, dumps, path = profile(mode, args, express)
            results[(label, mode)] = analyse(mode, dumps, args.requests)
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    print("## Instructions per request (callgrind, %d requests on one keep-alive connection, %s)\n"
          % (args.requests, args.app))
    for (label, mode), kinds in results.items():
        for kind, parts in kinds.items():
            print("### %s, %s: %s\n" % (label, mode, kind))
            print("| part | instructions/request |")
            print("|---|---:|")
            for k, v in parts.items():
                print("| %s | %.0f |" % (k, v))
            print()


if __name__ == "__main__":
    main()
