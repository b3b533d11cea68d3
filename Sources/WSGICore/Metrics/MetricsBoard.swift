import CModWSGI

/// The metrics board: counters of every process of the server in one shared memory segment,
/// so that one scrape of WSGIMetricsURL (in any Apache child) sees them all without asking
/// any other process.
///
/// The Apache parent maps the segment (MAP_SHARED | MAP_ANONYMOUS) at post_config, before it
/// forks anything; Apache's children and the daemon processes inherit the mapping. It is
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
struct MetricsBoard {
    let base: UnsafeMutablePointer<Int64>
    let bytes: Int
    let childSlots: Int
    let daemonSlots: Int
    let processEntries: Int

    static let magic: Int64 = 0x4D57_5347_494D_4554  // "MWSGIMET"
    static let version: Int64 = 1
    static let headerWords = 8
    static let nameWords = 8
    static let directoryWords = nameWords + 2
    static let slotWords = 96
    static let entryWords = 4 + nameWords

    /// Counter offsets within a slot.
    enum Field {
        static let requests = 0  // 6: 1xx, 2xx, 3xx, 4xx, 5xx, other
        static let active = 6
        static let duration = 8  // 16 buckets, then the sum in µs
        static let application = 25  // 16 buckets, sum
        static let queue = 42  // 16 buckets, sum
        static let restarts = 59  // one per RestartReason
    }

    /// Why a daemon process was replaced, as the `reason` label says it.
    static let restartReasons = [
        "request_timeout", "startup_timeout", "restart_interval", "inactivity_timeout",
        "cpu_time_limit", "graceful_signal", "maximum_requests", "memory_limit", "eviction",
        "shutdown", "crashed", "other",
    ]

    enum Kind: Int64 { case parent = 1, child = 2, daemon = 3 }

    static func words(children: Int, daemons: Int, processes: Int) -> Int {
        headerWords + daemons * directoryWords + (children + daemons) * slotWords + processes * entryWords
    }

    /// The board this process writes to, nil when no WSGIMetricsURL is configured.
    nonisolated(unsafe) static var current: MetricsBoard?

    // MARK: regions

    func directory(_ i: Int) -> UnsafeMutablePointer<Int64> {
        base + Self.headerWords + i * Self.directoryWords
    }

    func slot(_ i: Int) -> UnsafeMutablePointer<Int64> {
        base + Self.headerWords + daemonSlots * Self.directoryWords + i * Self.slotWords
    }

    func childSlot(_ n: Int) -> UnsafeMutablePointer<Int64>? {
        n >= 0 && n < childSlots ? slot(n) : nil
    }

    func daemonSlot(_ i: Int) -> UnsafeMutablePointer<Int64> { slot(childSlots + i) }

    func entry(_ i: Int) -> UnsafeMutablePointer<Int64> {
        base + Self.headerWords + daemonSlots * Self.directoryWords + (childSlots + daemonSlots) * Self.slotWords
            + i * Self.entryWords
    }

    // MARK: names (written once, before the word that publishes them)

