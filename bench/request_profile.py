#!/usr/bin/env python3
"""Instructions per request, by part, under callgrind (issue 29, point 2).

    python3 bench/request_profile.py                       # hello: static file, embedded, daemon
    python3 bench/request_profile.py --app django-admin --modes embedded,daemon,daemon-libpython
    python3 bench/request_profile.py --baseline /var/tmp/old/mod_wsgi-express   # before/after

Apache runs in one process (-X) under valgrind --tool=callgrind (the daemon process too: it is
forked from Apache, and its exec of the application's Python is traced). Each configuration runs
twice, with --warmup and with --warmup + --requests requests on one keep-alive connection (one
at a time: no contention, pure work); callgrind writes its counts when the processes exit, and
the difference of the two runs divided by --requests is the cost of a request, start-up and
shutdown cancelled out. Instruction counts do not depend on what else runs on the machine, so
before/after figures from a busy machine hold.

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
LogLevel info
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

# (not used: kept for reference below)
_PARTS_CHILD = [
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


def wait_port(port, timeout, proc):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("Apache under valgrind exited with status %s" % proc.returncode)
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/__nothing__")
            c.getresponse().read()
            c.close()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("Apache did not answer on port %d" % port)


def session_members(sid):
    """Processes still alive in the session the server was started in."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[3]) == sid and fields[0] != "Z":
                    out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


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


OWNERS = [
    ("Apache (httpd, its modules, APR)", r"/usr/sbin/apache2|/apache2/modules/|libapr"),
    ("ours (libmod_wsgi, the daemon runtime)", r"libmod_wsgi"),
    ("Python", r"python3\.\d+|libpython"),
    ("libc, the loader, libstdc++", r"libc\.so|ld-linux|libm\.so|libstdc|libgcc"),
]


def annotate(path, inclusive):
    """[(function, object, Ir)] of one dump, and its total."""
    p = run(["callgrind_annotate", "--threshold=100", "--auto=no"] + (["--inclusive=yes"] if inclusive else []) + [path])
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
        obj = re.search(r"\[([^\]]*)\]$", name)
        fn = name.split(":", 1)[1] if ":" in name else name
        fn = re.sub(r"\s+\[[^\]]*\]$", "", fn)
        rows.append((fn, obj.group(1) if obj else "", ir))
    return rows, total


def inclusive(path):
    """{function: inclusive Ir}, with "(total)" and "(owner) NAME": the exclusive Ir of each
    owner's code (they add up to the total, as inclusive costs of recursive code need not)."""
    rows, total = annotate(path, True)
    names = demangle([fn for fn, _, _ in rows])
    incl = collections.defaultdict(int)
    for fn, _, ir in rows:
        incl[names.get(fn, fn)] = max(incl[names.get(fn, fn)], ir)
    excl, _ = annotate(path, False)
    for _, obj, ir in excl:
        owner = next((o for o, pattern in OWNERS if re.search(pattern, obj)), "other")
        incl["(owner) " + owner] += ir
    return incl, total


def part_cost(incl, pattern):
    """The largest inclusive cost among functions matching (callers include callees: the largest
    is the outermost)."""
    best = 0
    for fn, ir in incl.items():
        if re.search(pattern, fn):
            best = max(best, ir)
    return best


