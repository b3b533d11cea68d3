"""How busy the machine was with work other than the benchmark's own, during a run.

The load average cannot say: at the end of a run it counts the benchmark's own last wrk runs.
What can: the CPU time the whole machine spent busy (/proc/stat) minus the CPU time of this
process and of every child it has waited for (the servers, with their children and daemon
processes, wrk, hyperfine, the tools it runs), taken once every server has been stopped.
"""

import os
import resource


def machine_busy_seconds():
    """CPU seconds all CPUs have spent busy since boot (user, nice, system, irq, softirq)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = (fields + [0] * 7)[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def own_seconds():
    """CPU seconds of this process and of the children it has waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


class OtherWork:
    """start() before the run; share() after every server is stopped: the fraction of the
    machine's CPU capacity used by other processes meanwhile."""

    def start(self):
        self.busy0, self.own0 = machine_busy_seconds(), own_seconds()
        self.t0 = os.times().elapsed

    def share(self):
        elapsed = os.times().elapsed - self.t0
        if elapsed <= 0:
            return None
        other = (machine_busy_seconds() - self.busy0) - (own_seconds() - self.own0)
        return max(0.0, other) / (elapsed * (os.cpu_count() or 1))
