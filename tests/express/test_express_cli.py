"""mod_wsgi-express's commands, --help, and its one-line errors (no Apache started)."""
import json
import os
import re
import socket
import stat
import subprocess

import pytest

from expresslib import EXPRESS, run, write, HELLO

# Every option of mod_wsgi-express 4.9's start-server/setup-server (its --help), plus ours.
OPTIONS_4_9 = """
--application-type --entry-point --host --port --http2 --https-port --ssl-certificate-file
--ssl-certificate-key-file --ssl-certificate --ssl-ca-certificate-file --ssl-verify-client
--ssl-certificate-chain-file --ssl-environment --https-only --hsts-policy --server-name --server-alias
--allow-localhost --processes --threads --max-clients --initial-workers --minimum-spare-workers
--maximum-spare-workers --limit-request-body --maximum-requests --startup-timeout --shutdown-timeout
--restart-interval --cpu-time-limit --graceful-timeout --eviction-timeout --deadlock-timeout
--inactivity-timeout --ignore-activity --request-timeout --connect-timeout --socket-timeout
--queue-timeout --header-timeout --header-max-timeout --header-min-rate --body-timeout
--body-max-timeout --body-min-rate --server-backlog --daemon-backlog --send-buffer-size
--receive-buffer-size --header-buffer-size --response-buffer-size --response-socket-timeout
--enable-sendfile --disable-reloading --reload-on-changes --user --group --callable-object
--map-head-to-get --document-root --directory-index --directory-listing --allow-override --mount-point
--url-alias --error-document --error-override --proxy-mount-point --proxy-virtual-host
--trust-proxy-header --trust-proxy --keep-alive-timeout --compress-responses --server-metrics
--server-status --host-access-script --auth-user-script --auth-type --auth-group-script --auth-group
--include-file --rewrite-rules --envvars-script --locale --setenv --passenv --working-directory
--pid-file --server-root --server-mpm --log-directory --log-level --access-log --startup-log
--log-to-terminal --access-log-format --error-log-format --error-log-name --access-log-name
--startup-log-name --rotate-logs --max-log-size --rotatelogs-executable --python-path --python-eggs
--shell-executable --httpd-executable --process-name --modules-directory --mime-types --socket-prefix
--add-handler --chunked-request --with-cgi --service-script --service-user --service-group
--service-log-file --orphan-interpreter --embedded-mode --enable-docs --debug-mode --enable-debugger
--debugger-startup --enable-coverage --coverage-directory --enable-profiler --profiler-directory
--enable-recorder --recorder-directory --enable-gdb --gdb-executable --setup-only --python-home
""".split()


@pytest.mark.parametrize("command", ["start-server", "setup-server"])
def test_help_lists_every_option_with_a_description(express, command):
    r = run([command, "--help"])
    assert r.returncode == 0, r.stderr
    text = r.stdout
    lines = text.splitlines()
    for opt in OPTIONS_4_9:
        idx = [i for i, l in enumerate(lines) if re.match(r"^\s+%s(, --[\w-]+)*( <[^>]*>)?(\s|$)" % re.escape(opt), l)]
        assert idx, "%s missing from %s --help" % (opt, command)
        i = idx[0]
        same_line = re.sub(r"^\s+%s(, --[\w-]+)*( <[^>]*>)?" % re.escape(opt), "", lines[i]).strip()
        description = same_line or lines[i + 1].strip()
        assert len(description) > 10, "%s has no description" % opt


@pytest.mark.parametrize("command", ["module-config", "module-location", "install-module"])
def test_help_of_other_commands(express, command):
    r = run([command, "--help"])
    assert r.returncode == 0
    assert "USAGE: mod_wsgi-express %s" % command in r.stdout


def test_top_level_help_lists_the_commands(express):
    r = run(["--help"])
    for c in ["start-server", "setup-server", "module-config", "module-location", "install-module"]:
        assert c in r.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(express, shell):
    r = run(["--generate-completion-script", shell])
    assert r.returncode == 0
    assert "start-server" in r.stdout and "url-alias" in r.stdout


@pytest.mark.parametrize("command", ["start-server", "setup-server"])
def test_options_as_json_for_wrappers(express, command):
    r = run([command, "--list-options-json"])
    assert r.returncode == 0, r.stderr
    options = {o["name"]: o for o in json.loads(r.stdout)}
    assert set(OPTIONS_4_9) <= set(options)
    assert options["--port"]["default"] == 8000 and options["--port"]["type"] == "int"
    assert options["--url-alias"]["kind"] == "pair"
    assert options["--python-path"]["kind"] == "repeatable"
    assert options["--https-port"]["status"] == "implemented" and options["--https-port"]["type"] == "int"
    assert options["--with-php5"]["status"] == "withdrawn" and "mod_wsgi 6.0 removed it" in options["--with-php5"]["reason"]
    # issue 15: no option is refused without saying why.
    assert not [n for n, o in options.items() if o["status"] != "implemented" and not o["reason"]]
    # What the export says is what the command does: a refused option is refused.
    r = run([command, "--with-php5"])
    one_line_error(r, "--with-php5 is not supported: mod_wsgi 6.0 removed it", code=1)


