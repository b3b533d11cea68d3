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
        user, nice, system, _idle, _iowait, irq, softirq = [int(x) for x in f.readline().split()[1:8]]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(who):
    """User + system CPU seconds of resource.RUSAGE_SELF or RUSAGE_CHILDREN (those waited for)."""
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def own_seconds():
    """CPU seconds of this process and of the children it has waited for."""
    return cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN)


class OtherWork:
    """start() before the run; share() after every server is stopped: the fraction of the
    machine's CPU capacity used by other processes meanwhile (None if the run never started)."""

    t0 = None

    def start(self):
        self.busy0, self.own0 = machine_busy_seconds(), own_seconds()
        self.t0 = os.times().elapsed

    def share(self):
        if self.t0 is None:
            return None
        elapsed = os.times().elapsed - self.t0
        if elapsed <= 0:
            return None
        other = (machine_busy_seconds() - self.busy0) - (own_seconds() - self.own0)
        return max(0.0, other) / (elapsed * (os.cpu_count() or 1))
