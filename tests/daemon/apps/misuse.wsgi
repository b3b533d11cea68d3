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
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"pid %d\n" % os.getpid()]
