"""Everything a run needs before measuring: tools, the venv, applications, our build, versions."""

import datetime
import os
import platform
import shutil
import socket
import subprocess
import sys
import time

from .common import (BIG_SIZE, DEBIAN_MOD_WSGI, HELLO, IS_ROOT, REPO, SYSTEM_PYTHON, VENV_PACKAGES, log)
from .procs import kill_stale
from .templates import DJANGO_URLS, DJANGO_VIEW, GENERIC_APP, WRK_DONE
from .workloads import WORKLOADS


class Environment:
    def setup(self):
        os.umask(0o022)
        for d in (self.work, self.apps, self.roots, self.logs, self.run_dir, self.wrk_dir, self.static):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        kill_stale(self.run_dir, self.work)
        self.ensure_tools()
        self.ensure_venv()
        self.write_apps()
        self.write_wrk_scripts()
        self.write_static()
        self.build_ours()

    def ensure_tools(self):
        need = []
        if not shutil.which("wrk"):
            need.append("wrk")
        if not shutil.which("hyperfine"):
            need.append("hyperfine")
        if not os.path.exists("/usr/sbin/apache2"):
            need.append("apache2")
        if not shutil.which("apxs"):
            need.append("apache2-dev")
        if not os.path.exists("/usr/bin/python3-config"):
            need.append("python3-dev")
        if subprocess.run([SYSTEM_PYTHON, "-c", "import venv, ensurepip"],
                          capture_output=True).returncode != 0:
            need.append("python3-venv")
        if not shutil.which("gcc"):
            need.append("gcc")
        if not os.path.exists(DEBIAN_MOD_WSGI):
            need.append("libapache2-mod-wsgi-py3")
        if not need:
            return
        if not IS_ROOT:
            sys.exit("bench: missing Debian packages: %s; run: sudo apt-get install %s"
                     % (" ".join(need), " ".join(need)))
        log("installing %s ..." % " ".join(need))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq"] + need, env=env, check=True,
                       timeout=1200, stdout=subprocess.DEVNULL)
        if "libapache2-mod-wsgi-py3" in need and os.path.exists("/etc/apache2/mods-enabled/wsgi.load"):
            # Debian's package enables the module in the system Apache; the harness only
            # loads it by path in its own configuration, so leave the system as it was.
            subprocess.run(["a2dismod", "-q", "-f", "wsgi"], env=env, timeout=60,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def vpy(self):
        return os.path.join(self.venv, "bin", "python")

    def ensure_venv(self):
        stamp = os.path.join(self.venv, ".bench-ready")
        if os.path.exists(stamp) and not self.args.upgrade:
            # A venv made before a package joined the list gets it now.
            with open(stamp) as f:
                have = {l.split("==")[0].strip().lower().replace("_", "-") for l in f if "==" in l}
            if all(p.lower() in have for p in VENV_PACKAGES):
                return
        t0 = time.monotonic()
        if not os.path.exists(self.vpy()):
            log("creating %s with %s ..." % (self.venv, SYSTEM_PYTHON))
            subprocess.run([SYSTEM_PYTHON, "-m", "venv", self.venv], check=True, timeout=300)
        log("pip install %s (mod_wsgi compiles against this Apache; a minute or so) ..."
            % " ".join(VENV_PACKAGES))
        cmd = [self.vpy(), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        if self.args.upgrade:
            cmd.append("--upgrade")
        p = subprocess.run(cmd + VENV_PACKAGES, timeout=1800, capture_output=True, text=True,
                           env=dict(self.env, APXS="/usr/bin/apxs"))
        if p.returncode != 0:
            sys.exit("bench: pip install failed:\n%s" % (p.stdout + p.stderr)[-3000:])
        subprocess.run(["chmod", "-R", "a+rX", self.venv], check=True)
        with open(stamp, "w") as f:
            f.write(subprocess.run([self.vpy(), "-m", "pip", "freeze"], capture_output=True,
                                   text=True).stdout)
        log("venv ready in %.0f s" % (time.monotonic() - t0))

    def write_file(self, path, data, mode=0o644):
        if isinstance(data, str):
            data = data.encode()
        try:
            with open(path, "rb") as f:
                if f.read() == data:
                    return
        except OSError:
            pass
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)

    def write_apps(self):
        generic = os.path.join(self.apps, "generic")
        os.makedirs(generic, exist_ok=True)
        self.write_file(os.path.join(generic, "app.py"), GENERIC_APP % {"big": BIG_SIZE})
        self.generic_script = os.path.join(generic, "app.py")

        django_dir = os.path.join(self.apps, "django")
        project = os.path.join(django_dir, "benchsite")
        if not os.path.exists(os.path.join(project, "settings.py")):
            os.makedirs(django_dir, exist_ok=True)
            subprocess.run([os.path.join(self.venv, "bin", "django-admin"), "startproject",
                            "benchsite", django_dir], check=True, timeout=120)
        settings_path = os.path.join(project, "settings.py")
        with open(settings_path) as f:
            settings = f.read()
        patched = settings.replace("DEBUG = True", "DEBUG = False").replace(
            "ALLOWED_HOSTS = []", "ALLOWED_HOSTS = ['127.0.0.1', 'localhost']")
        self.write_file(settings_path, patched)
        self.write_file(os.path.join(project, "views.py"), DJANGO_VIEW)
        self.write_file(os.path.join(project, "urls.py"), DJANGO_URLS)
        # The SQLite database of the django-sqlite workload (auth's tables, read only).
        if not os.path.exists(os.path.join(django_dir, "db.sqlite3")):
            subprocess.run([self.vpy(), "manage.py", "migrate", "-v", "0"], cwd=django_dir, check=True,
                           timeout=300, env=dict(self.env, PYTHONPATH=django_dir))
        subprocess.run(["chmod", "-R", "a+rX", self.apps], check=True)
        self.django_dir = django_dir
        self.django_script = os.path.join(project, "wsgi.py")

    def write_wrk_scripts(self):
        self.wrk_scripts = {}
        for wl in WORKLOADS:
            lua = "-- generated by bench/run.py\n"
            if wl.method == "POST":
                lua += ('wrk.method = "POST"\nwrk.body = string.rep("x", %d)\n'
                        'wrk.headers["Content-Type"] = "application/octet-stream"\n' % wl.body_size)
            lua += WRK_DONE
            path = os.path.join(self.wrk_dir, wl.name + ".lua")
            self.write_file(path, lua)
            self.wrk_scripts[wl.name] = path

    def write_static(self):
        htdocs = os.path.join(self.static, "htdocs")
        os.makedirs(htdocs, exist_ok=True)
        self.write_file(os.path.join(htdocs, "hello.txt"), HELLO)
        self.write_file(os.path.join(htdocs, "100k.bin"), b"x" * BIG_SIZE)

    def build_ours(self):
        if self.args.ours or self.args.no_build:
            return
        swift = shutil.which("swift")
        if not swift:
            log("swift not found; measuring whatever %s is" % self.ours)
            return
        log("swift build -c release (use --no-build to skip) ...")
        t0 = time.monotonic()
        try:
            p = subprocess.run([swift, "build", "-c", "release"], cwd=REPO, capture_output=True,
                               text=True, timeout=self.args.build_timeout)
        except subprocess.TimeoutExpired:
            self.build_error = "swift build -c release took over %d s" % self.args.build_timeout
            log("  " + self.build_error)
            return
        if p.returncode != 0:
            tail = []
            for l in (p.stdout + p.stderr).splitlines():
                if "error" in l and l.strip() not in tail and len(tail) < 3:
                    tail.append(l.strip())
            self.build_error = "swift build -c release failed: %s" % (" | ".join(tail) or "exit %d" % p.returncode)
            log("  " + self.build_error)
        else:
            log("  built in %.0f s" % (time.monotonic() - t0))

    # ------------------------------------------------------------------ versions

    def collect_meta(self):
        def out(cmd, timeout=10):
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env)
                return (p.stdout or p.stderr).strip()
            except (OSError, subprocess.TimeoutExpired) as e:
                return "unavailable (%s)" % e

        def pkg(name):
            return out([self.vpy(), "-c", "import importlib.metadata as m; print(m.version(%r))" % name])

        cpu = ""
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        mem = ""
        try:
            with open("/proc/meminfo") as f:
                mem = "%.1f GiB" % (int(f.readline().split()[1]) / 1024 / 1024)
        except OSError:
            pass
        git = lambda *a: out(["git", "-C", REPO] + list(a))
        ours_version = "not built"
        if os.access(self.ours, os.X_OK):
            ours_version = out([self.ours, "--version"], timeout=5).splitlines()[:1]
            ours_version = ours_version[0] if ours_version else ""
        self.meta = {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "loadavg_at_start": os.getloadavg(),
            "host": socket.gethostname(),
            "cpu": cpu,
            "cores": os.cpu_count(),
            "cores_usable": len(os.sched_getaffinity(0)),
            "memory": mem,
            "kernel": platform.release(),
            "os": out(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
            "apache": out(["/usr/sbin/apache2", "-v"]).splitlines()[0],
            "python": out([self.vpy(), "-c", "import sys; print(sys.version.split()[0], sys.executable)"]),
            "mod_wsgi": pkg("mod_wsgi"),
            "gunicorn": pkg("gunicorn"),
            "uwsgi": pkg("uwsgi"),
            "granian": pkg("granian"),
            "debian_mod_wsgi": out(["dpkg-query", "-W", "-f", "${Version}", "libapache2-mod-wsgi-py3"]),
            "django": pkg("django"),
            "wrk": out(["wrk", "-v"]).splitlines()[0].split(" [")[0] if shutil.which("wrk") else "missing",
            "hyperfine": out(["hyperfine", "--version"]).replace("hyperfine ", "") if shutil.which("hyperfine") else "missing",
            "ours": {
                "path": self.ours,
                "git_commit": git("rev-parse", "HEAD"),
                "git_describe": git("describe", "--always", "--dirty"),
                "version": ours_version,
                "build_error": getattr(self, "build_error", None),
            },
        }

    # ------------------------------------------------------------------ servers