    static func writeName(_ name: String, at p: UnsafeMutablePointer<Int64>) {
        let raw = UnsafeMutableRawPointer(p)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: nameWords * 8)
        var i = 0
        for b in name.utf8 where i < nameWords * 8 - 1 {
            raw.storeBytes(of: b, toByteOffset: i, as: UInt8.self); i += 1
        }
    }

    static func readName(_ p: UnsafeMutablePointer<Int64>) -> String {
        let raw = UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self)
        var n = 0
        while n < nameWords * 8 && raw[n] != 0 { n += 1 }
        return String(decoding: UnsafeBufferPointer(start: raw, count: n), as: UTF8.self)
    }

    /// The daemon slot of a group's process number `instance` (1-based), if it has one.
    func daemonSlotIndex(group: String, instance: Int) -> Int? {
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

// MARK: - The parent: creating and keeping the segment

extension MetricsBoard {
    /// post_config, in the parent (single-threaded): the board for this configuration, or
    /// none without WSGIMetricsURL. Reuses the current segment when it is big enough.
    static func configure(global: GlobalConfig, server s: UnsafeMutablePointer<server_rec>) {
        guard global.metricsURL != nil else { current = nil; return }
        let children = max(Int(mpmQuery(AP_MPMQ_HARD_LIMIT_DAEMONS)), 1)
        let daemons = global.daemonGroups.reduce(0) { $0 + max($1.processes, 1) }
        if let board = current, board.childSlots >= children, board.freeDaemonSlots(for: global) {
            board.assignDaemonSlots(global)
            return
        }
        // Room for the daemon groups to grow a little before a new segment is needed, and
        // for the processes of an ending generation beside the new one's.
        let daemonCapacity = max(daemons * 2, 16)
        let processCapacity = (children + daemonCapacity) * 2 + 2
        let bytes = words(children: children, daemons: daemonCapacity, processes: processCapacity) * 8
        guard let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0),
            raw != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            Log.server(
                APLOG_ERR, .metricsBoardFailed,
                "Couldn't map \(bytes) bytes of shared memory for WSGIMetricsURL: \(String(cString: strerror(wsgi_errno()))); the endpoint answers 503.",
                s)
            current = nil
            return
        }
        if let old = current {
            Log.server(
                APLOG_NOTICE, .metricsBoardResized,
                "The metrics board grew (\(old.childSlots)→\(children) child slots, \(old.daemonSlots)→\(daemonCapacity) daemon slots): the counters of WSGIMetricsURL start again from zero.",
                s)
            // Processes of the ending generation keep their own mapping; the parent lets go.
            munmap(old.base, old.bytes)
        }
        let base = raw.bindMemory(to: Int64.self, capacity: bytes / 8)  // zero-filled by mmap
        base[1] = version
        base[2] = Int64(children)
        base[3] = Int64(daemonCapacity)
        base[4] = Int64(processCapacity)
        base[0] = magic
        let board = MetricsBoard(
            base: base, bytes: bytes, childSlots: children, daemonSlots: daemonCapacity,
            processEntries: processCapacity)
        board.assignDaemonSlots(global)
        current = board
        board.register(kind: .parent, group: "", instance: 0)
    }

    /// Whether every group and instance of the configuration has or can get a slot.
    func freeDaemonSlots(for global: GlobalConfig) -> Bool {
        var used = 0
        for i in 0..<daemonSlots where wsgi_atomic_load(directory(i) + Self.nameWords + 1) != 0 { used += 1 }
        var missing = 0
        for g in global.daemonGroups {
            for n in 1...max(g.processes, 1) where daemonSlotIndex(group: g.name, instance: n) == nil { missing += 1 }
        }
        return used + missing <= daemonSlots
    }

    /// Gives each group and instance a daemon slot, keeping the one it had (its counters
    /// go on) across restarts.
    func assignDaemonSlots(_ global: GlobalConfig) {
        for g in global.daemonGroups {
            for n in 1...max(g.processes, 1) where daemonSlotIndex(group: g.name, instance: n) == nil {
                guard
                    let free = (0..<daemonSlots).first(where: {
                        wsgi_atomic_load(directory($0) + Self.nameWords + 1) == 0
                    })
                else {
                    Log.server(
                        APLOG_WARNING, .metricsBoardFull,
                        "No metrics slot left for process \(n) of daemon process group '\(g.name)': its requests are not in WSGIMetricsURL until Apache is restarted."
                    )
                    continue
                }
                let d = directory(free)
                Self.writeName(g.name, at: d)
                d[Self.nameWords] = Int64(n)
                wsgi_atomic_store(d + Self.nameWords + 1, 1)
            }
        }
    }
}

// MARK: - Processes: who is alive, for RSS and CPU

extension MetricsBoard {
    /// Claims a process entry for this process (pid, its start time as /proc has it, kind,
    /// group). A stale entry (a process that died without letting go) is reclaimed.
    @discardableResult
    func register(kind: Kind, group: String, instance: Int) -> Int? {
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

    func unregister(_ i: Int) {
        _ = wsgi_atomic_cas(entry(i), Int64(getpid()), 0)
    }
}

/// The few fields of /proc/PID/stat the board needs.
struct ProcStat {
    var userSeconds: Double
    var systemSeconds: Double
    var startTime: Int64
    var rssBytes: Int64

    static let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    static let pageSize = Int64(sysconf(Int32(_SC_PAGESIZE)))

    static func read(pid: Int64) -> ProcStat? {
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
    static func alive(pid: Int64, started: Int64) -> Bool {
        read(pid: pid)?.startTime == started
    }
}
