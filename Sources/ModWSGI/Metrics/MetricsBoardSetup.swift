import CModWSGI
import WSGICore

// The parent: creating and keeping the metrics board.

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
        // A memfd rather than an anonymous mapping: a daemon process that runs the application's
        // Python executable maps it again from the descriptor after its exec (attach).
        let fd = memfd_create("mod_wsgi-metrics", UInt32(MFD_CLOEXEC))
        guard fd >= 0, ftruncate(fd, off_t(bytes)) == 0,
            let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
            raw != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            if fd >= 0 { close(fd) }
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
            if old.fd >= 0 { close(old.fd) }
        }
        let base = raw.bindMemory(to: Int64.self, capacity: bytes / 8)  // zero-filled by ftruncate
        base[1] = version
        base[2] = Int64(children)
        base[3] = Int64(daemonCapacity)
        base[4] = Int64(processCapacity)
        base[0] = magic
        var board = MetricsBoard(
            base: base, bytes: bytes, childSlots: children, daemonSlots: daemonCapacity,
            processEntries: processCapacity)
        board.fd = fd
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
