#!/usr/bin/env python3
"""What one hop between two processes costs on this machine, in CPU time.

    python3 bench/wakeup_cost.py [--round-trips 20000]

Daemon mode adds a hop to every request that gunicorn does not make: the Apache child writes
the request to a UNIX socket and sleeps until the daemon's thread, woken, writes the response
back. This measures that pattern bare, with no server around it: two processes ping-pong a
1400-byte request and a 110-byte response over a UNIX socketpair, blocking reads on both sides,
and their user + system CPU time is read with getrusage. It is compared with

- the same two processes pinned to one CPU (the woken one runs where the waker was: no
  other CPU has to be woken from idle), and
- the same four system calls made by one process that never sleeps (the copies alone).

What is above the third line is the cost of the two sleeps and wake-ups. On a virtual machine
a CPU woken from idle is expensive (a halt and an interrupt between CPUs both exit to the
hypervisor) and part of that is counted to the processes involved.
"""

import argparse
import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsgibench.machine import cpu_seconds  # noqa: E402

REQUEST = b"q" * 1400
RESPONSE = b"r" * 110


def ping_pong(n, cpu=None):
    """(CPU µs, wall µs) per round trip of two processes over a socketpair."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    before_children = cpu_seconds(resource.RUSAGE_CHILDREN)
    pid = os.fork()
    if pid == 0:
        a.close()
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        fd = b.fileno()
        for _ in range(n):
            if not os.read(fd, 2048):
                break
            os.write(fd, RESPONSE)
        os._exit(0)
    b.close()
    old = os.sched_getaffinity(0)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    fd = a.fileno()
    start_cpu, start = cpu_seconds(resource.RUSAGE_SELF), time.monotonic()
    for _ in range(n):
        os.write(fd, REQUEST)
        os.read(fd, 2048)
    wall = time.monotonic() - start
    mine = cpu_seconds(resource.RUSAGE_SELF) - start_cpu
    a.close()
    os.waitpid(pid, 0)
    os.sched_setaffinity(0, old)
    child = cpu_seconds(resource.RUSAGE_CHILDREN) - before_children
    return (mine + child) / n * 1e6, wall / n * 1e6


def no_sleep(n):
    """CPU µs per round trip of the same four calls in one process, which never blocks."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fa, fb = a.fileno(), b.fileno()
    start = cpu_seconds(resource.RUSAGE_SELF)
    for _ in range(n):
        os.write(fa, REQUEST)
        os.read(fb, 2048)
        os.write(fb, RESPONSE)
        os.read(fa, 2048)
    spent = cpu_seconds(resource.RUSAGE_SELF) - start
    a.close()
    b.close()
    return spent / n * 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--round-trips", type=int, default=20000)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    n = a.round_trips
    print("%d round trips, best of %d; CPU µs per round trip (both processes), wall µs" % (n, a.repeat))
    free = [ping_pong(n) for _ in range(a.repeat)]
    pinned = [ping_pong(n, cpu=0) for _ in range(a.repeat)]
    alone = min(no_sleep(n) for _ in range(a.repeat))
    best_free, best_pinned = min(free), min(pinned)
    print("  two processes, CPUs as the scheduler places them  CPU %6.1f  wall %6.1f  (all: %s)" % (
        best_free[0], best_free[1], ", ".join("%.0f" % c for c, _ in free)))
    print("  two processes, both pinned to CPU 0               CPU %6.1f  wall %6.1f" % best_pinned)
    print("  one process, the same four calls, never sleeping  CPU %6.1f" % alone)
    print("  the two sleeps and wake-ups of one hop: %.1f µs (pinned: %.1f µs)" % (
        best_free[0] - alone, best_pinned[0] - alone))


if __name__ == "__main__":
    main()
