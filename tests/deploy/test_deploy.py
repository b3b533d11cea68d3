"""deploy/: the container recipe and the Kubernetes manifests. No container engine or cluster
runs on the test machines, so what they would run is checked here instead: the manifests
parse and fit together, every option they pass exists, the Dockerfile names real files,
products and Debian packages; and the image's layout (the command, the module beside it, the
templates in share/) is run from a copy with the Deployment's own arguments, as an
unprivileged user whose output is a pipe it cannot reopen, through a health probe and a
SIGTERM drain."""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DEPLOY = os.path.join(REPO, "deploy")
BUILD = os.environ.get("MOD_WSGI_BUILD", os.path.join(REPO, ".build", "release"))
if not os.path.isabs(BUILD):
    BUILD = os.path.join(REPO, BUILD)
EXPRESS = os.path.join(BUILD, "mod_wsgi-express")


def manifests():
    docs = []
    for name in sorted(os.listdir(os.path.join(DEPLOY, "kubernetes"))):
        with open(os.path.join(DEPLOY, "kubernetes", name)) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    return {d["kind"]: d for d in docs}


def dockerfile():
    """The Dockerfile's instructions: (INSTRUCTION, text), continuation lines joined."""
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        text = re.sub(r"\\\n", " ", f.read())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def option_table():
    r = subprocess.run([EXPRESS, "start-server", "--list-options-json"], capture_output=True, text=True, check=True)
    rows = {}
    for row in json.loads(r.stdout):
        for name in [row["name"]] + row["aliases"]:
            rows[name] = row
    return rows


def options_in(args):
    """--name and its values, as start-server would read them (a value never starts with --)."""
    found = {}
    name = None
    for a in args:
        if a.startswith("--"):
            name, _, value = a.partition("=")
            found.setdefault(name, [])
            if value:
                found[name].append(value)
        elif name:
            found[name].append(a)
    return found


def container():
    d = manifests()["Deployment"]
    (c,) = d["spec"]["template"]["spec"]["containers"]
    return d, c


def image_cmd():
    ins = dockerfile()
    entry = json.loads([t for w, t in ins if w == "ENTRYPOINT"][-1])
    cmd = json.loads([t for w, t in ins if w == "CMD"][-1])
    return entry, cmd


