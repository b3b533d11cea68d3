import CWSGICore

/// The metrics board: counters of every process of the server in one shared memory segment,
/// so that one scrape of WSGIMetricsURL (in any Apache child) sees them all without asking
/// any other process.
///
/// The Apache parent makes the segment (a memfd, mapped MAP_SHARED) at post_config, before it
/// forks anything; Apache's children and the daemon processes inherit the mapping, and a daemon
/// process that runs the application's Python executable maps it again from the descriptor
/// (`attach`), which its fork kept open across the exec. It is
/// kept across restarts (graceful or not) while its capacity fits the configuration, so the
/// counters go on counting; a configuration that needs more slots gets a new segment (the
/// counters start again from zero, which Prometheus treats as a counter reset).
///
/// Layout, in 64-bit words:
///
/// ```
/// header       magic, layout version, child slots, daemon slots, process entries
/// directory    one per daemon slot: group name (64 bytes), instance, used
/// slots        child slots (indexed by Apache's scoreboard number), then daemon slots
///              (one per group and instance, found through the directory): counters only
/// processes    one per live process: pid, start time (/proc), kind, instance, group name
/// ```
///
/// Counters are written with relaxed atomic adds by whoever owns the slot at the time; two
/// processes briefly sharing a slot (an old daemon finishing its requests after a graceful
/// restart beside its replacement) add up, which is what a counter should do.
package struct MetricsBoard {
    package let base: UnsafeMutablePointer<Int64>
    package let bytes: Int
    package let childSlots: Int
    package let daemonSlots: Int
    package let processEntries: Int
    /// The memfd behind the mapping (-1 where this process does not hold it).
    package var fd: Int32 = -1

    package init(base: UnsafeMutablePointer<Int64>, bytes: Int, childSlots: Int, daemonSlots: Int, processEntries: Int)
    {
        self.base = base
        self.bytes = bytes
        self.childSlots = childSlots
        self.daemonSlots = daemonSlots
        self.processEntries = processEntries
    }

    package static let magic: Int64 = 0x4D57_5347_494D_4554  // "MWSGIMET"
    package static let version: Int64 = 1
    package static let headerWords = 8
    package static let nameWords = 8
    package static let directoryWords = nameWords + 2
    package static let slotWords = 96
    package static let entryWords = 4 + nameWords

    /// Counter offsets within a slot.
    package enum Field {
        package static let requests = 0  // 6: 1xx, 2xx, 3xx, 4xx, 5xx, other
        package static let active = 6
        package static let duration = 8  // 16 buckets, then the sum in µs
        package static let application = 25  // 16 buckets, sum
        package static let queue = 42  // 16 buckets, sum
        package static let restarts = 59  // one per RestartReason
    }

    /// Why a daemon process was replaced, as the `reason` label says it.
    package static let restartReasons = [
        "request_timeout", "startup_timeout", "restart_interval", "inactivity_timeout",
        "cpu_time_limit", "graceful_signal", "maximum_requests", "memory_limit", "eviction",
        "shutdown", "crashed", "other",
    ]

    package enum Kind: Int64 { case parent = 1, child = 2, daemon = 3 }

    package static func words(children: Int, daemons: Int, processes: Int) -> Int {
        headerWords + daemons * directoryWords + (children + daemons) * slotWords + processes * entryWords
    }

    /// The board this process writes to, nil when no WSGIMetricsURL is configured.
    nonisolated(unsafe) package static var current: MetricsBoard?

    // MARK: regions

    package func directory(_ i: Int) -> UnsafeMutablePointer<Int64> {
        base + Self.headerWords + i * Self.directoryWords
    }

    package func slot(_ i: Int) -> UnsafeMutablePointer<Int64> {
        base + Self.headerWords + daemonSlots * Self.directoryWords + i * Self.slotWords
    }

    package func childSlot(_ n: Int) -> UnsafeMutablePointer<Int64>? {
        n >= 0 && n < childSlots ? slot(n) : nil
    }

    package func daemonSlot(_ i: Int) -> UnsafeMutablePointer<Int64> { slot(childSlots + i) }

    package func entry(_ i: Int) -> UnsafeMutablePointer<Int64> {
        base + Self.headerWords + daemonSlots * Self.directoryWords + (childSlots + daemonSlots) * Self.slotWords
            + i * Self.entryWords
    }

    // MARK: names (written once, before the word that publishes them)

    package static func writeName(_ name: String, at p: UnsafeMutablePointer<Int64>) {
        let raw = UnsafeMutableRawPointer(p)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: nameWords * 8)
        var i = 0
        for b in name.utf8 where i < nameWords * 8 - 1 {
            raw.storeBytes(of: b, toByteOffset: i, as: UInt8.self); i += 1
        }
    }

    package static func readName(_ p: UnsafeMutablePointer<Int64>) -> String {
        let raw = UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self)
        var n = 0
        while n < nameWords * 8 && raw[n] != 0 { n += 1 }
        return String(decoding: UnsafeBufferPointer(start: raw, count: n), as: UTF8.self)
    }

    /// The daemon slot of a group's process number `instance` (1-based), if it has one.
    package func daemonSlotIndex(group: String, instance: Int) -> Int? {
        for i in 0..<daemonSlots {
            let d = directory(i)
            if wsgi_atomic_load(d + Self.nameWords + 1) != 0 && d[Self.nameWords] == Int64(instance)
                && Self.readName(d) == group
            {
                return i
            }
        }
        return nil
    }
}

