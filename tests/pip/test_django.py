"""A Django 5 project (Django from PyPI) with 'mod_wsgi.server' in INSTALLED_APPS, served by
`python manage.py runmodwsgi`: its views, the admin and its static files."""
import os
import re
import signal
import time

import pexpect
import pytest

from piplib import clean_env, fetch, free_port, read, run, wait_for, write

VIEWS = """
import sys
from django.http import HttpResponse

def hello(request):
    import mod_wsgi
    return HttpResponse("django|%s|%s" % (sys.prefix, mod_wsgi.process_group), content_type="text/plain")
"""

SETTINGS = """
INSTALLED_APPS += ['mod_wsgi.server']
STATIC_ROOT = BASE_DIR / 'staticfiles'
DEBUG = False
ALLOWED_HOSTS = ['*']
"""

WHITENOISE = """
MIDDLEWARE.insert(1, 'whitenoise.middleware.WhiteNoiseMiddleware')
"""


def make_project(venv, workdir, whitenoise=False):
    project = os.path.join(workdir, "project")
    os.mkdir(project)
    r = run([venv.bin("django-admin"), "startproject", "mysite", project])
    assert r.returncode == 0, r.stderr
    write(os.path.join(project, "mysite", "views.py"), VIEWS)
    settings = os.path.join(project, "mysite", "settings.py")
    with open(settings, "a") as f:
        f.write(SETTINGS + (WHITENOISE if whitenoise else ""))
    urls = os.path.join(project, "mysite", "urls.py")
    with open(urls) as f:
        text = f.read()
    text = text.replace("urlpatterns = [", "from mysite.views import hello\n\nurlpatterns = [\n    path('hello/', hello),")
    write(urls, text)
    r = run([venv.python, "manage.py", "collectstatic", "--noinput"], cwd=project)
    assert r.returncode == 0, r.stderr
    run(["chmod", "-R", "a+rX", workdir])
    return project


@pytest.fixture
def project(django_venv, workdir):
    return make_project(django_venv, workdir)


@pytest.fixture
def whitenoise_project(django_venv, workdir):
    return make_project(django_venv, workdir, whitenoise=True)


def runmodwsgi(venv, project, *args):
    return [venv.python, "manage.py", "runmodwsgi"] + list(args)


def test_runmodwsgi_serves_views_the_admin_and_static_files(django_venv, project, servers, workdir):
    port = free_port()
    root = os.path.join(workdir, "root")
    log = os.path.join(workdir, "log")
    p = servers.start(runmodwsgi(django_venv, project, "--host", "127.0.0.1", "--port", str(port),
                                 "--server-root", root), cwd=project, log=log)
    url = "http://127.0.0.1:%d" % port
    status, body, _ = wait_for(url + "/hello/", proc=p, log=log)
    assert status == 200, read(os.path.join(root, "error_log"))[-3000:]
    name, prefix, group = body.decode().split("|")
    assert (name, prefix) == ("django", django_venv.path)
    assert group == "127.0.0.1:%d" % port  # daemon mode, mod_wsgi's default
    assert "Successfully ran command." in read(log)

    status, body, _ = fetch(url + "/admin/login/")
    assert status == 200 and b"Django site admin" in body and b'name="username"' in body

    # DEBUG = False: Django serves no static files; Apache does, through the alias.
    status, body, _ = fetch(url + "/static/admin/css/base.css")
    assert status == 200 and b"DJANGO Admin styles" in body
    conf = read(os.path.join(root, "httpd.conf"))
    assert "Alias '/static' '%s'" % os.path.join(project, "staticfiles") in conf
    assert "home=%s" % project in conf  # BASE_DIR is the working directory


