"""mod_wsgi-express check: exit status 0 only when start-server would start; otherwise one
line per problem, naming the fix."""
import os
import socket

from expresslib import run, write


def check(args, workdir, port):
    return run(["check"] + args + ["--host", "127.0.0.1", "--port", str(port),
                                   "--server-root", os.path.join(workdir, "root")])


def test_good_setup(workdir, port, hello):
    r = check([hello], workdir, port)
    assert r.returncode == 0, r.stderr
    assert "ok: start-server would start" in r.stdout
    assert not os.path.exists(os.path.join(workdir, "root")), "check writes nothing where start-server would"


def problem_lines(r):
    assert r.returncode != 0
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert lines and all(l.startswith("mod_wsgi-express check: ") for l in lines), r.stderr
    return lines


def test_missing_script(workdir, port):
    lines = problem_lines(check([os.path.join(workdir, "nope.py")], workdir, port))
    assert len(lines) == 1 and "does not exist" in lines[0]


def test_port_in_use(workdir, port, hello):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(1)
        lines = problem_lines(check([hello], workdir, port))
    assert len(lines) == 1 and "port %d" % port in lines[0] and "already in use" in lines[0]


def test_socket_path_too_long(workdir, port, hello):
    prefix = os.path.join(workdir, "s" * 110)
    lines = problem_lines(check([hello, "--socket-path", prefix], workdir, port))
    assert any("--socket-path" in l and "socket path" in l for l in lines), lines


def test_locale_not_utf8(workdir, port, hello):
    lines = problem_lines(check([hello, "--locale", "en_US.ISO-8859-1"], workdir, port))
    assert len(lines) == 1 and "is not UTF-8" in lines[0] and "--locale C.UTF-8" in lines[0]


def test_apache_config_test_fails(workdir, port, hello):
    bad = write(os.path.join(workdir, "bad.conf"), b"NoSuchDirective here\n")
    lines = problem_lines(check([hello, "--include-file", bad], workdir, port))
    assert len(lines) == 1 and "configuration test fails" in lines[0] and "NoSuchDirective" in lines[0], lines


def test_unreadable_script_as_root(workdir, port):
    if os.getuid() != 0:
        return
    private = os.path.join(workdir, "private")
    os.makedirs(private)
    os.chmod(private, 0o700)
    script = write(os.path.join(private, "app.py"), b"application = None\n")
    lines = problem_lines(check([script], workdir, port))
    assert len(lines) == 1 and "not readable by user" in lines[0], lines