def profile_run(mode, args, express, requests):
    """One run of `requests` requests; {process kind: callgrind file} once every process exited."""
    root = tempfile.mkdtemp(prefix="mwx-profile-%s-" % mode, dir=args.work_dir)
    os.chmod(root, 0o755)
    os.makedirs(os.path.join(root, "htdocs"))
    os.makedirs(os.path.join(root, "cg"))
    os.chmod(os.path.join(root, "cg"), 0o777)
    with open(os.path.join(root, "htdocs", "hello.txt"), "wb") as f:
        f.write(b"Hello, World!\n")
    port = free_port()
    # Valgrind 3.19 cannot read Swift's debug information ("possibly corrupted debuginfo file"):
    # the module and its daemon runtime are loaded from copies without it (symbols kept).
    build = os.path.dirname(os.path.abspath(express))
    for name in ("libmod_wsgi.so", "libmod_wsgi-daemon.so"):
        if os.path.exists(os.path.join(build, name)):
            subprocess.run(["objcopy", "--strip-debug", os.path.join(build, name), os.path.join(root, name)],
                           check=True)
    module = os.path.join(root, "libmod_wsgi.so")
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
            wsgi = home + ("WSGIDaemonProcess g threads=2 shutdown-timeout=120 python-home=%s python-path=%s %s\n"
                           "WSGIScriptAlias / %s process-group=g application-group=%%{GLOBAL}\n"
                           % (args.venv, args.django_dir or root, exe, script))
    conf = os.path.join(root, "httpd.conf")
    with open(conf, "w") as f:
        f.write(CONF % {"root": root, "port": port, "load": load, "wsgi": wsgi})
    subprocess.run(["chmod", "-R", "a+rX", root], check=True)
    # Only the work of requests is counted: in Apache, its connection processing (reading and
    # handling the requests of a connection); in a daemon process, its worker threads' loop.
    # Start-up and shutdown, which need not be the same in two runs, are left out.
    cmd = ["valgrind", "--tool=callgrind", "--trace-children=yes", "--callgrind-out-file=%s/cg/cg.%%p" % root,
           "--collect-atstart=no", "--toggle-collect=ap_run_process_connection",
           "--toggle-collect=*13DaemonProcessO6worker*", "/usr/sbin/apache2", "-X", "-f", conf]
    log = open(os.path.join(root, "valgrind.log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_port(port, 600, proc)
        # valgrind made the output files as root; Apache writes them as its user at exit.
        for f in glob.glob(os.path.join(root, "cg", "cg.*")):
            os.chmod(f, 0o666)
        keepalive_requests(port, path, requests)
    finally:
        # Apache stops its daemon processes, and every process writes its counts as it exits.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(300)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    # The daemon process writes its counts when it has finished Python's shutdown, after Apache.
    deadline = time.time() + 300
    while time.time() < deadline and session_members(proc.pid):
        time.sleep(0.5)
    return root, {("apache" if pid == proc.pid else "daemon"): f
                  for pid in traced_pids(root) for f in [os.path.join(root, "cg", "cg.%d" % pid)]
                  if os.path.getsize(f) > 0}


def kinds(dumps):
    """{kind: inclusive counts}: the Apache process (valgrind's own pid), and the daemon process."""
    out = {}
    for kind, f in sorted(dumps.items()):
        incl, total = inclusive(f)
        incl["(total)"] = total
        out[kind] = incl
    return out


def profile(mode, args, express):
    """{kind: {function: inclusive instructions per request}}: the difference of two runs."""
    roots = []
    try:
        r1, d1 = profile_run(mode, args, express, args.warmup)
        roots.append(r1)
        r2, d2 = profile_run(mode, args, express, args.warmup + args.requests)
        roots.append(r2)
        a, b = kinds(d1), kinds(d2)
        out = {}
        for kind in b:
            if kind not in a:
                continue
            out[kind] = {fn: (b[kind][fn] - a[kind].get(fn, 0)) / args.requests for fn in b[kind]}
        return out
    finally:
        if not args.keep:
            for r in roots:
                shutil.rmtree(r, ignore_errors=True)


# (part, regex on the demangled name of the function whose inclusive cost is the part's)
PARTS = [
    ("translate_name (ours)", r"^wsgi_swift_translate_name$"),
    ("handler (ours, inclusive)", r"^wsgi_swift_handler$"),
    ("daemon hop, Apache's side: DaemonClient.forward", r"DaemonClient\.forward"),
    ("request in the daemon: DaemonProcess.serve", r"DaemonProcess\.serve"),
    ("the application call", r"^_?PyObject_(Vectorcall|Call)$"),
    ("start_response", r"closure #2 in variable initialization expression of static StartResponse\.type"),
    ("writing the response: WSGIRequest.write", r"WSGIRequest\.write"),
]


def analyse(mode, per_kind):
    """{process kind: {row: instructions per request}}"""
    out = {}
    for kind, incl in per_kind.items():
        parts = collections.OrderedDict()
        parts["total"] = incl.get("(total)", 0)
        for owner, _ in OWNERS + [("other", "")]:
            parts["by owner: " + owner] = incl.get("(owner) " + owner, 0)
        for name, pattern in PARTS:
            v = part_cost(incl, pattern)
            if v:
                parts[name] = v
        out[kind] = parts
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--modes", default="static,embedded,daemon,daemon-libpython")
    p.add_argument("--app", default="hello", choices=["hello", "django", "django-admin", "django-sqlite"])
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--warmup", type=int, default=50)
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
            # The static file is Apache's alone; another build may predate python-executable=.
            if label == "before" and mode in ("static", "daemon-libpython"):
                continue
            print("profiling %s %s (%s) ..." % (label, mode, args.app), file=sys.stderr, flush=True)
            try:
                results[(label, mode)] = analyse(mode, profile(mode, args, express))
            except RuntimeError as e:
                print("  %s %s: not available: %s" % (label, mode, e), file=sys.stderr, flush=True)
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
