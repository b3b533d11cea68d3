import CWSGICore

/// What the `mod_wsgi` and `apache` modules say about the Apache server, which only the Apache
/// module can ask httpd: its version and build, the MPM's limits, Apache's Timeout. In Apache's
/// processes (and a daemon forked from its parent) the Apache module answers them live; a
/// daemon process that runs the application's Python executable gets the answers the parent
/// had when it started the process, which are the ones a forked daemon sees too.
package struct HostFacts: Codable {
    package var apacheVersion = [2, 4, 0]
    package var serverDescription = "Apache"
    package var serverBuilt = ""
    package var mpmName = ""
    package var threaded = true
    /// AP_MPMQ_MAX_DAEMON_USED (-1: unknown), AP_MPMQ_MAX_DAEMONS, AP_MPMQ_MAX_THREADS.
    package var maxDaemonsUsed = -1
    package var maxDaemons = 1
    package var maxThreads = 1
    /// Apache's Timeout, in microseconds: a daemon's socket-timeout when it has none.
    package var timeoutMicros: Int64 = 60_000_000

    package init() {}

    /// The Apache module installs a live answer; the daemon runtime a fixed one.
    nonisolated(unsafe) package static var provider: () -> HostFacts = { HostFacts() }
    package static var current: HostFacts { provider() }
}

/// Apache's scoreboard, for mod_wsgi.server_metrics(): its global record, one record per child
/// process (ServerLimit) and one per worker thread of each (ThreadLimit). In Apache's
/// processes it is the scoreboard httpd maps; in a daemon process running the application's
/// Python, the same shared memory mapped again from a descriptor the parent's fork handed over
/// (laid out as ap_init_scoreboard lays it out).
package struct ScoreboardView {
    package let global: UnsafeMutablePointer<global_score>
    package let processes: UnsafeMutablePointer<process_score>
    package let workers: [UnsafeMutablePointer<worker_score>]

    package init(
        global: UnsafeMutablePointer<global_score>, processes: UnsafeMutablePointer<process_score>,
        workers: [UnsafeMutablePointer<worker_score>]
    ) {
        self.global = global
        self.processes = processes
        self.workers = workers
    }

    /// The scoreboard laid out from `base` as ap_init_scoreboard lays out the shared segment:
    /// the global record, ServerLimit process records, then ThreadLimit worker records each.
    package init(base: UnsafeMutableRawPointer) {
        global = base.assumingMemoryBound(to: global_score.self)
        let servers = Int(global.pointee.server_limit)
        let threads = Int(global.pointee.thread_limit)
        let p = base + MemoryLayout<global_score>.stride
        processes = p.assumingMemoryBound(to: process_score.self)
        var w = p + MemoryLayout<process_score>.stride * servers
        var rows: [UnsafeMutablePointer<worker_score>] = []
        for _ in 0..<servers {
            rows.append(w.assumingMemoryBound(to: worker_score.self))
            w += MemoryLayout<worker_score>.stride * threads
        }
        workers = rows
    }

    /// The bytes from `global` to the end of the last worker record.
    package static func size(serverLimit: Int, threadLimit: Int) -> Int {
        MemoryLayout<global_score>.stride + MemoryLayout<process_score>.stride * serverLimit
            + MemoryLayout<worker_score>.stride * serverLimit * threadLimit
    }

    /// nil where there is none (not set up yet, or not available in this process).
    nonisolated(unsafe) package static var provider: () -> ScoreboardView? = { nil }
}
