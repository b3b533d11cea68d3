"""Medians, A/B ratios, the Markdown report and the JSON file."""

import datetime
import json
import os
import statistics

from .common import HERE, REPO, SOAK_FLAT_PCT
from .servers import p99_target, pair_target
from .workloads import WORKLOAD_BY_NAME, applies


class Report:
    def summarize(self):
        summary = {}
        for wl in self.workloads:
            for sd in self.servers:
                if not applies(sd, wl):
                    continue
                rs = [r for r in self.runs if r["server"] == sd.name and r["workload"] == wl.name and r["ok"]]
                entry = {"rounds": len(rs)}
                if rs:
                    for k in ("rps", "p50_ms", "p99_ms", "rss_kb", "pss_kb", "one_rss_kb", "mb_per_s",
                              "cpu_us_per_req", "daemon_cpu_us_per_req"):
                        entry[k] = statistics.median(r.get(k, 0.0) for r in rs)
                    entry["errors"] = sum(r["errors"] for r in rs)
                    entry["requests"] = sum(r["requests"] for r in rs)
                else:
                    entry["error"] = self.unavailable.get(sd.name) or self.failed.get((sd.name, wl.name)) or next(
                        (r.get("error") for r in self.runs if r["server"] == sd.name and r["workload"] == wl.name
                         and r.get("error")), "not run")
                fw = sd.front_workers()
                if fw is not None and fw <= wl.conns:
                    entry["note"] = "workers %d <= %d connections" % (fw, wl.conns)
                summary["%s|%s" % (wl.name, sd.name)] = entry
        self.summary = summary

        ratios = []
        for wl in self.workloads:
            for a_name, b_name, target in self.pairs:
                if a_name not in self.server_by_name or b_name not in self.server_by_name:
                    continue
                b_def = self.server_by_name[b_name]
                if not applies(b_def, wl) or not applies(self.server_by_name[a_name], wl):
                    continue
                tgt = pair_target(a_name, b_name, target, wl.name)
                p99_tgt = p99_target(a_name, b_name, wl.name)
                per_round = []
                for rnd in range(self.args.rounds):
                    ra = next((r for r in self.runs if r["round"] == rnd and r["server"] == a_name
                               and r["workload"] == wl.name and r["ok"]), None)
                    rb = next((r for r in self.runs if r["round"] == rnd and r["server"] == b_name
                               and r["workload"] == wl.name and r["ok"]), None)
                    if ra and rb and rb["rps"]:
                        per_round.append({"rps": ra["rps"] / rb["rps"],
                                          "rss": ra["rss_kb"] / rb["rss_kb"] if rb["rss_kb"] else None,
                                          "pss": ra["pss_kb"] / rb["pss_kb"] if rb["pss_kb"] else None,
                                          "one": (ra["one_rss_kb"] / rb["one_rss_kb"]
                                                  if rb.get("one_rss_kb") else None),
                                          "p99": ra["p99_ms"] / rb["p99_ms"] if rb["p99_ms"] else None,
                                          "cpu": (rb["cpu_us_per_req"] / ra["cpu_us_per_req"]
                                                  if ra.get("cpu_us_per_req") else None)})
                sa = summary.get("%s|%s" % (wl.name, a_name), {})
                sb = summary.get("%s|%s" % (wl.name, b_name), {})
                entry = {"workload": wl.name, "a": a_name, "b": b_name, "target": tgt, "p99_target": p99_tgt,
                         "a_rps": sa.get("rps"), "b_rps": sb.get("rps"),
                         "per_round": [p["rps"] for p in per_round]}
                if per_round:
                    entry["ratio"] = statistics.median(p["rps"] for p in per_round)
                    for k in ("rss", "pss", "one", "p99", "cpu"):
                        v = [p[k] for p in per_round if p[k]]
                        entry[k + "_ratio"] = statistics.median(v) if v else None
                else:
                    entry["missing"] = sa.get("error") or sb.get("error") or "no successful rounds"
                ratios.append(entry)
        self.ratios = ratios

    def report(self):
        m = self.meta
        a = self.args
        L = []
        L.append("# mod_wsgi-express benchmarks, %s" % m["date"])
        L.append("")
        L.append("- machine: %s, %s cores (%s usable), %s RAM, %s, kernel %s" % (
            m["cpu"], m["cores"], m["cores_usable"], m["memory"], m["os"], m["kernel"]))
        L.append("- %s; Python %s" % (m["apache"], m["python"]))
        L.append("- mod_wsgi %s, gunicorn %s, uWSGI %s, granian %s, Django %s; %s; hyperfine %s; Debian's mod_wsgi %s" % (
            m["mod_wsgi"], m["gunicorn"], m.get("uwsgi"), m.get("granian"), m["django"], m["wrk"], m["hyperfine"],
            m.get("debian_mod_wsgi", "–")))
        o = m["ours"]
        L.append("- ours: %s (git %s%s)" % (os.path.relpath(o["path"], REPO), o["git_describe"],
                                          ", %s" % o["version"] if o["version"] and o["version"] != "not built" else ""))
        if o.get("build_error"):
            L.append("- **warning: %s**; %s" % (o["build_error"], "measured the binary already there (it may be stale)"
                                               if os.access(o["path"], os.X_OK) else "ours not measured"))
        L.append("- method: %d round(s), servers alternated A B A B within each round; one fresh "
                 "server per run, warmed up with 1 s wrk slices until two agree within 10%% (at most "
                 "%d), then wrk -t2 for %d s; medians; ratios are the median of per-round A/B ratios. "
                 "wrk shares the %s cores with the server." % (a.rounds, a.warmup, a.duration, m["cores"]))
        other = m.get("other_cpu_share")
        if other is not None:
            # CPU time of processes the benchmark did not start (machine.py); the load
            # average at the end would count the benchmark's own last wrk runs.
            what = ("processes outside the benchmark used %.1f%% of the machine's CPU during the run "
                    "(load average %.1f at start)" % (100 * other, m["loadavg_at_start"][0]))
            if other > 0.05:
                L.append("- **warning: other work was running**: %s: absolute figures are noisy; the "
                         "alternated ratios less so." % what)
            else:
                L.append("- other work: %s." % what)
        L.append("- RSS / PSS: sums over the server's whole process tree (Apache parent, workers, daemon "
                 "processes / gunicorn master and workers) from /proc/PID/status and "
                 "/proc/PID/smaps_rollup, right after the run; PSS counts a page shared by n "
                 "processes as 1/n in each, so shared libraries count once. One process RSS: the "
                 "largest daemon process, else the largest Apache child / gunicorn worker.")
        L.append("- CPU µs/req: user + system CPU time of the server's process tree during the measured "
                 "run (/proc/PID/stat), divided by the requests served: the figure other work on the "
                 "machine disturbs least (it changes how fast requests come, much less what each costs). "
                 "Its ratio is B/A, so above 1 means A spends less CPU per request. \"of which daemons\": "
                 "the part used by the daemon processes; the rest is Apache's parent and children.")
        L.append("")

        # Every server side by side (issue 29): rows the workloads, a column per server.
        shown = [sd for sd in self.servers if sd.mode != "apache"]
        L.append("## Side by side: req/s (CPU µs per request)")
        L.append("")
        L.append("| workload | " + " | ".join(sd.name for sd in shown) + " |")
        L.append("|---|" + "---:|" * len(shown))
        for wl in self.workloads:
            cells = []
            for sd in shown:
                e = self.summary.get("%s|%s" % (wl.name, sd.name))
                if e is None:
                    cells.append("")
                elif "rps" in e:
                    cells.append("%.0f (%.0f)" % (e["rps"], e["cpu_us_per_req"]))
                else:
                    cells.append("–")
            L.append("| %s (%d conn.) | %s |" % (wl.name, wl.conns, " | ".join(cells)))
        L.append("")

        for wl in self.workloads:
            L.append("## %s: %s (%d connections)" % (wl.name, wl.desc, wl.conns))
            L.append("")
            L.append("| server | req/s | p50 ms | p99 ms | errors | CPU µs/req | of which daemons | RSS MB | PSS MB"
                     " | one process RSS MB | note |")
            L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
            for sd in self.servers:
                e = self.summary.get("%s|%s" % (wl.name, sd.name))
                if e is None:
                    continue
                note = "; ".join(x for x in (e.get("note"), sd.note) if x)
                if "rps" in e:
                    daemons = "%.0f" % e["daemon_cpu_us_per_req"] if e.get("daemon_cpu_us_per_req") else "–"
                    L.append("| %s | %.0f | %.2f | %.2f | %d | %.0f | %s | %.1f | %.1f | %.1f | %s |" % (
                        sd.name, e["rps"], e["p50_ms"], e["p99_ms"], e["errors"], e["cpu_us_per_req"], daemons,
                        e["rss_kb"] / 1024,
                        e["pss_kb"] / 1024, e["one_rss_kb"] / 1024, note))
                else:
                    L.append("| %s | – | – | – | – | – | – | – | – | – | %s |" % (sd.name, _cell(e["error"])))
            L.append("")

        L.append("## Ratios (A/B: requests/s; B/A: CPU per request; A/B: p99 latency, PSS of the tree, RSS of one process)")
        L.append("")
        L.append("| workload | A | B | A req/s | B req/s | A/B | target | CPU/req B/A | p99 A/B | PSS A/B | one-process RSS A/B |")
        L.append("|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|")
        r2 = lambda v: "%.2f" % v if v else "–"
        for r in self.ratios:
            tgt = "≥ %.1f× %s" % (r["target"], _verdict(r.get("ratio"), r["target"])) if r["target"] else "(reference)"
            p99 = r2(r.get("p99_ratio"))
            if r.get("p99_target") and r.get("p99_ratio"):
                p99 += " (met)" if r["p99_ratio"] <= r["p99_target"] else " (missed)"
            if "ratio" in r:
                L.append("| %s | %s | %s | %.0f | %.0f | %.2f | %s | %s | %s | %s | %s |" % (
                    r["workload"], r["a"], r["b"], r["a_rps"], r["b_rps"], r["ratio"], tgt, r2(r.get("cpu_ratio")), p99,
                    r2(r.get("pss_ratio")), r2(r.get("one_ratio"))))
            else:
                L.append("| %s | %s | %s | %s | %s | – | %s | – | – | – | – |" % (
                    r["workload"], r["a"], r["b"], _fmt(r["a_rps"]), _fmt(r["b_rps"]),
                    tgt.split(" (")[0] + " — " + _cell(r["missing"])))
        L.append("")
        L.append("Memory targets: PSS of the whole server tree ≤ mod_wsgi's (PSS A/B ≤ 1.00); RSS of one "
                 "daemon process ≤ 1.1× mod_wsgi's (one-process RSS A/B ≤ 1.10 on the daemon rows). "
                 "p99 target on the -c64 workloads: ours ≤ the peer's (p99 A/B ≤ 1.00).")
        L.append("")

        L.append("## setup-server and start-up")
        L.append("")
        L.append("| measurement | ours | mod_wsgi | ours/mod_wsgi | target for ours |")
        L.append("|---|---:|---:|---:|---|")
        s = self.setup_results
        so = [x["median_ms"] for x in s["ours"]]
        sm = [x["median_ms"] for x in s["mod_wsgi"]]
        mo = statistics.median(so) if so else None
        mm = statistics.median(sm) if sm else None
        L.append("| setup-server wall time, ms (median of %d runs × %d rounds) | %s | %s | %s | ≤ 15 ms %s |" % (
            a.setup_runs, a.rounds, _fmt(mo, "%.1f", _cell(s["errors"].get("ours"))),
            _fmt(mm, "%.1f", s["errors"].get("mod_wsgi")),
            "%.2f" % (mo / mm) if mo and mm else "–", _verdict_abs(mo, 15)))
        for mode in ("daemon", "embedded"):
            ro = self.startup_results.get("ours %s default" % mode, {})
            rm = self.startup_results.get("mod_wsgi %s default" % mode, {})
            vo = statistics.median(ro["times_ms"]) if ro.get("times_ms") else None
            vm = statistics.median(rm["times_ms"]) if rm.get("times_ms") else None
            L.append("| start-server → first 200, %s mode, ms (median of %d) | %s | %s | %s | ≤ 120 ms %s |" % (
                mode, len(rm.get("times_ms", [])), _fmt(vo, "%.0f", _cell(ro.get("error"))), _fmt(vm, "%.0f", rm.get("error")),
                "%.2f" % (vo / vm) if vo and vm else "–", _verdict_abs(vo, 120)))
        L.append("")

        if self.soak_results:
            L.append("## RSS over %d requests (hello world, %d connections)" % (a.soak_requests, WORKLOAD_BY_NAME["hello"].conns))
            L.append("")
            L.append("First sample after the first %d s slice; target for ours: flat (growth ≤ %d%%)."
                     % (a.soak_slice, SOAK_FLAT_PCT))
            L.append("")
            L.append("| server | requests | RSS first MB | RSS last MB | growth |")
            L.append("|---|---:|---:|---:|---:|")
            for r in self.soak_results:
                if "error" in r:
                    L.append("| %s | – | – | – | %s |" % (r["server"], _short(r["error"])))
                else:
                    verdict = ""
                    if r["server"].startswith("ours"):
                        verdict = " (met)" if r["growth_pct"] <= SOAK_FLAT_PCT else " (missed)"
                    L.append("| %s | %d | %.1f | %.1f | %+.1f%%%s |" % (
                        r["server"], r["requests"], r["rss_first_kb"] / 1024, r["rss_last_kb"] / 1024,
                        r["growth_pct"], verdict))
            L.append("")

        notes = []
        by_reason = {}
        for sd in self.servers:
            if sd.name in self.unavailable:
                by_reason.setdefault(self.unavailable[sd.name], []).append(sd.name)
        for reason, names in by_reason.items():
            notes.append("- %s: %s" % (", ".join(names), reason))
        for (sname, wname), v in sorted(self.failed.items()):
            if sname not in self.unavailable and v.startswith("not available"):
                notes.append("- %s, %s: %s" % (sname, wname, v))
        if "ours" in self.setup_results["errors"] and not self.setup_results["errors"]["ours"].endswith(" not built"):
            notes.append("- setup-server: %s" % self.setup_results["errors"]["ours"])
        for name, res in sorted(self.startup_results.items()):
            if name.startswith("ours") and res.get("error") and name not in self.unavailable:
                notes.append("- start-server → first 200, %s: %s" % (name, res["error"]))
        if notes:
            L.append("## Not measured for ours")
            L.append("")
            L.extend(notes)
            L.append("")
        peer_fail = [(k, v) for k, v in self.failed.items() if not v.startswith("not available")]
        if peer_fail:
            L.append("## Failures")
            L.append("")
            for (sname, wname), v in sorted(peer_fail):
                L.append("- %s, %s: %s" % (sname, wname, v))
            L.append("")
        L.append("Wall time of this run: %.0f s%s." % (self.elapsed, " (interrupted)" if self.interrupted else ""))
        return "\n".join(L)

    def write_json(self, report_md):
        path = self.args.json
        if not path:
            d = os.path.join(HERE, "results")
            os.makedirs(d, exist_ok=True)
            path = os.path.join(d, datetime.datetime.now().strftime("%Y-%m-%d_%H%M%S") + ".json")
        data = {
            "meta": self.meta,
            "config": {k: v for k, v in vars(self.args).items()},
            "workloads": {w.name: {"desc": w.desc, "connections": w.conns} for w in self.workloads},
            "servers": {s.name: {"impl": s.impl, "mode": s.mode, "shape": s.shape,
                                 "front_workers": s.front_workers(), "note": s.note} for s in self.servers},
            "unavailable": self.unavailable,
            "failed": {"%s|%s" % k: v for k, v in self.failed.items()},
            "summary": self.summary,
            "ratios": self.ratios,
            "setup_server": self.setup_results,
            "startup": self.startup_results,
            "soak": self.soak_results,
            "runs": self.runs,
            "elapsed_s": self.elapsed,
            "report_markdown": report_md,
        }
        with open(path, "w") as f:
            json.dump(data, f, indent=1)
        return path


def _fmt(v, fmt="%.0f", err=None):
    if v is None:
        return _short(err) if err else "–"
    return fmt % v


def _short(s, n=90):
    s = (s or "").replace("|", "/").replace("\n", " ")
    return s if len(s) <= n else s[:n - 1] + "…"


def _cell(err):
    """A table cell for something that did not run; the full reason is listed below the tables."""
    if err and err.startswith("not available yet"):
        return "not available yet (see below)"
    return _short(err)


def _verdict(ratio, target):
    if ratio is None or target is None:
        return ""
    return "(met)" if ratio >= target else "(missed)"


def _verdict_abs(v, limit):
    if v is None:
        return ""
    return "(met)" if v <= limit else "(missed)"
