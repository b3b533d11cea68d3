"""Issue 4, point 2: WSGIDaemonProcess options with mod_wsgi's meaning."""
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from daemon_harness import harness, DaemonApache


def _get(a, path, timeout=30):
    r = a.get(path, timeout=timeout)
    assert r.status == 200, (r, a.log()[-3000:])
    return r


def _pid(a):
    return int(_get(a, "/d/pid").body)


def _app(group_opts, extra=""):
    return ("WSGIDaemonProcess g %s\n"
            "WSGIScriptAlias /d @APPS@/daemon.wsgi process-group=g application-group=%%{GLOBAL}\n%s" % (group_opts, extra))


def test_maximum_requests(apache_factory):
    a = apache_factory(_app("threads=1 maximum-requests=3"))
    pids = [_pid(a) for _ in range(10)]
    assert len(set(pids)) >= 3, pids
    assert pids[0] == pids[1] == pids[2] and pids[3] != pids[2], pids
    a.wait_log(r"reached maximum-requests=3; restarting gracefully")


@pytest.mark.slow
def test_inactivity_timeout_only_while_idle(apache_factory):
    a = apache_factory(_app("threads=2 inactivity-timeout=1"))
    p1 = _pid(a)
    # a request that runs longer than the timeout is not idleness
    r = _get(a, "/d/sleep?2")
    assert r.body.endswith(b" in %d" % p1)
    time.sleep(2.5)
    p2 = _pid(a)
    assert p2 != p1
    a.wait_log(r"was idle for inactivity-timeout=1")


@pytest.mark.slow
def test_restart_interval(apache_factory):
    a = apache_factory(_app("threads=2 restart-interval=2"))
    p1 = _pid(a)
    deadline = time.time() + 10
    while time.time() < deadline and _pid(a) == p1:
        time.sleep(0.2)
    assert _pid(a) != p1
    a.wait_log(r"reached restart-interval=2")


def test_rlimits_applied(apache_factory):
    a = apache_factory(_app("threads=1 cpu-time-limit=1000 memory-limit=2000000000 virtual-memory-limit=4000000000"))
    lim = _get(a, "/d/info").json()["limits"]
    assert lim == {"RLIMIT_CPU": 1000, "RLIMIT_DATA": 2000000000, "RLIMIT_AS": 4000000000}


def test_rlimit_failure_logs_errno(apache_factory):
    a = apache_factory(_app("threads=1 cpu-time-limit=1000"), start=False)
    p = subprocess.run(["prlimit", "--cpu=500:600", "setsid", harness.HTTPD, "-f", a.conf, "-k", "start"],
                       capture_output=True, text=True, timeout=30, env=harness.APACHE_ENV)
    assert p.returncode == 0, p.stderr
    a.started = True
    a.pid = None
    deadline = time.time() + 10
    while time.time() < deadline and not os.path.exists(a.pidfile):
        time.sleep(0.05)
    a.pid = int(open(a.pidfile).read())
    a.pgid = os.getpgid(a.pid)
    a.wait_port()
    assert _pid(a)
    a.wait_log(r"Couldn't set CPU time limit of 1000 seconds for daemon process 'g': Invalid argument \(errno 22\)")


def test_lang_locale_umask_home_display_name(apache_factory):
    a = apache_factory(_app("threads=1 lang=C.UTF-8 locale=C.UTF-8 umask=0027 home=@DIR@/home "
                            "display-name=my-daemon python-eggs=@DIR@/eggs"), start=False)
    os.makedirs(os.path.join(a.dir, "home"))
    harness._chown_tree(a.dir)
    a.start()
    info = _get(a, "/d/info").json()
    assert info["lang"] == "C.UTF-8" and info["lc_all"] == "C.UTF-8"
    assert info["umask"] == "0027"
    assert info["cwd"] == os.path.join(a.dir, "home")
    assert info["sys.path"][0] == ""
    assert info["cmdline"].startswith("my-daemon")
    assert info["eggs"] == os.path.join(a.dir, "eggs")
    assert not harness.error_level_lines(a.log()), a.log()


def test_bad_locale_falls_back(apache_factory):
    a = apache_factory(_app("threads=1 locale=xx_YY.NOPE"))
    info = _get(a, "/d/info").json()
    assert info["lc_all"] == "C.UTF-8"
    a.wait_log(r"Unsupported locale setting 'xx_YY.NOPE' specified for daemon process group 'g'; using 'C.UTF-8'")


