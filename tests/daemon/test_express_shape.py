"""The configuration mod_wsgi-express renders for daemon mode (its defaults), verified here so
the CLI can switch to daemon mode by default."""
import os
import time

from daemon_harness import harness

EXPRESS = r"""
WSGIRestrictEmbedded On
WSGISocketPrefix @DIR@/run/wsgi
WSGISocketRotation Off
WSGIDaemonProcess localhost:@PORT@ \
   display-name='(wsgi:localhost:@PORT@:0)' \
   home='@DIR@' \
   processes=1 \
   threads=5 \
   maximum-requests=0 \
   python-path='' \
   python-eggs='@DIR@/python-eggs' \
   lang='C.UTF-8' \
   locale='C.UTF-8' \
   listen-backlog=100 \
   queue-timeout=45 \
   socket-timeout=60 \
   connect-timeout=15 \
   request-timeout=60 \
   inactivity-timeout=0 \
   startup-timeout=15 \
   deadlock-timeout=60 \
   graceful-timeout=15 \
   eviction-timeout=0 \
   restart-interval=0 \
   cpu-time-limit=0 \
   shutdown-timeout=5 \
   send-buffer-size=0 \
   receive-buffer-size=0 \
   header-buffer-size=0 \
   response-buffer-size=0 \
   response-socket-timeout=0
WSGIDaemonProcess 'service:tick' display-name=%{GROUP} home='@DIR@' threads=0 lang='C.UTF-8' locale='C.UTF-8'
WSGIImportScript '@APPS@/service.py' process-group='service:tick' application-group=%{GLOBAL}
WSGICallableObject application
WSGIPassAuthorization On
WSGIApplicationGroup %{GLOBAL}
WSGIProcessGroup localhost:@PORT@
WSGIImportScript '@APPS@/env.wsgi' process-group='localhost:@PORT@' application-group=%{GLOBAL}
WSGIScriptAlias / '@APPS@/env.wsgi'
"""


def test_express_daemon_defaults(apache_factory):
    a = apache_factory(EXPRESS)
    r = a.get("/some/path", headers={"Authorization": "Bearer x"})
    assert r.status == 200, (r, a.log()[-3000:])
    env = r.json()
    assert env["mod_wsgi.process_group"] == "localhost:%d" % a.port
    assert env["mod_wsgi.application_group"] == ""
    assert env["HTTP_AUTHORIZATION"] == "Bearer x"
    assert env["_"]["wsgi.multithread"] is True and env["_"]["wsgi.multiprocess"] is True
    assert env["_"]["sys.path"][0] == ""  # home=
    uid = harness.pwd.getpwnam(harness.RUN_USER).pw_uid
    assert a.socket_files() == ["wsgi.%d.u%d.1.sock" % (a.pid, uid), "wsgi.%d.u%d.2.sock" % (a.pid, uid)]
    deadline = time.time() + 10
    while time.time() < deadline and not [m for m in os.listdir(a.markers) if m.startswith("service-start-")]:
        time.sleep(0.1)
    assert [m for m in os.listdir(a.markers) if m.startswith("service-start-")]
    log = a.log()
    assert "Initialized Python 3.11 in Apache child process" not in log  # WSGIRestrictEmbedded On
    assert not harness.error_level_lines(log), log
    a.stop(timeout=15)
    assert a.socket_files() == []


def test_handler_script_with_process_group(apache_factory):
    # mod_wsgi-express serves through a WSGIHandlerScript (with process-group=) for its handler
    a = apache_factory("""
WSGIRestrictEmbedded On
WSGIDaemonProcess hg threads=2
WSGIHandlerScript wsgi-handler @APPS@/env.wsgi process-group=hg application-group=%{GLOBAL} callable-object=application
<Location /h>
    SetHandler wsgi-handler
</Location>
""")
    r = a.get("/h/x")
    assert r.status == 200, (r, a.log()[-2000:])
    env = r.json()
    assert env["mod_wsgi.process_group"] == "hg"
    assert env["mod_wsgi.handler_script"].endswith("/env.wsgi")


def test_missing_handler_script_is_404_from_the_daemon(apache_factory):
    # Apache's side does not stat a daemon's handler script (as mod_wsgi): the daemon process,
    # which loads it, answers 404 and says which file.
    a = apache_factory("""
WSGIRestrictEmbedded On
WSGIDaemonProcess hg threads=2
WSGIHandlerScript wsgi-handler @DIR@/no-such-handler.wsgi process-group=hg application-group=%{GLOBAL}
<Location /h>
    SetHandler wsgi-handler
</Location>
""")
    r = a.get("/h/x")
    assert r.status == 404, (r, a.log()[-2000:])
    assert "Target WSGI script not found or unable to stat: " in a.log()
    assert "no-such-handler.wsgi" in a.log()
