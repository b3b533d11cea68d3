import CWSGICore

/// The drain and health state every process of the server shares: one small segment of
/// shared memory (a memfd, mapped MAP_SHARED) that the Apache parent maps at post_config when
/// WSGIHealthURL or WSGIDrainOnTerm is configured, before it forks anything, so that Apache's
/// children and the daemon processes inherit it (a daemon process that runs the application's
/// Python executable maps it again from the descriptor after its exec: `attach`). Kept across restarts while it has a word for
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
package struct LifecycleBoard {
    package let base: UnsafeMutablePointer<Int64>
    package let daemonWords: Int
    /// The memfd behind the mapping (-1 where this process does not hold it).
    package var fd: Int32 = -1

    package init(base: UnsafeMutablePointer<Int64>, daemonWords: Int) {
        self.base = base
        self.daemonWords = daemonWords
    }

    package static let magic: Int64 = 0x4D57_5347_494C_4946  // "MWSGILIF"
    package static let headerWords = 5

    package enum State: Int64 {
        case starting = 1
        case accepting = 2
        case stopping = 3
    }

    /// The board this process sees; nil without WSGIHealthURL and WSGIDrainOnTerm.
    nonisolated(unsafe) package static var current: LifecycleBoard?

    package var draining: UnsafeMutablePointer<Int64> { base + 1 }
    package var cut: UnsafeMutablePointer<Int64> { base + 2 }
    package var inFlight: UnsafeMutablePointer<Int64> { base + 3 }
    package func daemonWord(_ i: Int) -> UnsafeMutablePointer<Int64> { base + Self.headerWords + i }

    package var isDraining: Bool { wsgi_atomic_load(draining) != 0 }
    package var isCut: Bool { wsgi_atomic_load(cut) != 0 }

    /// The word of a group's process: groups in configuration order, each with
    /// max(processes, 1) words (the order of DaemonManager's slots).
    package static func index(groupID: Int, instance: Int, groups: [DaemonGroupConfig]) -> Int {
        groups.prefix(groupID - 1).reduce(0) { $0 + max($1.processes, 1) } + instance - 1
    }

    package static func pack(_ pid: pid_t, _ state: State) -> Int64 { Int64(pid) << 8 | state.rawValue }

    /// (pid, state) of a daemon word; state 0: no process.
    package func read(_ i: Int) -> (pid: pid_t, state: Int64) {
        let v = wsgi_atomic_load(daemonWord(i))
        return (pid_t(truncatingIfNeeded: v >> 8), v & 0xFF)
    }

    // MARK: a daemon process

    /// A daemon process moves its own word on; a word the parent has given to another
    /// process (a new generation's) is left alone. Waits a little for the parent's first
    /// store after the fork, which Python's start-up makes very unlikely to come second.
    package func daemonState(_ i: Int, _ state: State) {
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

    // MARK: a daemon process that runs the application's Python executable

    /// Maps the board again from the descriptor the Apache parent made it with (inherited
    /// across the exec). nil (one log line) when it cannot be used: the health URL then does
    /// not count this process.
    package static func attach(fd: Int32) -> LifecycleBoard? {
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size >= headerWords * 8,
            let raw = mmap(nil, Int(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
            raw != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            Log.server(
                APLOG_ERR, .lifecycleBoardAttachFailed,
                "Couldn't map the drain and health board (descriptor \(fd)): \(String(cString: strerror(wsgi_errno()))); WSGIHealthURL does not count this process."
            )
            return nil
        }
        let base = raw.bindMemory(to: Int64.self, capacity: Int(st.st_size) / 8)
        guard base[0] == magic else {
            munmap(raw, Int(st.st_size))
            return nil
        }
        var board = LifecycleBoard(base: base, daemonWords: Int(base[4]))
        board.fd = fd
        return board
    }
}
