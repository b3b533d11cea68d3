"""wrk runs, one measurement per server and workload, the rounds, setup-server and soak."""

import http.client
import json
import os
import shlex
import shutil
import statistics
import subprocess
import time

from .common import REPO, log
from .httpcheck import smoke_check
from .procs import free_port, tree_cpu_seconds, tree_memory
from .servers import SERVERS, SERVER_BY_NAME, ServerDef
from .workloads import WORKLOAD_BY_NAME, applies


class Measure:
    def wrk(self, port, wl, path, duration, conns=None):
        conns = conns or wl.conns
        url = "http://127.0.0.1:%d%s" % (port, path)
        cmd = ["wrk", "-t", str(min(2, conns)), "-c", str(conns), "-d", "%ds" % duration,
               "--timeout", "10s", "--latency", "-s", self.wrk_scripts[wl.name], url]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30)
        for line in p.stdout.splitlines():
            if line.startswith("BENCHJSON "):
                r = json.loads(line[len("BENCHJSON "):])
                secs = r["duration_us"] / 1e6
                errors = {k: int(r[k]) for k in ("connect", "read", "write", "timeout", "status")}
                return {
                    "requests": int(r["requests"]),
                    "rps": r["requests"] / secs if secs else 0.0,
                    "p50_ms": r["p50_us"] / 1000, "p90_ms": r["p90_us"] / 1000,
                    "p99_ms": r["p99_us"] / 1000, "max_ms": r["max_us"] / 1000,
                    "mb_per_s": r["bytes"] / secs / 1e6 if secs else 0.0,
                    "errors": sum(errors.values()), "error_detail": errors,
                    "connections": conns, "duration_s": secs,
                }
        raise RuntimeError("wrk gave no result: %s" % (p.stdout + p.stderr)[-300:])

    # ------------------------------------------------------------------ one measurement

    def warm_up(self, port, wl, path):
        """1 s wrk slices until two in a row agree within 10% (lazy imports in every worker,
        e.g. Django in 16 gunicorn sync workers, take seconds of CPU), at most --warmup s."""
        rates = []
        for _ in range(self.args.warmup):
            rates.append(self.wrk(port, wl, path, 1)["rps"])
            if len(rates) >= 2 and abs(rates[-1] - rates[-2]) <= 0.1 * max(rates[-1], rates[-2]):
                break
        return [round(r) for r in rates]

    def measure(self, sd, wl, rnd):
        key = (sd.name, wl.name)
        if sd.name in self.unavailable or key in self.failed:
            return
        app = "static" if sd.impl == "static" else wl.app
        path = wl.static_path if sd.impl == "static" else wl.path
        ready = path if wl.method == "GET" else ("/hello" if app == "generic" else "/")
        rec = {"round": rnd, "server": sd.name, "workload": wl.name, "ok": False}
        running = None
        try:
            try:
                running, startup = self.start(sd, app, ready)
                rec["startup_s"] = startup
                smoke_check(running.port, wl, path)
            except (RuntimeError, OSError, http.client.HTTPException) as e:
                reason = str(e) or type(e).__name__
                if sd.impl == "ours":
                    reason = "not available yet: " + reason
                    if wl.name == "hello" or app == "generic" and wl.name == "hello":
                        pass
                self.failed[key] = reason
                rec["error"] = reason
                log("  %-28s %-7s %s" % (sd.name, wl.name, reason[:160]))
                self.runs.append(rec)
                return
            rec["warmup"] = self.warm_up(running.port, wl, path)
            cpu0, daemon0 = tree_cpu_seconds(running.popen.pid)
            res = self.wrk(running.port, wl, path, self.args.duration)
            cpu1, daemon1 = tree_cpu_seconds(running.popen.pid)
            per_req = 1e6 / res["requests"] if res["requests"] else 0.0
            res["cpu_us_per_req"] = (cpu1 - cpu0) * per_req
            res["daemon_cpu_us_per_req"] = (daemon1 - daemon0) * per_req
            mem = tree_memory(running.popen.pid)
            rec.update(res)
            rec.update({"ok": True, "rss_kb": mem["rss_kb"], "pss_kb": mem["pss_kb"],
                        "one_rss_kb": mem["one_rss_kb"], "one_kind": mem["one_kind"],
                        "processes": mem["processes"]})
            log("  %-28s %-7s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  err %d  CPU %.0f us/req  RSS %.1f MB  PSS %.1f MB"
                % (sd.name, wl.name, res["rps"], res["p50_ms"], res["p99_ms"], res["errors"],
                   res["cpu_us_per_req"], mem["rss_kb"] / 1024, mem["pss_kb"] / 1024))
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            rec["error"] = str(e)
            log("  %-28s %-7s failed: %s" % (sd.name, wl.name, str(e)[:160]))
        finally:
            if running:
                running.stop()
        self.runs.append(rec)

    def probe_ours(self):
        """Try each of our modes once with a bounded timeout; remember what is missing."""
        if not os.access(self.ours, os.X_OK):
            reason = "not available yet: %s not built" % os.path.relpath(self.ours, REPO)
            if getattr(self, "build_error", None):
                reason += " (%s)" % self.build_error
            for sd in SERVERS:
                if sd.impl == "ours":
                    self.unavailable[sd.name] = reason
            return
        for sd in self.servers:
            if sd.impl != "ours":
                continue
            try:
                running, _ = self.start(sd, "generic", "/hello", timeout=self.args.probe_timeout)
                running.stop()
            except (RuntimeError, OSError) as e:
                self.unavailable[sd.name] = "not available yet: %s" % e
                log("  %-28s not available yet: %s" % (sd.name, str(e)[:200]))

    # ------------------------------------------------------------------ setup-server & start-up

    def time_setup_server(self, impl, rnd):
        sd = ServerDef(impl, impl, "daemon", "default")
        port = free_port()
        root = os.path.join(self.roots, "setup-server-%s" % impl)
        cmd = self.express_args(sd, "generic", port, root, subcommand="setup-server")
        env = dict(self.env)
        if impl == "ours":
            env["VIRTUAL_ENV"] = self.venv
            if not os.access(self.ours, os.X_OK):
                raise RuntimeError("%s not built" % os.path.relpath(self.ours, REPO))
        # One checked run first: it must succeed and produce an apachectl.
        shutil.rmtree(root, ignore_errors=True)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)
        if p.returncode != 0 or not os.path.exists(os.path.join(root, "apachectl")):
            raise RuntimeError("setup-server exit %d, apachectl %s: %s" % (
                p.returncode, "written" if os.path.exists(os.path.join(root, "apachectl")) else "missing",
                (p.stderr or p.stdout).strip()[-200:]))
        runs = self.args.setup_runs
        if shutil.which("hyperfine"):
            out = os.path.join(self.work, "hyperfine-%s.json" % impl)
            hf = ["hyperfine", "-N", "--style", "none", "--warmup", "2", "--runs", str(runs),
                  "--export-json", out, " ".join(shlex.quote(c) for c in cmd)]
            subprocess.run(hf, capture_output=True, text=True, timeout=120, env=env, check=True)
            with open(out) as f:
                r = json.load(f)["results"][0]
            return {"median_ms": r["median"] * 1000, "mean_ms": r["mean"] * 1000,
                    "min_ms": r["min"] * 1000, "runs": runs, "tool": "hyperfine -N"}
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, timeout=30, env=env, check=True)
            times.append(time.perf_counter() - t0)
        return {"median_ms": statistics.median(times) * 1000, "mean_ms": statistics.mean(times) * 1000,
                "min_ms": min(times) * 1000, "runs": runs, "tool": "subprocess loop"}

    # ------------------------------------------------------------------ soak

    def soak(self, sd):
        """RSS over >= 100 000 requests of hello world."""
        wl = WORKLOAD_BY_NAME["hello"]
        if sd.name in self.unavailable or (sd.name, "hello") in self.failed:
            return {"server": sd.name, "error": self.unavailable.get(sd.name) or self.failed[(sd.name, "hello")]}
        running = None
        try:
            running, _ = self.start(sd, "generic", "/hello")
            total, samples, t_end = 0, [], time.monotonic() + self.args.soak_max_seconds
            while total < self.args.soak_requests and time.monotonic() < t_end:
                r = self.wrk(running.port, wl, "/hello", self.args.soak_slice)
                total += r["requests"]
                samples.append({"requests": total, "rss_kb": tree_memory(running.popen.pid)["rss_kb"]})
            first, last = samples[0]["rss_kb"], samples[-1]["rss_kb"]
            res = {"server": sd.name, "requests": total, "samples": samples,
                   "rss_first_kb": first, "rss_last_kb": last,
                   "growth_pct": (last - first) * 100.0 / first if first else None}
            log("  soak %-28s %d requests, RSS %.1f -> %.1f MB (%+.1f%%)" % (
                sd.name, total, first / 1024, last / 1024, res["growth_pct"] or 0))
            return res
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            return {"server": sd.name, "error": str(e)}
        finally:
            if running:
                running.stop()

    # ------------------------------------------------------------------ main loop

    def run(self):
        a = self.args
        t_start = self.t_start = time.monotonic()
        self.other_work.start()

        log("probing our implementation (%s) ..." % os.path.relpath(self.ours, REPO))
        self.probe_ours()

        # setup-server wall time, A B A B
        log("setup-server wall time ...")
        for rnd in range(a.rounds):
            for impl in ("ours", "mod_wsgi"):
                if impl in self.setup_results["errors"]:
                    continue
                try:
                    self.setup_results[impl].append(self.time_setup_server(impl, rnd))
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    reason = str(e)
                    if impl == "ours":
                        reason = "not available yet: " + reason
                    self.setup_results["errors"][impl] = reason
                    log("  %-10s %s" % (impl, reason[:200]))

        # start-server -> first 200, A B A B, default (daemon) and embedded modes
        log("start-server -> first 200 ...")
        startup_defs = [SERVER_BY_NAME[n] for n in ("ours daemon default", "mod_wsgi daemon default",
                                                     "ours embedded default", "mod_wsgi embedded default")]
        for rnd in range(max(a.rounds, a.startup_runs)):
            for sd in startup_defs:
                res = self.startup_results.setdefault(sd.name, {"times_ms": [], "error": None})
                if res["error"]:
                    continue
                if sd.name in self.unavailable:
                    res["error"] = self.unavailable[sd.name]
                    continue
                try:
                    running, secs = self.start(sd, "generic", "/hello")
                    running.stop()
                    res["times_ms"].append(secs * 1000)
                except RuntimeError as e:
                    res["error"] = ("not available yet: " if sd.impl == "ours" else "") + str(e)

        # throughput, A B A B
        for rnd in range(a.rounds):
            log("round %d/%d ..." % (rnd + 1, a.rounds))
            for wl in self.workloads:
                for sd in self.servers:
                    if not applies(sd, wl):
                        continue
                    self.measure(sd, wl, rnd)

        if a.soak:
            log("RSS over %d requests ..." % a.soak_requests)
            for name in ("ours daemon 2x8", "mod_wsgi daemon 2x8", "ours embedded 2x8", "mod_wsgi embedded 2x8"):
                if any(s.name == name for s in self.servers):
                    self.soak_results.append(self.soak(SERVER_BY_NAME[name]))
        self.elapsed = time.monotonic() - t_start
        self.meta["loadavg_at_end"] = os.getloadavg()

    # ------------------------------------------------------------------ report
