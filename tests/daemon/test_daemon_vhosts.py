"""Issue 14, item 4: WSGIDaemonProcess inside <VirtualHost>, in configurations shaped like Debian
sites-available files: two name-based sites on one port, each with its own daemon group, and
one of them also on HTTPS (a second <VirtualHost> with the same ServerName). A group defined in
a virtual host serves only that virtual host and those with its ServerName; a group of the
main server serves all of them."""
import json
import os
import shutil
import subprocess

import pytest

from daemon_harness import harness

MODDIR = harness.MODDIR

SITES = """
WSGIDaemonProcess shared threads=2 display-name=%{GROUP}

# /etc/apache2/sites-available/site-a.conf
<VirtualHost *:@PORT@>
    ServerName site-a.test
    WSGIDaemonProcess site-a processes=1 threads=2 display-name=%{GROUP}
    WSGIProcessGroup site-a
    WSGIApplicationGroup %{GLOBAL}
    WSGIScriptAlias / @APPS@/daemon.wsgi
</VirtualHost>

# /etc/apache2/sites-available/site-b.conf
<VirtualHost *:@PORT@>
    ServerName site-b.test
    WSGIDaemonProcess site-b threads=2 display-name=%{GROUP}
    WSGIProcessGroup site-b
    WSGIScriptAlias /shared @APPS@/daemon.wsgi process-group=shared
    WSGIScriptAlias / @APPS@/daemon.wsgi
    <Location /steal>
        WSGIProcessGroup site-a
    </Location>
</VirtualHost>

# /etc/apache2/sites-available/site-a-ssl.conf
Listen 127.0.0.1:@HTTPS@ https
<VirtualHost *:@HTTPS@>
    ServerName site-a.test
    SSLEngine on
    SSLCertificateFile @DIR@/tls.crt
    SSLCertificateKeyFile @DIR@/tls.key
    WSGIProcessGroup site-a
    WSGIScriptAlias / @APPS@/daemon.wsgi
</VirtualHost>
"""


@pytest.fixture
def sites(apache_factory):
    if not shutil.which("openssl") or not os.path.exists(os.path.join(MODDIR, "mod_ssl.so")):
        pytest.skip("needs openssl and mod_ssl")
    https = harness.free_port()
    a = apache_factory(SITES.replace("@HTTPS@", str(https)), start=False, modules=("socache_shmcb", "ssl"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=site-a.test", "-keyout", os.path.join(a.dir, "tls.key"), "-out",
                    os.path.join(a.dir, "tls.crt")], check=True, capture_output=True, timeout=60)
    os.chmod(os.path.join(a.dir, "tls.key"), 0o644)
    a.start()
    a.https = https
    return a


def info(a, host, path="/info"):
    r = a.get(path, headers={"Host": host})
    return r.status, (r.json() if r.status == 200 else r.body)


def test_each_site_has_its_own_daemon_group(sites):
    status, a_info = info(sites, "site-a.test")
    assert status == 200, sites.log()[-3000:]
    assert a_info["process_group"] == "site-a"
    status, b_info = info(sites, "site-b.test")
    assert status == 200 and b_info["process_group"] == "site-b"
    daemons = sites.wait_daemons(3)
    assert a_info["pid"] in daemons and b_info["pid"] in daemons and a_info["pid"] != b_info["pid"]


def test_a_group_of_another_virtual_host_is_refused(sites):
    status, _ = info(sites, "site-b.test", "/steal/info")
    assert status == 500
    sites.wait_log(r"MW1125: .*Daemon process called 'site-a' cannot be accessed by this WSGI application")


def test_a_group_of_the_main_server_serves_every_virtual_host(sites):
    status, body = info(sites, "site-b.test", "/shared/info")
    assert status == 200 and body["process_group"] == "shared"


def test_the_https_twin_with_the_same_server_name_uses_the_group(sites):
    r = subprocess.run(["curl", "-sk", "--max-time", "10", "--resolve", "site-a.test:%d:127.0.0.1" % sites.https,
                        "https://site-a.test:%d/info" % sites.https], capture_output=True, timeout=30)
    body = json.loads(r.stdout)
    assert body["process_group"] == "site-a"
    assert body["pid"] == info(sites, "site-a.test")[1]["pid"]


def test_daemon_process_in_a_location_is_still_refused(apache_factory):
    a = apache_factory("<Location /x>\nWSGIDaemonProcess nope\n</Location>\n", start=False)
    code, out = a.configtest()
    assert code != 0 and "WSGIDaemonProcess" in out