def test_with_whitenoise_no_static_alias_is_rendered(django_venv, whitenoise_project, servers, workdir):
    project = whitenoise_project
    port = free_port()
    root = os.path.join(workdir, "root")
    r = run(runmodwsgi(django_venv, project, "--setup-only", "--host", "127.0.0.1", "--port", str(port),
                       "--server-root", root), cwd=project)
    assert r.returncode == 0, r.stderr
    conf = read(os.path.join(root, "httpd.conf"))
    assert "--application-type module --entry-point mysite.wsgi --callable-object application" in conf
    assert "Alias '/static'" not in conf
    assert not os.path.exists(os.path.join(root, "httpd.pid"))

    # Served, the static files come from WhiteNoise in the application.
    log = os.path.join(workdir, "log")
    p = servers.start(runmodwsgi(django_venv, project, "--host", "127.0.0.1", "--port", str(port),
                                 "--server-root", root), cwd=project, log=log)
    status, body, _ = wait_for("http://127.0.0.1:%d/static/admin/css/base.css" % port, proc=p, log=log)
    assert status == 200 and b"DJANGO Admin styles" in body, read(os.path.join(root, "error_log"))[-3000:]


def test_runmodwsgi_takes_every_start_server_option(django_venv, project, workdir):
    root = os.path.join(workdir, "root")
    other = os.path.join(workdir, "elsewhere")
    os.mkdir(other)
    # Django's own options are taken out; the given ones win over those from the settings.
    r = run(runmodwsgi(django_venv, project, "--setup-only", "--server-root", root, "--port", str(free_port()),
                       "--processes", "3", "--threads", "4", "--working-directory", other,
                       "--url-alias", "/media", other, "--verbosity", "2", "--settings=mysite.settings"),
            cwd=project)
    assert r.returncode == 0, r.stderr
    conf = read(os.path.join(root, "httpd.conf"))
    assert re.search(r"^\s*processes=3 \\$", conf, re.M) and re.search(r"^\s*threads=4 \\$", conf, re.M), conf
    assert "home=%s" % other in conf
    assert "Alias '/media' '%s'" % other in conf
    # An option start-server does not know is refused by start-server's own parser.
    r = run(runmodwsgi(django_venv, project, "--setup-only", "--no-such-option"), cwd=project)
    assert r.returncode == 2
    assert "--no-such-option" in r.stderr and "mod_wsgi-express" in r.stderr


def test_runmodwsgi_help_lists_the_start_server_options(django_venv, project):
    r = run(runmodwsgi(django_venv, project, "--help"), cwd=project)
    assert r.returncode == 0, r.stderr
    for option in ("--processes", "--url-alias", "--working-directory", "--setup-only", "--reload-on-changes"):
        assert option in r.stdout


def test_runmodwsgi_on_a_terminal_stays_the_parent_and_forwards_signals(django_venv, project, workdir):
    port = free_port()
    root = os.path.join(workdir, "root")
    child = pexpect.spawn(django_venv.python, ["manage.py", "runmodwsgi", "--host", "127.0.0.1", "--port", str(port),
                                               "--server-root", root],
                          cwd=project, env=clean_env(), timeout=60, encoding="utf-8")
    httpd = None
    try:
        child.expect("Server URL")
        status, body, _ = wait_for("http://127.0.0.1:%d/hello/" % port)
        assert status == 200, read(os.path.join(root, "error_log"))[-3000:]
        with open(os.path.join(root, "httpd.pid")) as f:
            httpd = int(f.read().strip())
        assert httpd != child.pid  # httpd is a child of the command, not the command itself
        os.kill(child.pid, signal.SIGWINCH)  # a resized terminal is ignored
        time.sleep(1.0)
        assert child.isalive() and fetch("http://127.0.0.1:%d/hello/" % port)[0] == 200
        child.kill(signal.SIGINT)  # Ctrl-C stops Apache, then the command
        child.expect(pexpect.EOF, timeout=30)
        child.close()
        assert child.exitstatus is not None or child.signalstatus is not None
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                os.kill(httpd, 0)
                time.sleep(0.2)
            except OSError:
                httpd = None
                break
        assert httpd is None, "httpd still running after Ctrl-C"
    finally:
        for pid in (child.pid, httpd):
            if pid:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
