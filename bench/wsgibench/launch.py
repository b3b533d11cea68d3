"""Command lines of every server, and starting one until it answers 200."""

import os
import pwd
import shlex
import subprocess
import time

from .common import DEBIAN_MOD_WSGI, IS_ROOT, REPO, RUN_USER, STATIC_THREADS, SYSTEM_APACHE_THREADS
from .httpcheck import wait_for_200
from .procs import Running, free_port
from .servers import DAEMON_2X8_MAX_CLIENTS
from .templates import STATIC_CONF, SYSTEM_APACHE_CONF


class Launch:
    def user_flags(self):
        return ["--user", RUN_USER, "--group", RUN_USER] if IS_ROOT else []

    def express_exe(self, sd):
        if sd.impl == "ours":
            return sd.exe or self.ours
        return os.path.join(self.venv, "bin", "mod_wsgi-express")

    def express_args(self, sd, app, port, root, subcommand="start-server"):
        script = self.django_script if app == "django" else self.generic_script
        cmd = [self.express_exe(sd), subcommand, script, "--host", "127.0.0.1",
               "--port", str(port), "--server-root", root] + self.user_flags()
        if app == "django":
            cmd += ["--python-path", self.django_dir]
        if sd.mode == "embedded":
            cmd.append("--embedded-mode")
        if sd.shape == "2x8":
            cmd += ["--processes", "2", "--threads", "8"]
            if sd.mode == "daemon":
                cmd += ["--max-clients", str(DAEMON_2X8_MAX_CLIENTS)]
        if sd.impl == "ours":
            cmd += ["--python-home", self.venv]
        return cmd + sd.flags

    def server_command(self, sd, app, port):
        """-> (argv, cwd, env, server_root)"""
        env = dict(self.env)
        slug = sd.name.replace(" ", "-").replace("_", "-")
        root = os.path.join(self.roots, "%s-%s" % (slug, app))
        if sd.mode == "apache":
            return self.system_apache_command(sd, port, root, env)
        if sd.impl in ("ours", "mod_wsgi"):
            if sd.impl == "ours":
                env["VIRTUAL_ENV"] = self.venv
            cwd = self.django_dir if app == "django" else os.path.dirname(self.generic_script)
            return self.express_args(sd, app, port, root), cwd, env, root
        if sd.impl == "gunicorn":
            gun = os.path.join(self.venv, "bin", "gunicorn")
            if app == "django":
                chdir, target = self.django_dir, "benchsite.wsgi:application"
            else:
                chdir, target = os.path.dirname(self.generic_script), "app:application"
            if sd.mode == "sync":
                workers = ["-k", "sync", "-w", "16"]
            else:
                workers = ["-k", "gthread", "-w", "2", "--threads", "8"]
            cmd = [gun, "-b", "127.0.0.1:%d" % port, "--chdir", chdir, "--log-level", "warning",
                   "--backlog", "2048"] + workers + [target]
            return cmd, chdir, env, None
        if sd.impl in ("uwsgi", "granian"):
            if app == "django":
                chdir, module = self.django_dir, "benchsite.wsgi:application"
            else:
                chdir, module = os.path.dirname(self.generic_script), "app:application"
            p, t = sd.processes_threads()
            if sd.impl == "uwsgi":
                # Its fastest configuration of its own: the native HTTP/1.1 socket, which keeps
                # connections alive (without it uWSGI closes every connection).
                cmd = [os.path.join(self.venv, "bin", "uwsgi"), "--http11-socket", "127.0.0.1:%d" % port,
                       "--master", "--processes", str(p), "--threads", str(t), "--thunder-lock",
                       "--chdir", chdir, "--module", module, "--disable-logging", "--die-on-term",
                       "--listen", "1024", "--need-app", "--single-interpreter"]
            else:
                cmd = [os.path.join(self.venv, "bin", "granian"), "--interface", "wsgi", "--http", "1",
                       "--no-ws", "--host", "127.0.0.1", "--port", str(port), "--workers", str(p),
                       "--blocking-threads", str(t), "--backlog", "2048", "--log-level", "warning",
                       "--no-access-log", "--working-dir", chdir, module]
            return cmd, chdir, env, None
        if sd.impl == "static":
            os.makedirs(root, exist_ok=True)
            conf = os.path.join(root, "httpd.conf")
            self.write_file(conf, STATIC_CONF % {
                "root": root, "port": port, "htdocs": os.path.join(self.static, "htdocs"),
                "threads": STATIC_THREADS, "workers": 2 * STATIC_THREADS,
                "user": RUN_USER if IS_ROOT else pwd.getpwuid(os.getuid()).pw_name,
                "group": RUN_USER if IS_ROOT else "#%d" % os.getgid(),
            })
            return ["/usr/sbin/apache2", "-f", conf, "-DFOREGROUND"], root, env, root
        raise ValueError(sd.impl)

    def module_path(self, sd):
        if sd.impl == "ours":
            return os.path.join(os.path.dirname(self.express_exe(sd)), "libmod_wsgi.so")
        return DEBIAN_MOD_WSGI

    def system_apache_command(self, sd, port, root, env):
        """The hand-written configuration a sysadmin would write for the system Apache:
        event MPM, 2 x 16 threads, WSGIScriptAlias + WSGIApplicationGroup %{GLOBAL}, the
        module loaded by path (nothing is enabled in /etc/apache2)."""
        os.makedirs(root, exist_ok=True)
        conf = os.path.join(root, "httpd.conf")
        self.write_file(conf, SYSTEM_APACHE_CONF % {
            "root": root, "port": port, "module": self.module_path(sd),
            "script": self.generic_script, "appdir": os.path.dirname(self.generic_script),
            "threads": SYSTEM_APACHE_THREADS, "workers": 2 * SYSTEM_APACHE_THREADS,
            "user": RUN_USER if IS_ROOT else pwd.getpwuid(os.getuid()).pw_name,
            "group": RUN_USER if IS_ROOT else "#%d" % os.getgid(),
        })
        return ["/usr/sbin/apache2", "-f", conf, "-DFOREGROUND"], root, env, root

    def start(self, sd, app, ready_path, timeout=None):
        """Start sd serving app; returns (Running, seconds to first 200) or raises RuntimeError."""
        port = free_port()
        cmd, cwd, env, root = self.server_command(sd, app, port)
        log_path = os.path.join(self.logs, "%s-%s.log" % (sd.name.replace(" ", "-"), app))
        if sd.mode == "apache" and not os.path.exists(self.module_path(sd)):
            raise RuntimeError("%s not found" % self.module_path(sd))
        if sd.impl == "ours" and not os.access(self.express_exe(sd), os.X_OK):
            raise RuntimeError("%s not found (build it: swift build -c release)"
                               % os.path.relpath(self.express_exe(sd), REPO))
        t0 = time.perf_counter()
        with open(log_path, "w") as logf:
            logf.write("$ %s\n" % " ".join(shlex.quote(c) for c in cmd))
            logf.flush()
            popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        running = Running(sd.name, popen, port, log_path, root, self.run_dir)
        try:
            wait_for_200(running, ready_path, timeout or self.args.start_timeout)
        except RuntimeError as e:
            tail = running.log_tail(2)
            running.stop()
            raise RuntimeError("%s%s" % (e, (": " + " | ".join(tail)[:400]) if tail else ""))
        return running, time.perf_counter() - t0

    # ------------------------------------------------------------------ wrk
