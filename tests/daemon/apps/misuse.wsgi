"""Applications that misuse the process they run in (issue 26): os.fork() with a child that
returns into the server, and closing the fd of the connection the request came on."""
import os
import socket
import time


def _connected_socket_fds():
    fds = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if not os.readlink("/proc/self/fd/%d" % fd).startswith("socket:"):
                continue
            s = socket.socket(fileno=fd)
        except OSError:
            continue
        try:
            if not s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                s.getpeername()
                fds.append(fd)
        except OSError:
            pass
        finally:
            s.detach()
    return fds


def _threads_calling_the_module(n):
    """Starts n threads one after the other, each calling mod_wsgi.request_data() (it raises
    outside a request: the call is what counts); returns the process's RSS in kB after."""
    import threading
    import mod_wsgi

    def call():
        try:
            mod_wsgi.request_data()
        except Exception:  # noqa: BLE001 - no request in this thread
            pass
    for _ in range(n):
        t = threading.Thread(target=call)
        t.start()
        t.join()
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0])


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/fork":
        pid = os.fork()
        if pid == 0:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"from the child %d\n" % os.getpid()]  # returns into the server: must not be sent
        end = time.time() + 10
        while time.time() < end and os.waitpid(pid, os.WNOHANG) == (0, 0):
            time.sleep(0.01)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"from the parent %d, child %d\n" % (os.getpid(), pid)]
    if path == "/close-connection":
        for fd in _connected_socket_fds():
            os.close(fd)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"lost\n"]
    if path == "/close-connection-reuse":
        f = os.open(os.path.join(environ["MARKERS"], "reused"), os.O_WRONLY | os.O_CREAT, 0o644)
        for fd in _connected_socket_fds():
            os.dup2(f, fd)  # the number now names a file (as a later open() could make it)
        os.close(f)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"must not land in the file\n"]
    if path == "/threads":
        rss = _threads_calling_the_module(int(environ.get("QUERY_STRING") or 1000))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d\n" % rss]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"pid %d\n" % os.getpid()]