def test_manifests_parse_and_fit_together():
    m = manifests()
    assert set(m) == {"Deployment", "Service", "PodDisruptionBudget"}, set(m)
    d, c = container()
    spec = d["spec"]
    assert spec["replicas"] >= 3
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert m["Service"]["spec"]["selector"].items() <= labels.items()
    assert m["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()

    opts = options_in(c["args"])
    port = int(opts["--port"][0])
    (cport,) = c["ports"]
    assert cport["containerPort"] == port
    assert m["Service"]["spec"]["ports"][0]["targetPort"] in (cport["name"], port)

    # Readiness and liveness ask the health URL the server answers, on its port.
    health = opts["--health-url"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == health and get["port"] in (cport["name"], port), probe

    # Kubernetes' SIGKILL comes after preStop + the drain, never during it.
    pre = c["lifecycle"]["preStop"]["exec"]["command"]
    assert os.path.basename(pre[0]) == "sleep"
    sleep = int(pre[1])
    drain = int(opts["--drain-timeout"][0])
    delay = int(opts.get("--drain-delay", ["0"])[0])
    grace = spec["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= sleep + delay + drain + 3, (grace, sleep, delay, drain)

    res = c["resources"]
    assert res["requests"]["cpu"] and res["requests"]["memory"] and res["limits"]["memory"]

    # The pod runs as the image's unprivileged user.
    sc = spec["template"]["spec"]["securityContext"]
    user = [t for w, t in dockerfile() if w == "USER"][-1]
    assert sc["runAsNonRoot"] is True and "%d:%d" % (sc["runAsUser"], sc["runAsGroup"]) == user
    # The image's default command and the Deployment's agree on the port and the health URL.
    _, cmd = image_cmd()
    img = options_in(cmd)
    assert img["--port"] == opts["--port"] and img["--health-url"] == opts["--health-url"]
    assert str(port) in [t for w, t in dockerfile() if w == "EXPOSE"][-1].split()


@pytest.mark.parametrize("where", ["deployment", "image"])
def test_every_option_passed_exists(where):
    table = option_table()
    args = container()[1]["args"] if where == "deployment" else image_cmd()[1]
    assert not args[0].startswith("--")  # the WSGI script
    for name in options_in(args):
        row = table.get(name)
        assert row is not None, "%s: no such option %s" % (where, name)
        assert row["status"] == "implemented", (name, row["status"], row["reason"])
    # And start-server takes them together (checked by the command itself, rendering a server root).
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        os.chmod(tmp, 0o755)
        script = os.path.join(tmp, "wsgi.py")
        shutil.copy(os.path.join(DEPLOY, "app", "wsgi.py"), script)
        os.chmod(script, 0o644)
        swapped = [script if a == "/srv/app/wsgi.py" else os.path.join(tmp, "server") if a == "/srv/server" else a
                   for a in args]
        r = subprocess.run([EXPRESS, "setup-server"] + swapped, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(tmp, "server", "httpd.conf")) as f:
            conf = f.read()
        assert "WSGIDrainOnTerm On" in conf and "WSGIHealthURL '/healthz'" in conf and 'LogFormat "%^JS" json' in conf


def test_dockerfile_names_real_files_products_and_packages():
    ins = dockerfile()
    froms = [t for w, t in ins if w == "FROM"]
    assert len(froms) == 2, froms
    assert re.match(r"swift:6\.\d+-bookworm AS build$", froms[0]), froms[0]
    assert froms[1] == "debian:bookworm-slim"
    # Every COPY from the build context names something in the repository.
    for w, t in ins:
        if w == "COPY" and not t.startswith("--from"):
            *sources, _ = shlex.split(t)
            for s in sources:
                assert os.path.exists(os.path.join(REPO, s)), s
    # What the build stage installs are products of Package.swift, where the command looks.
    run = " ".join(t for w, t in ins if w == "RUN")
    with open(os.path.join(REPO, "Package.swift")) as f:
        package = f.read()
    assert '.executable(name: "mod_wsgi-express"' in package and '.library(name: "mod_wsgi", type: .dynamic' in package
    assert ".build/release/mod_wsgi-express /opt/mod_wsgi-express/bin/mod_wsgi-express" in run
    assert ".build/release/libmod_wsgi.so /opt/mod_wsgi-express/bin/libmod_wsgi.so" in run
    assert "templates /opt/mod_wsgi-express/share/mod_wsgi-express/templates" in run
    entry, _ = image_cmd()
    assert entry == ["/opt/mod_wsgi-express/bin/mod_wsgi-express", "start-server"]
    # The runtime's packages exist in Debian 12, and only Apache and Python (the library the
    # module embeds: the version of the build stage's python3-dev, Debian 12's).
    runtime = [t for w, t in ins[ins.index(("FROM", froms[1])):] if w == "RUN"][0]
    packages = re.search(r"install -y --no-install-recommends ([^&]+)", runtime).group(1).split()
    assert packages == ["apache2", "python3", "libpython3.11"], packages
    for pkg in packages + ["apache2-dev", "python3-dev"]:
        assert subprocess.run(["apt-cache", "show", "-q", pkg], capture_output=True).returncode == 0, pkg
    r = subprocess.run(["/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                       capture_output=True, text=True)
    assert "libpython%s" % r.stdout.strip() in packages
    # A non-root user runs it; SIGTERM is the stop signal (it drains).
    assert [t for w, t in ins if w == "USER"][-1] == "10001:10001"
    assert ("STOPSIGNAL", "SIGTERM") in ins
    with open(os.path.join(REPO, ".dockerignore")) as f:
        ignored = f.read().split()
    assert ".build*" in ignored


@pytest.fixture
def image():
    """The image's /opt/mod_wsgi-express and /srv, laid out in a directory as the Dockerfile
    does, for the unprivileged user nobody."""
    root = tempfile.mkdtemp(prefix="mwe-deploy-", dir="/tmp")
    os.chmod(root, 0o755)
    opt = os.path.join(root, "opt", "mod_wsgi-express")
    os.makedirs(os.path.join(opt, "bin"))
    shutil.copy(EXPRESS, os.path.join(opt, "bin", "mod_wsgi-express"))
    shutil.copy(os.path.join(BUILD, "libmod_wsgi.so"), os.path.join(opt, "bin", "libmod_wsgi.so"))
    shutil.copytree(os.path.join(REPO, "templates"), os.path.join(opt, "share", "mod_wsgi-express", "templates"))
    srv = os.path.join(root, "srv")
    shutil.copytree(os.path.join(DEPLOY, "app"), os.path.join(srv, "app"))
    os.makedirs(os.path.join(srv, "server"))
    os.chown(os.path.join(srv, "server"), 65534, 65534)
    for d, dirs, files in os.walk(root):
        for x in dirs:
            os.chmod(os.path.join(d, x), 0o755)
        for x in files:
            os.chmod(os.path.join(d, x), 0o755 if x == "mod_wsgi-express" else 0o644)
    os.chmod(os.path.join(srv, "server"), 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_the_image_layout_runs_the_deployment_unprivileged(image):
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [os.path.join(image, a[1:]) if a.startswith("/srv/") else a for a in container()[1]["args"]]
    args[args.index("--port") + 1] = str(port)
    args += ["--host", "127.0.0.1"]
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
           os.path.join(image, "opt", "mod_wsgi-express", "bin", "mod_wsgi-express"), "start-server"] + args
    # stdout and stderr: root's pipes (mode 0600), which nobody cannot open by name.
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    try:
        url = "http://127.0.0.1:%d" % port
        deadline = time.time() + 30
        while True:
            assert p.poll() is None, p.stderr.read().decode()
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                    assert (r.status, r.read()) == (200, b"OK\n")
                    break
            except OSError:
                assert time.time() < deadline
                time.sleep(0.2)
        with urllib.request.urlopen(url + "/", timeout=5) as r:
            assert r.read().startswith(b"Hello from ")
        with open(os.path.join(image, "srv", "server", "httpd.conf")) as f:
            conf = f.read()
        assert 'CustomLog "|/usr/bin/tee" json' in conf and 'ErrorLog "|/usr/bin/tee"' in conf
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=40) == 0
        out = p.stdout.read().decode()
        lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
        assert {"/healthz", "/"} <= {x["path"] for x in lines}, out
        assert "MW1802" in out  # the error log, through tee to the same output
        # Everything ran as nobody: the server root's files are nobody's.
        assert os.stat(os.path.join(image, "srv", "server", "httpd.conf")).st_uid == 65534
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
