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

Last, where the waiting side sleeps: a process asleep in read()/recv() on a UNIX socket is
also woken when the other side reads what it wrote (the kernel's write-space wake-up reaches
every sleeper on the socket): once more per round trip when the other side reads the request
after a wait of its own, as a daemon thread woken by epoll that then waits for the GIL. Asleep
in poll() for input it is woken only by the response. Both are counted in voluntary context
switches of the waiting process per round trip.
"""

import argparse
import os
import resource
import select
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


def waiter_switches(n, wait_in_poll):
    """Voluntary context switches per round trip of the side that sends a request and waits,
    when the other side waits in poll() and sleeps 100 µs more before it reads the request."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        a.close()
        fd = b.fileno()
        p = select.poll()
        p.register(fd, select.POLLIN)
        for _ in range(n):
            p.poll()
            # Not running when the request could be read at once: a daemon thread woken by
            # epoll that then waits (for the GIL, a lock, a CPU) lets the sender's CPU run
            # the sender again in between.
            time.sleep(0.0001)
            if not os.read(fd, 2048):
                break
            os.write(fd, RESPONSE)
        os._exit(0)
    b.close()
    fd = a.fileno()
    p = select.poll()
    p.register(fd, select.POLLIN)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    for _ in range(n):
        os.write(fd, REQUEST)
        if wait_in_poll:
            p.poll()
        os.read(fd, 2048)
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - before
    a.close()
    os.waitpid(pid, 0)
    return switches / n


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
    m = min(n, 5000)
    print("  the waiting side, voluntary context switches per round trip: asleep in read() %.2f, "
          "in poll() then read() %.2f" % (waiter_switches(m, False), waiter_switches(m, True)))


if __name__ == "__main__":
    main()
