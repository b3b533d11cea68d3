#!/usr/bin/env python3
"""What the PSS of a running server's process tree is made of, per process and per kind of
mapping (Linux, reads /proc; run as root to read the children of another user).

    python3 bench/pss_breakdown.py PID          # the Apache parent's pid (httpd.pid)
    python3 bench/pss_breakdown.py --json PID

Kinds: module (libmod_wsgi.so / mod_wsgi's .so), libpython, other files (libraries, .pyc),
heap ([heap], glibc's main arena), arenas (glibc's other malloc arenas: 64 MB-aligned heaps),
stacks (thread stacks: read-write mappings right above a guard page, and [stack]), anon (the
rest: Python's obmalloc arenas, mmap'd large blocks, APR's allocator nodes), shm (scoreboard).
PSS counts a page shared by n processes as 1/n in each.
"""
import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsgibench.procs import process_tree  # noqa: E402

HEAP_MAX = 64 << 20
KINDS = ("module", "libpython", "files", "heap", "arenas", "stacks", "anon", "shm")


def mappings(pid):
    maps, cur = [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
            if m:
                cur = {"start": int(m.group(1), 16), "end": int(m.group(2), 16),
                       "perm": m.group(3), "name": m.group(4).strip(), "pss": 0}
                maps.append(cur)
            elif line.startswith("Pss:"):
                cur["pss"] = int(line.split()[1])
    return maps


def kind(maps, i):
    m = maps[i]
    name = m["name"]
    if name == "[heap]":
        return "heap"
    if name.startswith("[stack"):
        return "stacks"
    if name.startswith("["):
        return "files"
    if "mod_wsgi" in name and ".so" in name:
        return "module"
    if "libpython" in name:
        return "libpython"
    if name.startswith("/dev/zero") or name.startswith("/SYSV") or name.startswith("/dev/shm"):
        return "shm"
    if name:
        return "files"
    prev = maps[i - 1] if i else None
    nxt = maps[i + 1] if i + 1 < len(maps) else None
    if m["start"] % HEAP_MAX == 0 and (
            m["end"] - m["start"] == HEAP_MAX
            or (nxt and nxt["start"] == m["end"] and nxt["perm"] == "---p" and not nxt["name"])):
        return "arenas"
    if (m["perm"] == "rw-p" and prev and prev["perm"] == "---p" and not prev["name"]
            and prev["end"] == m["start"] and prev["end"] - prev["start"] <= 64 << 10):
        return "stacks"
    return "anon"


def process(pid):
    with open("/proc/%d/status" % pid) as f:
        status = f.read()
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        cmd = f.read().split(b"\0")[0].decode(errors="replace")
    maps = mappings(pid)
    by_kind = dict.fromkeys(KINDS, 0)
    for i, m in enumerate(maps):
        by_kind[kind(maps, i)] += m["pss"]
    return {
        "pid": pid, "cmd": cmd,
        "threads": int(re.search(r"Threads:\s+(\d+)", status).group(1)),
        "rss_kb": int(re.search(r"VmRSS:\s+(\d+)", status).group(1)),
        "pss_kb": sum(m["pss"] for m in maps),
        "pss_by_kind_kb": by_kind,
    }


def role(p, root):
    if p["pid"] == root:
        return "parent"
    if "wsgi:" in p["cmd"] or "(wsgi" in p["cmd"]:
        return "daemon"
    return "child"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pid", type=int, help="the Apache parent's pid")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    procs = []
    for pid in process_tree(a.pid):
        try:
            p = process(pid)
        except (OSError, AttributeError):
            continue
        p["role"] = role(p, a.pid)
        procs.append(p)
    if a.json:
        print(json.dumps(procs, indent=1))
        return
    total = sum(p["pss_kb"] for p in procs)
    print("tree PSS %.1f MB, %d processes" % (total / 1024, len(procs)))
    print("%-7s %7s %4s %7s %7s  " % ("role", "pid", "thr", "RSS MB", "PSS MB")
          + " ".join("%9s" % k for k in KINDS))
    sums = dict.fromkeys(KINDS, 0)
    for p in procs:
        print("%-7s %7d %4d %7.1f %7.1f  " % (p["role"], p["pid"], p["threads"],
                                              p["rss_kb"] / 1024, p["pss_kb"] / 1024)
              + " ".join("%9.2f" % (p["pss_by_kind_kb"][k] / 1024) for k in KINDS))
        for k in KINDS:
            sums[k] += p["pss_by_kind_kb"][k]
    print("%-7s %7s %4s %7s %7.1f  " % ("all", "", "", "", total / 1024)
          + " ".join("%9.2f" % (sums[k] / 1024) for k in KINDS))


if __name__ == "__main__":
    main()
