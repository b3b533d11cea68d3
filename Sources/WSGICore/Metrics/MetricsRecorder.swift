import CWSGICore

/// What each process adds to the metrics board, called from the request paths (what only
/// Apache's child does is in ModWSGI, Metrics/MetricsChild.swift). Without a
/// board (no WSGIMetricsURL) every call is one test of a global; with one, a request costs a
/// few relaxed atomic adds to this process's own slot.
package enum MetricsRecorder {
    /// This process's counter slot: Apache's child, by its scoreboard number (found at its
    /// first request), or the daemon process's group and instance. Kept in an atomic word:
    /// the first requests of a child's threads set it at once while others read it (a data
    /// race as a plain variable: ThreadSanitizer, make sanitize); a relaxed load costs what
    /// a plain one does.
    package static var slot: UnsafeMutablePointer<Int64>? {
        get { UnsafeMutablePointer(bitPattern: Int(truncatingIfNeeded: wsgi_atomic_load(slotBits))) }
        set { wsgi_atomic_store(slotBits, Int64(Int(bitPattern: newValue))) }
    }
    private static let slotBits: UnsafeMutablePointer<Int64> = {
        let p = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()
    nonisolated(unsafe) package static var isDaemon = false
    nonisolated(unsafe) package static var entry: Int?
    nonisolated(unsafe) private static var stopCounted = false

    // MARK: process life

    /// A daemon process after its fork: its group's slot, and its process entry.
    package static func daemonStarted(group: String, instance: Int) {
        guard let board = MetricsBoard.current else { return }
        isDaemon = true
        slot = board.daemonSlotIndex(group: group, instance: instance).map { board.daemonSlot($0) }
        entry = board.register(kind: .daemon, group: group, instance: instance)
    }

    package static func processExiting() {
        guard let board = MetricsBoard.current, let e = entry else { return }
        board.unregister(e)
        entry = nil
    }

    // MARK: the process running the application (Apache's child or a daemon process)

    @inline(__always)
    package static func applicationStarted() {
        guard isDaemon, let s = slot else { return }
        wsgi_atomic_add(s + MetricsBoard.Field.active, 1)
    }

    /// `queueMicros` < 0: not known (embedded mode).
    package static func applicationFinished(status: Int, appMicros: Int64, queueMicros: Int64) {
        guard let s = slot else { return }
        observe(s + MetricsBoard.Field.application, micros: appMicros)
        guard isDaemon else { return }
        wsgi_atomic_add(s + MetricsBoard.Field.active, -1)
        wsgi_atomic_add(s + MetricsBoard.Field.requests + statusClass(status), 1)
        if queueMicros >= 0 { observe(s + MetricsBoard.Field.queue, micros: queueMicros) }
    }

    // MARK: daemon restarts

    /// The daemon's supervisor decided to stop (once per process): the reason, from the
    /// supervisor's words (`why`) or the process_stopping reason already noted.
    package static func daemonStopping(_ why: String) {
        guard isDaemon, let s = slot, !stopCounted else { return }
        stopCounted = true
        wsgi_atomic_add(s + MetricsBoard.Field.restarts + restartReason(why), 1)
    }

    /// The parent saw a daemon process die by a signal or with a failure status (it
    /// could not say why itself).
    package static func daemonCrashed(group: String, instance: Int) {
        guard let board = MetricsBoard.current,
            let i = board.daemonSlotIndex(group: group, instance: instance)
        else { return }
        let crashed = MetricsBoard.restartReasons.firstIndex(of: "crashed")!
        wsgi_atomic_add(board.daemonSlot(i) + MetricsBoard.Field.restarts + crashed, 1)
    }

    package static func restartReason(_ why: String) -> Int {
        let reasons = MetricsBoard.restartReasons
        let words: [(String, String)] = [
            ("maximum-requests", "maximum_requests"), ("restart-interval", "restart_interval"),
            ("inactivity-timeout", "inactivity_timeout"), ("startup-timeout", "startup_timeout"),
            ("memory-limit", "memory_limit"), ("CPU time limit", "cpu_time_limit"),
            ("graceful restart signal", "graceful_signal"), ("eviction", "eviction"),
            ("request-timeout", "request_timeout"), ("request time limit", "request_timeout"),
            ("SIGTERM", "shutdown"), ("parent process", "shutdown"),
        ]
        func has(_ part: String) -> Bool {
            let a = Array(why.utf8), b = Array(part.utf8)
            guard b.count <= a.count else { return false }
            return (0...(a.count - b.count)).contains { a[$0..<($0 + b.count)].elementsEqual(b) }
        }
        for (part, reason) in words where has(part) { return reasons.firstIndex(of: reason)! }
        if let i = reasons.firstIndex(of: ProcessStopping.reason), !ProcessStopping.reason.isEmpty { return i }
        return reasons.firstIndex(of: "other")!
    }

    // MARK: helpers

    @inline(__always)
    package static func statusClass(_ status: Int) -> Int {
        status >= 100 && status < 600 ? status / 100 - 1 : 5
    }

    /// One duration into a histogram: its bucket (mod_wsgi's 16 time buckets) and the sum.
    @inline(__always)
    package static func observe(_ h: UnsafeMutablePointer<Int64>, micros: Int64) {
        let us = max(micros, 0)
        wsgi_atomic_add(h + Metrics.bucket(Double(us) / 1e6), 1)
        wsgi_atomic_add(h + 16, us)
    }
}