def test_module_location(express):
    r = run(["module-location"])
    assert r.returncode == 0, r.stderr
    path = r.stdout.strip()
    assert os.path.isabs(path) and os.path.isfile(path)
    assert r.stdout.endswith("\n")


def test_module_config(express):
    r = run(["module-config"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.match(r'^LoadModule wsgi_module "/.+"$', lines[0])
    assert re.match(r'^WSGIPythonHome "/.+"$', lines[1])


def test_module_location_when_not_built(express, workdir):
    r = run(["module-location"], env=dict(os.environ, MOD_WSGI_MODULE=os.path.join(workdir, "nope.so")))
    assert r.returncode == 1
    assert r.stderr.strip().startswith("mod_wsgi-express: error: module not built: run `swift build -c release`")
    assert len(r.stderr.strip().splitlines()) == 1


def test_install_module(express, workdir):
    r = run(["install-module", "--modules-directory", workdir])
    assert r.returncode == 0, r.stderr
    m = re.match(r'^LoadModule wsgi_module "(/.+)"$', r.stdout.splitlines()[0])
    assert m and os.path.dirname(m.group(1)) == workdir
    assert os.path.getsize(m.group(1)) == os.path.getsize(run(["module-location"]).stdout.strip())
    assert r.stdout.splitlines()[1].startswith("WSGIPythonHome ")


def one_line_error(r, *fragments, code=None):
    err = r.stderr.strip()
    assert r.returncode != 0, r.stdout
    if code is not None:
        assert r.returncode == code, (r.returncode, err)
    assert len(err.splitlines()) == 1, err
    assert err.startswith("mod_wsgi-express: error: "), err
    for f in fragments:
        assert f in err, err


def test_error_script_missing(express, workdir):
    r = run(["setup-server", os.path.join(workdir, "missing.py"), "--server-root", os.path.join(workdir, "r")])
    one_line_error(r, "missing.py", "does not exist", code=1)
    assert not os.path.exists(os.path.join(workdir, "r"))


def _listener(address, v6only=None):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind((address, 0))
    s.listen(1)
    return s


# (what listens, --host or None, where Apache would listen, how the listener is named)
PORT_TAKEN = [
    (("127.0.0.1",), "127.0.0.1", "127.0.0.1:{}", "by 127.0.0.1:{}"),
    (("0.0.0.0",), "127.0.0.1", "127.0.0.1:{}", "by 0.0.0.0:{}"),
    # `Listen PORT` binds [::] dual-stack: any IPv4 listener on the port stops Apache.
    (("127.0.0.1",), None, "all interfaces ([::]:{})", "by 127.0.0.1:{}"),
    (("0.0.0.0",), None, "all interfaces ([::]:{})", "by 0.0.0.0:{}"),
    (("::", 1), None, "all interfaces ([::]:{})", "by [::]:{}"),
    (("::", 0), "127.0.0.1", "127.0.0.1:{}", "by [::]:{}"),
]


@pytest.mark.parametrize("listener,host,where,by", PORT_TAKEN)
def test_error_port_in_use(express, workdir, hello, listener, host, where, by):
    root = os.path.join(workdir, "r")
    with _listener(*listener) as s:
        port = s.getsockname()[1]
        args = ["start-server", hello, "--port", str(port), "--server-root", root]
        if host:
            args += ["--host", host]
        r = run(args, stdin=subprocess.DEVNULL)
    one_line_error(r, "port %d is already in use" % port, by.format(port),
                   "Apache cannot listen on " + where.format(port), "--port", code=1)
    assert not os.path.exists(root), "Apache must not be set up or started"


def test_error_server_root_parent_missing(express, workdir, hello):
    r = run(["setup-server", hello, "--server-root", os.path.join(workdir, "no", "such", "root")])
    one_line_error(r, "does not exist", "create it first", code=1)


def test_error_httpd_not_found(express, workdir, hello):
    r = run(["setup-server", hello, "--server-root", os.path.join(workdir, "r"),
             "--httpd-executable", "/nonexistent/apache2"])
    one_line_error(r, "Apache httpd not found", "Debian package apache2", code=1)


def test_error_apxs_and_modules_not_found(express, workdir, hello):
    env = dict(os.environ, PATH="/nonexistent", APXS="/nonexistent/apxs")
    r = run(["install-module"], env=env)
    one_line_error(r, "apxs not found", "apache2-dev", code=1)


def test_error_module_not_built(express, workdir, hello):
    env = dict(os.environ, MOD_WSGI_MODULE="/nonexistent/libmod_wsgi.so")
    r = run(["setup-server", hello, "--server-root", os.path.join(workdir, "r")], env=env)
    one_line_error(r, "module not built: run `swift build -c release`", code=1)


@pytest.mark.parametrize("args,fragment", [
    (["--bogus"], "Unknown option '--bogus'"),
    (["--port", "eighty"], "eighty"),
    (["--url-alias", "/only-one"], "--url-alias takes two values"),
    (["--server", "x"], "ambiguous option --server"),
])
def test_error_bad_option(express, workdir, args, fragment):
    r = run(["setup-server", "--server-root", os.path.join(workdir, "r")] + args)
    one_line_error(r, fragment, code=2 if "ambiguous" not in fragment and "two values" not in fragment else 1)


@pytest.mark.parametrize("args,fragment", [
    (["--with-php5"], "--with-php5 is not supported: mod_wsgi 6.0 removed it"),
    (["--with-newrelic"], "--with-newrelic is not supported: mod_wsgi 6.0 removed the New Relic integration"),
    (["--enable-docs"], "--enable-docs is not supported: the documentation is not bundled"),
])
def test_unimplemented_options_are_refused(express, workdir, hello, args, fragment):
    r = run(["setup-server", hello, "--server-root", os.path.join(workdir, "r")] + args)
    one_line_error(r, fragment, code=1)


def test_unreadable_script_directory_is_named(express, workdir):
    if os.getuid() != 0:
        pytest.skip("needs root: Apache's user is another account only then")
    private = os.path.join(workdir, "private")
    os.mkdir(private, 0o700)
    script = write(os.path.join(private, "app.py"), HELLO)
    r = run(["setup-server", script, "--server-root", os.path.join(workdir, "r")])
    one_line_error(r, "'%s'" % private, "not readable by user 'www-data'", "mode 0700", code=1)


def test_python_home_of_another_version_is_refused(express, workdir, hello):
    venv = os.path.join(workdir, "venv")
    os.makedirs(os.path.join(venv, "lib", "python3.99"))
    write(os.path.join(venv, "pyvenv.cfg"), b"home = /usr/bin\nversion = 3.99.0\n")
    r = run(["setup-server", hello, "--server-root", os.path.join(workdir, "r")],
            env=dict(os.environ, VIRTUAL_ENV=venv))
    one_line_error(r, "is Python 3.99 but the module was built for Python 3.", code=1)


def test_setup_server_files(express, workdir, hello, port):
    env = dict(os.environ, TMPDIR=workdir)
    r = run(["setup-server", hello, "--port", str(port)], env=env, cwd=workdir)
    assert r.returncode == 0, r.stderr
    root = os.path.join(workdir, "mod_wsgi-localhost:%d:%d" % (port, os.getuid()))
    for name in ["httpd.conf", "apachectl", "envvars", "handler.wsgi", "default.wsgi", "rewrite.conf"]:
        assert os.path.isfile(os.path.join(root, name)), name
    assert os.path.isdir(os.path.join(root, "htdocs"))
    assert os.stat(os.path.join(root, "apachectl")).st_mode & stat.S_IXUSR
    banner = r.stdout
    assert "Server URL         : http://localhost:%d/" % port in banner
    assert "Server Root        : %s" % root in banner
    assert "Control Script     : %s/apachectl" % root in banner
    assert re.search(r"Operating Mode     : (embedded|daemon)", banner)
    assert "Request Capacity   : 5 (1 process * 5 threads)" in banner
    if os.getuid() == 0:
        assert "Run User           : www-data:www-data" in banner
    # The generated handler is valid Python.
    subprocess.run(["python3", "-m", "py_compile", os.path.join(root, "handler.wsgi")], check=True)


def test_abbreviations_and_variables_like_optparse(express, workdir, hello, port):
    env = dict(os.environ, MWE_PORT=str(port))
    r = run(["setup-server", hello, "--serv=/dev/null", "--server-root", os.path.join(workdir, "r"),
             "--port", "$MWE_PORT", "--thr", "3"], env=env)
    # --serv is ambiguous (--server-name, --server-root ...), like optparse says.
    one_line_error(r, "ambiguous option --serv")
    r = run(["setup-server", hello, "--server-root", os.path.join(workdir, "r"), "--port", "$MWE_PORT",
             "--thr", "3"], env=env)
    assert r.returncode == 0, r.stderr
    assert "http://localhost:%d/" % port in r.stdout
    assert "3 (1 process * 3 threads)" in r.stdout


def test_no_command(express):
    r = run([])
    one_line_error(r, "no command given", code=2)


def test_unreadable_server_root_is_named(express, workdir, hello):
    if os.getuid() != 0:
        pytest.skip("needs root")
    private = os.path.join(workdir, "private")
    os.mkdir(private, 0o700)
    r = run(["setup-server", hello, "--server-root", os.path.join(private, "root")])
    one_line_error(r, "the server root", "'%s'" % private, code=1)


def as_nobody(command):
    subprocess.run(["su", "nobody", "-s", "/bin/sh", "-c", command], check=True, timeout=30)


def test_server_root_of_another_user_is_refused(express, workdir, hello, port):
    """A local user who makes the default server root in /tmp (mode 777) must not get root's
    httpd.conf, apachectl and envvars written into it."""
    if os.getuid() != 0:
        pytest.skip("needs root to act as another user")
    tmp = os.path.join(workdir, "tmp")
    os.mkdir(tmp)
    os.chmod(tmp, 0o1777)
    root = os.path.join(tmp, "mod_wsgi-127.0.0.1:%d:0" % port)
    as_nobody("mkdir -m 777 '%s'" % root)
    r = run(["setup-server", hello, "--port", str(port), "--host", "127.0.0.1"], env=dict(os.environ, TMPDIR=tmp))
    one_line_error(r, "refusing to write into '%s'" % root, "belongs to user 'nobody'", code=1)
    assert os.listdir(root) == []
    # The same for an explicit --server-root, even once the other user's directory is not writable.
    os.chmod(root, 0o755)
    r = run(["setup-server", hello, "--server-root", root])
    one_line_error(r, "belongs to user 'nobody'", code=1)
    assert os.listdir(root) == []


def test_server_root_writable_by_others_or_a_link_is_refused(express, workdir, hello):
    root = os.path.join(workdir, "open")
    os.mkdir(root)
    os.chmod(root, 0o777)
    r = run(["setup-server", hello, "--server-root", root])
    one_line_error(r, "mode 0777", "chmod go-w", code=1)
    assert os.listdir(root) == []
    link = os.path.join(workdir, "link")
    os.symlink(root, link)
    os.chmod(root, 0o755)
    r = run(["setup-server", hello, "--server-root", link])
    one_line_error(r, "symbolic link", code=1)
    assert os.listdir(root) == []
    # A parent that others can write to (without the sticky bit) lets them swap the root.
    shared = os.path.join(workdir, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    r = run(["setup-server", hello, "--server-root", os.path.join(shared, "root")])
    one_line_error(r, "parent of the server root", code=1)
    assert os.listdir(shared) == []


def test_new_server_root_is_private_until_made_readable(express, workdir, hello):
    root = os.path.join(workdir, "fresh")
    old = os.umask(0o077)
    try:
        r = run(["setup-server", hello, "--server-root", root])
    finally:
        os.umask(old)
    assert r.returncode == 0, r.stderr
    st = os.lstat(root)
    assert stat.S_IMODE(st.st_mode) == 0o755 and st.st_uid == os.getuid()


def test_links_planted_in_the_server_root_are_not_followed(express, workdir, hello):
    root = os.path.join(workdir, "root")
    r = run(["setup-server", hello, "--server-root", root])
    assert r.returncode == 0, r.stderr
    victim = write(os.path.join(workdir, "victim"), b"precious\n", mode=0o600)
    for name in ["httpd.conf", "apachectl", "handler.wsgi"]:
        os.unlink(os.path.join(root, name))
        os.symlink(victim, os.path.join(root, name))
    r = run(["setup-server", hello, "--server-root", root])
    assert r.returncode == 0, r.stderr
    assert open(victim).read() == "precious\n"
    assert stat.S_IMODE(os.stat(victim).st_mode) == 0o600
    for name in ["httpd.conf", "apachectl", "handler.wsgi"]:
        assert not os.path.islink(os.path.join(root, name)), name
    # envvars is the user's to keep, so a link there is refused rather than replaced.
    os.unlink(os.path.join(root, "envvars"))
    os.symlink(victim, os.path.join(root, "envvars"))
    r = run(["setup-server", hello, "--server-root", root])
    one_line_error(r, "envvars", "not a regular file", code=1)
    assert open(victim).read() == "precious\n"
    # A sub-directory replaced by a link is refused too.
    os.unlink(os.path.join(root, "envvars"))
    os.rename(os.path.join(root, "htdocs"), os.path.join(workdir, "htdocs-moved"))
    os.symlink(workdir, os.path.join(root, "htdocs"))
    r = run(["setup-server", hello, "--server-root", root])
    one_line_error(r, "htdocs", "symbolic link", code=1)
