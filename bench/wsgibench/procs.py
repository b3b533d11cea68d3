"""Servers as process groups: free ports, process trees, memory, stopping."""

import os
import re
import signal
import socket
import subprocess
import time

from .common import log

RUNNING = {}        # pgid -> Running
_cleanup_done = False


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_proc_table():
    """pid -> (ppid, pgrp, comm)"""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                data = f.read()
        except OSError:
            continue
        rpar = data.rfind(")")
        comm = data[data.find("(") + 1:rpar]
        fields = data[rpar + 2:].split()
        table[int(entry)] = (int(fields[1]), int(fields[2]), comm)
    return table


def process_tree(root):
    table = read_proc_table()
    if root not in table:
        return []
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def group_members(pgid):
    return [pid for pid, (_, pgrp, _) in read_proc_table().items() if pgrp == pgid]


def proc_memory(pid):
    rss = pss = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    except OSError:
        return None
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = ""
    return {"pid": pid, "rss_kb": rss or 0, "pss_kb": pss or 0, "cmd": cmd[:120]}


def tree_cpu_seconds(root):
    """CPU time (user + system, every thread) the server's process tree has used so far, and
    the part of it used by daemon processes ("(wsgi:..." in ps): the rest is the front end
    (Apache's parent and children). Per request it is the figure least disturbed by other
    work on the machine: that changes how fast the requests come, much less what each one
    costs."""
    tick = os.sysconf("SC_CLK_TCK")
    total = daemons = 0
    for pid in process_tree(root):
        try:
            with open("/proc/%d/stat" % pid) as f:
                data = f.read()
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                daemon = f.read(6) == b"(wsgi:"
        except OSError:
            continue
        fields = data[data.rfind(")") + 2:].split()
        used = int(fields[11]) + int(fields[12])        # utime, stime
        total += used
        daemons += used if daemon else 0
    return total / tick, daemons / tick


def tree_memory(root):
    """Memory of a server's whole process tree.  PSS (from smaps_rollup) shares each page
    among the processes mapping it, so the tree's sum counts shared libraries and
    copy-on-write pages from the fork once: the figure to compare servers by.  RSS counts
    them in every process.  `one_rss_kb` is the RSS of one serving process (the largest
    daemon process if there are any, "(wsgi:..." in ps; else the largest process without
    children: an Apache child or a gunicorn worker)."""
    table = read_proc_table()
    pids = process_tree(root)
    procs = [m for m in (proc_memory(p) for p in pids) if m]
    parents = {table[p][0] for p in pids if p in table}
    daemons = [p for p in procs if p["cmd"].startswith("(wsgi:")]
    leaves = [p for p in procs if p["pid"] not in parents and p["pid"] != root]
    serving = daemons or leaves
    return {
        "rss_kb": sum(p["rss_kb"] for p in procs),
        "pss_kb": sum(p["pss_kb"] for p in procs),
        "one_rss_kb": max((p["rss_kb"] for p in serving), default=0),
        "one_kind": "daemon process" if daemons else "worker process",
        "processes": procs,
    }


class Running:
    def __init__(self, name, popen, port, log_path, server_root, run_dir):
        self.name, self.popen, self.port = name, popen, port
        self.log_path, self.server_root, self.run_dir = log_path, server_root, run_dir
        self.pgid = popen.pid
        self.marker = os.path.join(run_dir, "%d.pgid" % self.pgid)
        with open(self.marker, "w") as f:
            f.write(name)
        RUNNING[self.pgid] = self

    def alive(self):
        return self.popen.poll() is None

    def stop(self):
        pids = set(process_tree(self.popen.pid)) | set(group_members(self.pgid))
        try:
            os.killpg(self.pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            left = [p for p in pids if os.path.exists("/proc/%d" % p) and not _is_zombie(p)]
            left += group_members(self.pgid)
            if not left:
                break
            time.sleep(0.05)
        else:
            for p in set(left):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        RUNNING.pop(self.pgid, None)
        try:
            os.unlink(self.marker)
        except OSError:
            pass

    def log_tail(self, n=3):
        """The most telling lines of the launcher's output and Apache's error_log."""
        lines = []
        for path in (self.log_path, os.path.join(self.server_root or "", "error_log")):
            try:
                with open(path, errors="replace") as f:
                    lines += [l.strip() for l in f.readlines()[-50:]
                              if l.strip() and not l.startswith("$ ")]
            except OSError:
                pass
        # "[date] [module:level] [pid n:tid n] [client ...] message" -> "message"
        lines = [re.sub(r"^(\[[^\]]*\] )+", "", l) for l in lines
                 if not re.match(r"^[A-Z][\w ./-]*?\s+: ", l)]      # not the start-up banner
        bad = [l for l in lines if re.search(r"error|fail|exit signal|not |cannot|unable", l, re.I)]
        out, seen = [], set()
        for l in (bad or lines)[::-1]:
            key = re.sub(r"\d+", "N", l)            # the same message from another pid
            if key not in seen:
                seen.add(key)
                out.append(l)
            if len(out) == n:
                break
        return out[::-1]


def _is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        return data[data.rfind(")") + 2] == "Z"
    except OSError:
        return False


def stop_all():
    global _cleanup_done
    for r in list(RUNNING.values()):
        try:
            r.stop()
        except Exception as e:     # never leave the others running
            log("warning: stopping %s: %s" % (r.name, e))
    _cleanup_done = True


def kill_stale(run_dir, work):
    """Stop servers a previous, interrupted run of this harness left behind."""
    if not os.path.isdir(run_dir):
        return
    for entry in os.listdir(run_dir):
        if not entry.endswith(".pgid"):
            continue
        pgid = int(entry.split(".")[0])
        for pid in group_members(pgid):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmd = f.read().decode(errors="replace")
            except OSError:
                continue
            if work in cmd:
                log("stopping a server left over from an earlier run (process group %d)" % pgid)
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:
                    pass
                break
        os.unlink(os.path.join(run_dir, entry))


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)
