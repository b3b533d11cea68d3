import CModWSGI
import WSGICore

// The parent: creating the drain and health board, and its words of the daemon processes.

extension LifecycleBoard {
    /// post_config (real pass), in the parent: the board for this configuration, or none.
    static func configure(global: GlobalConfig, server s: UnsafeMutablePointer<server_rec>) {
        guard global.healthURL != nil || global.drainOnTerm else {
            if let old = current, old.fd >= 0 { close(old.fd) }
            current = nil
            return
        }
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
        // A memfd rather than an anonymous mapping: a daemon process that runs the application's
        // Python executable maps it again from the descriptor after its exec (attach).
        let fd = memfd_create("mod_wsgi-lifecycle", UInt32(MFD_CLOEXEC))
        guard fd >= 0, ftruncate(fd, off_t(words * 8)) == 0,
            let raw = mmap(nil, words * 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
            raw != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            if fd >= 0 { close(fd) }
            Log.server(
                APLOG_ERR, .lifecycleBoardFailed,
                "Couldn't map \(words * 8) bytes of shared memory for WSGIHealthURL and WSGIDrainOnTerm: \(String(cString: strerror(wsgi_errno()))); the health URL answers 503 and SIGTERM stops at once.",
                s)
            current = nil
            return
        }
        // The previous segment (if any) stays mapped: a signal handler may be using it. Its
        // descriptor goes: only the new generation's daemon processes need one.
        if let old = current, old.fd >= 0 { close(old.fd) }
        let base = raw.bindMemory(to: Int64.self, capacity: words)  // zero-filled by ftruncate
        base[0] = magic
        base[4] = Int64(words - headerWords)
        var board = LifecycleBoard(base: base, daemonWords: words - headerWords)
        board.fd = fd
        current = board
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

    /// child_init: the child needs the mapping, not the memfd behind it (only a daemon's exec does).
    static func childStarted() {
        guard var board = current, board.fd >= 0 else { return }
        close(board.fd)
        board.fd = -1
        current = board
    }
}
