import CWSGICore

/// glibc's malloc arenas in the processes the module owns the settings of.
///
/// By default glibc gives a thread that finds the arenas busy an arena of its own, up to 8 per
/// core, and every arena keeps the free memory at its top (up to twice the largest block freed
/// since, once blocks above 128 KB were freed: the relay's 256 KB request-body blocks raise it to
/// 512 KB). An Apache child of daemon mode runs 80 relay threads; after a load of 1 MB POSTs each
/// of its 15 arenas held about 430 KB: 6.5 MB of the child's 10 MB PSS (smaps, 2 cores).
/// Arenas beyond the cores that can run at once only save waiting for a lock held by a thread
/// that was preempted; with one arena per core (at least 2) the same load left 1.3 MB.
package enum MallocArenas {
    /// Apache's children (child_init, before Apache starts their threads): one arena per core.
    package static func limitInApacheChild() {
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        _ = mallopt(M_ARENA_MAX, Int32(apacheChildArenas(cores: cores)))
    }

    /// Daemon processes: their worker threads run Python one at a time (the GIL), so an arena
    /// per thread only adds memory. Two: the I/O done without the GIL keeps one of its own.
    /// About 1 MB less per daemon process.
    static func limitInDaemon() {
        _ = mallopt(M_ARENA_MAX, 2)
    }

    static func apacheChildArenas(cores: Int) -> Int { max(2, cores) }
}
