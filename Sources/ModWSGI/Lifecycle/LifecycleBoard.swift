import CModWSGI

/// The drain and health state every process of the server shares: one small segment of
/// shared memory (MAP_SHARED | MAP_ANONYMOUS) that the Apache parent maps at post_config when
/// WSGIHealthURL or WSGIDrainOnTerm is configured, before it forks anything, so that Apache's
/// children and the daemon processes inherit it. Kept across restarts while it has a word for
/// every daemon process of the configuration.
///
/// Words (64-bit):
///
/// ```
/// 0  magic
/// 1  draining: set by the parent's signal handlers (wsgi_lifecycle.c) when a drain starts
/// 2  cut: the drain's time is up; daemon processes stop at once instead of after shutdown-timeout
/// 3  WSGI requests in Apache's children now (the parent reads it when the drain ends)
/// 4  number of daemon words
/// 5… one per daemon process of the configuration, in WSGIDaemonProcess order then process
///    number: pid << 8 | state. The parent stores (pid, starting) after each fork; the process
///    itself moves its own word on (accepting, stopping) with a compare-and-swap that holds
///    only while the word is still its own; the parent clears it when the process is reaped.
/// ```
struct LifecycleBoard {
    let base: UnsafeMutablePointer<Int64>
    let daemonWords: Int

    static let magic: Int64 = 0x4D57_5347_494C_4946  // "MWSGILIF"
    static let headerWords = 5

    enum State: Int64 {
        case starting = 1
        case accepting = 2
        case stopping = 3
    }

    /// The board this process sees; nil without WSGIHealthURL and WSGIDrainOnTerm.
    nonisolated(unsafe) static var current: LifecycleBoard?

    var draining: UnsafeMutablePointer<Int64> { base + 1 }
    var cut: UnsafeMutablePointer<Int64> { base + 2 }
    var inFlight: UnsafeMutablePointer<Int64> { base + 3 }
    func daemonWord(_ i: Int) -> UnsafeMutablePointer<Int64> { base + Self.headerWords + i }

    var isDraining: Bool { wsgi_atomic_load(draining) != 0 }
    var isCut: Bool { wsgi_atomic_load(cut) != 0 }

    /// The word of a group's process: groups in configuration order, each with
    /// max(processes, 1) words (the order of DaemonManager's slots).
    static func index(groupID: Int, instance: Int, groups: [DaemonGroupConfig]) -> Int {
        groups.prefix(groupID - 1).reduce(0) { $0 + max($1.processes, 1) } + instance - 1
    }

    static func pack(_ pid: pid_t, _ state: State) -> Int64 { Int64(pid) << 8 | state.rawValue }

    /// (pid, state) of a daemon word; state 0: no process.
    func read(_ i: Int) -> (pid: pid_t, state: Int64) {
        let v = wsgi_atomic_load(daemonWord(i))
        return (pid_t(truncatingIfNeeded: v >> 8), v & 0xFF)
    }

    // MARK: the parent

    /// post_config (real pass), in the parent: the board for this configuration, or none.
    static func configure(global: GlobalConfig, server s: UnsafeMutablePointer<server_rec>) {
        guard global.healthURL != nil || global.drainOnTerm else { current = nil; return }
        let needed = global.daemonGroups.reduce(0) { $0 + max($1.processes, 1) }
        if let board = current, board.daemonWords >= needed {
            // A restart: every process of the configuration is forked again.
            for i in 0..<board.daemonWords { wsgi_atomic_store(board.daemonWord(i), 0) }
            // A SIGTERM taken while the configuration was read again still drains.
            if wsgi_lifecycle_phase() == 0 {
                wsgi_atomic_store(board.draining, 0)
                wsgi_atomic_store(board.cut, 0)
            }
            return
        }
        let words = headerWords + max(needed * 2, 16)
        guard let raw = mmap(nil, words * 8, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0),
            raw != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            Log.server(
                APLOG_ERR, .lifecycleBoardFailed,
                "Couldn't map \(words * 8) bytes of shared memory for WSGIHealthURL and WSGIDrainOnTerm: \(String(cString: strerror(wsgi_errno()))); the health URL answers 503 and SIGTERM stops at once.",
                s)
            current = nil
            return
        }
        // The previous segment (if any) stays mapped: a signal handler may be using it.
        let base = raw.bindMemory(to: Int64.self, capacity: words)
        base[0] = magic
        base[4] = Int64(words - headerWords)
        current = LifecycleBoard(base: base, daemonWords: words - headerWords)
    }

    /// The parent, after forking a daemon process for word i.
    func daemonForked(_ i: Int, pid: pid_t) {
        guard i >= 0 && i < daemonWords else { return }
        wsgi_atomic_store(daemonWord(i), Self.pack(pid, .starting))
    }

    /// The parent, when it reaped daemon process `pid` of word i.
    func daemonGone(_ i: Int, pid: pid_t) {
        guard i >= 0 && i < daemonWords else { return }
        let w = daemonWord(i)
        let v = wsgi_atomic_load(w)
        if v >> 8 == Int64(pid) { _ = wsgi_atomic_cas(w, v, 0) }
    }

    // MARK: a daemon process

    /// A daemon process moves its own word on; a word the parent has given to another
    /// process (a new generation's) is left alone. Waits a little for the parent's first
    /// store after the fork, which Python's start-up makes very unlikely to come second.
    func daemonState(_ i: Int, _ state: State) {
        guard i >= 0 && i < daemonWords else { return }
        let w = daemonWord(i)
        let me = Int64(getpid())
        for attempt in 0..<200 {
            let v = wsgi_atomic_load(w)
            if v >> 8 == me {
                if v & 0xFF == state.rawValue || wsgi_atomic_cas(w, v, Self.pack(getpid(), state)) != 0 { return }
                continue
            }
            if state != .accepting || attempt == 199 { return }
            usleep(5_000)
        }
    }
}