// MARK: - A daemon process running the application's Python: the same segment again

extension MetricsBoard {
    /// Maps the board from the descriptor the Apache parent made it with (inherited across
    /// the exec), and checks its header. nil (one log line) when it cannot be used.
    package static func attach(fd: Int32) -> MetricsBoard? {
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size >= headerWords * 8,
            let raw = mmap(nil, Int(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
            raw != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            Log.server(
                APLOG_ERR, .metricsBoardAttachFailed,
                "Couldn't map the metrics board (descriptor \(fd)): \(String(cString: strerror(wsgi_errno()))); this process's requests are not in WSGIMetricsURL."
            )
            return nil
        }
        let base = raw.bindMemory(to: Int64.self, capacity: Int(st.st_size) / 8)
        guard base[0] == magic, base[1] == version else {
            munmap(raw, Int(st.st_size))
            return nil
        }
        var board = MetricsBoard(
            base: base, bytes: Int(st.st_size), childSlots: Int(base[2]), daemonSlots: Int(base[3]),
            processEntries: Int(base[4]))
        board.fd = fd
        return board
    }
}

// MARK: - Processes: who is alive, for RSS and CPU

extension MetricsBoard {
    /// Claims a process entry for this process (pid, its start time as /proc has it, kind,
    /// group). A stale entry (a process that died without letting go) is reclaimed.
    @discardableResult
    package func register(kind: Kind, group: String, instance: Int) -> Int? {
        let pid = Int64(getpid())
        guard let me = ProcStat.read(pid: pid) else { return nil }
        for pass in 0..<2 {
            for i in 0..<processEntries {
                let e = entry(i)
                let owner = wsgi_atomic_load(e)
                if owner == pid { return i }  // registered already (the parent, at a restart)
                if pass == 1 && owner > 0 && !ProcStat.alive(pid: owner, started: e[1]) {
                    _ = wsgi_atomic_cas(e, owner, 0)
                }
                // Claimed with -pid while its fields are written; published with pid.
                guard wsgi_atomic_load(e) == 0, wsgi_atomic_cas(e, 0, -pid) != 0 else { continue }
                e[1] = me.startTime
                e[2] = kind.rawValue
                e[3] = Int64(instance)
                Self.writeName(group, at: e + 4)
                wsgi_atomic_store(e, pid)
                return i
            }
        }
        return nil
    }

    package func unregister(_ i: Int) {
        _ = wsgi_atomic_cas(entry(i), Int64(getpid()), 0)
    }
}

/// The few fields of /proc/PID/stat the board needs.
package struct ProcStat {
    package var userSeconds: Double
    package var systemSeconds: Double
    package var startTime: Int64
    package var rssBytes: Int64

    static let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    static let pageSize = Int64(sysconf(Int32(_SC_PAGESIZE)))

    package static func read(pid: Int64) -> ProcStat? {
        guard let text = readSmallFile("/proc/\(pid)/stat"),
            let close = text.utf8.lastIndex(of: UInt8(ascii: ")"))
        else { return nil }
        // Fields after "(comm)": state is field 3, so field k is at k - 3.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 21, let utime = Double(fields[11]), let stime = Double(fields[12]),
            let start = Int64(fields[19]), let rss = Int64(fields[21])
        else { return nil }
        return ProcStat(
            userSeconds: utime / ticks, systemSeconds: stime / ticks, startTime: start,
            rssBytes: rss * pageSize)
    }

    /// The process is still the one that registered (a reused pid starts later).
    package static func alive(pid: Int64, started: Int64) -> Bool {
        read(pid: pid)?.startTime == started
    }
}