def test_python_path_and_home(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g threads=1 python-path=@APPS@/lib python-home=/usr
WSGIScriptAlias /env @APPS@/env.wsgi process-group=g application-group=%{GLOBAL}
""")
    env = _get(a, "/env/").json()["_"]
    assert env["pathmod"] != "" and not str(env["pathmod"]).startswith("ImportError"), env["pathmod"]
    assert env["prefix"] == "/usr"


def test_user_and_group(apache_factory):
    a = apache_factory(_app("threads=1 user=nobody group=nogroup"))
    info = _get(a, "/d/info").json()
    assert info["uid"] == harness.pwd.getpwnam("nobody").pw_uid
    assert info["gid"] == harness.grp.getgrnam("nogroup").gr_gid


def test_supplementary_groups(apache_factory):
    a = apache_factory(_app("threads=1 supplementary-groups=adm,staff"))
    r = _get(a, "/d/groups").json()
    assert harness.grp.getgrnam("adm").gr_gid in r and harness.grp.getgrnam("staff").gr_gid in r


def test_root_user_refused(apache_factory):
    a = apache_factory(_app("threads=1 user=root connect-timeout=1 socket-timeout=2"))
    a.wait_log(r"would run as root")
    r = a.get("/d/pid", timeout=30)
    assert r.status in (503, 500, 504)
    for pid in a.children():
        with open("/proc/%d/status" % pid) as f:
            uids = [l for l in f if l.startswith("Uid:")][0].split()[1:]
        assert "0" not in uids or pid not in a.daemon_pids()


def test_pass_authorization_across_the_hop(apache_factory):
    a = apache_factory(_app("threads=1", "<Location /d>\nWSGIPassAuthorization On\n</Location>\n"))
    r = a.get("/d/authz", headers={"Authorization": "Basic dXNlcjpwdw=="}).json()
    assert r["auth"] == "Basic dXNlcjpwdw=="


def test_response_buffer_size_small(apache_factory):
    a = apache_factory(_app("threads=1 response-buffer-size=4096"))
    r = a.get("/d/big?3000000")
    assert len(r.body) == 3000000


def test_header_buffer_size(apache_factory):
    a = apache_factory(_app("threads=1 header-buffer-size=65536"))
    r = a.get("/d/bigheader")
    assert r.status == 200 and len(r.header("X-Big")) == 40000


@pytest.mark.slow
def test_deadlock_timeout(apache_factory):
    a = apache_factory(_app("threads=2 deadlock-timeout=2"))
    p1 = _pid(a)
    t0 = time.time()
    r = a.get("/d/gil_sleep?20", timeout=30)
    assert r.status == 502 and time.time() - t0 < 10  # mod_wsgi 6.x: 502, the daemon went away
    a.wait_log(r"deadlock timer of 2 seconds expired")
    assert _pid(a) != p1


@pytest.mark.slow
def test_graceful_waits_for_active_request(apache_factory):
    a = apache_factory(_app("threads=2 graceful-timeout=5 display-name=%{GROUP}"))
    p1 = _pid(a)
    res = []
    t = threading.Thread(target=lambda: res.append(a.get("/d/sleep?1.5", timeout=30)))
    t.start()
    time.sleep(0.3)
    os.kill(p1, signal.SIGUSR1)
    t.join()
    assert res[0].status == 200 and res[0].body.endswith(b" in %d" % p1)
    assert _pid(a) != p1


@pytest.mark.slow
def test_stop_bounded_by_shutdown_timeout(apache_factory):
    a = apache_factory(_app("threads=2 shutdown-timeout=1 display-name=%{GROUP}"))
    p1 = _pid(a)
    def slow():
        try:
            a.get("/d/sleep?30", timeout=40)
        except Exception:
            pass  # cut by the stop: expected

    t = threading.Thread(target=slow)
    t.daemon = True
    t.start()
    time.sleep(0.5)
    parent = a.pid
    t0 = time.time()
    a.stop(timeout=20)
    assert time.time() - t0 < 6
    assert not harness._alive(parent) and not harness._alive(p1)
    assert a.socket_files() == []


@pytest.mark.slow
def test_startup_timeout_restarts_unloadable_app(apache_factory):
    a = apache_factory("""
WSGIDaemonProcess g threads=1 startup-timeout=1 display-name=%{GROUP}
WSGIScriptAlias /b @APPS@/broken/app.wsgi process-group=g application-group=%{GLOBAL}
""")
    pids = set()
    deadline = time.time() + 8
    while time.time() < deadline and len(pids) < 2:
        assert a.get("/b").status == 500
        pids |= set(a.daemon_pids())
        time.sleep(0.3)
    assert len(pids) >= 2, a.log()[-2000:]
    a.wait_log(r"could not load its application within startup-timeout=1")
