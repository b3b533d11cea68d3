import os

kept = []


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/leak":
        kept.append(bytearray(20 * 1024 * 1024))  # 20 MB more each time, never freed
    with open("/proc/self/status") as f:
        data = [l.split()[1] for l in f if l.startswith("VmData:")][0]
    body = ("%d %s %d" % (os.getpid(), data, len(kept))).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
