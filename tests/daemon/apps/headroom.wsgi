import resource


def application(environ, start_response):
    """VmData (kB), the soft RLIMIT_STACK (bytes) and how many private writable mappings of
    exactly that size (the default thread stacks) the process has."""
    stack = resource.getrlimit(resource.RLIMIT_STACK)[0]
    full_stacks = 0
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if fields[1].startswith("rw") and fields[1][3] == "p" and hi - lo == stack:
                full_stacks += 1
    with open("/proc/self/status") as f:
        data = [l.split()[1] for l in f if l.startswith("VmData:")][0]
    body = ("%s %d %d" % (data, stack, full_stacks)).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
