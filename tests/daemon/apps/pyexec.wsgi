# What a daemon process's Python looks like from the inside (issue 29: exec mode and fork mode
# must look the same to the application).
import json
import os
import sys


def application(environ, start_response):
    import mod_wsgi
    path = environ.get("PATH_INFO", "")
    if path == "/server_metrics":
        m = mod_wsgi.server_metrics()
        body = {"none": m is None}
        if m is not None:
            body["pids"] = [p["pid"] for p in m["processes"] if p["pid"]]
            body["server_limit"] = m["server_limit"]
            body["workers"] = len(m["processes"][0]["workers"])
    elif path == "/fds":
        import fcntl
        body = {}
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            try:
                body[name] = [os.readlink("/proc/self/fd/" + name),
                              bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)]
            except OSError:
                pass
    elif path == "/log":
        environ["wsgi.errors"].write("pyexec wsgi.errors line\n")
        environ["wsgi.errors"].flush()
        body = {}
    else:
        main = sys.modules["__main__"]
        body = {
            "pid": os.getpid(), "ppid": os.getppid(),
            "exe": os.path.realpath("/proc/self/exe"),
            "executable": sys.executable,
            "cmdline": open("/proc/self/cmdline", "rb").read().decode("latin-1"),
            "comm": open("/proc/self/comm").read().strip(),
            "argv": sys.argv, "path0": sys.path[0] if sys.path else None,
            "optimize": sys.flags.optimize, "dont_write_bytecode": sys.dont_write_bytecode,
            "warnoptions": sys.warnoptions, "hash": hash("mod_wsgi"),
            "hashseed_env": "PYTHONHASHSEED" in os.environ,
            "main_names": sorted(n for n in vars(main) if not n.startswith("__")),
            "process_group": mod_wsgi.process_group,
            "threads_per_process": mod_wsgi.threads_per_process,
        }
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
