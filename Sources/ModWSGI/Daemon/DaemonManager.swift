import CModWSGI
import SystemCalls
import WSGICore

/// One daemon process of a group, as the Apache parent supervises it.
final class DaemonSlot {
    let group: DaemonGroupConfig
    /// 1-based number of the group (socket names), and of the process in the group.
    let groupID: Int
    let instance: Int
    let socketPath: String
    let listener: Int32
    let generation: Int
    /// Stable storage for APR's other-child registry (it keeps the pointer).
    let proc: UnsafeMutablePointer<apr_proc_t>
    var pid: pid_t = 0
    /// The configuration generation is over: never restart this one.
    var retired = false
    var registered = false
    var terminated = false
    var starts = 0
    /// Its word in the drain and health board (LifecycleBoard).
    let lifecycleIndex: Int

    init(group: DaemonGroupConfig, groupID: Int, instance: Int, socketPath: String, listener: Int32, generation: Int) {
        self.group = group
        self.groupID = groupID
        self.instance = instance
        self.socketPath = socketPath
        self.listener = listener
        self.generation = generation
        lifecycleIndex = LifecycleBoard.index(
            groupID: groupID, instance: instance, groups: GlobalConfig.current.daemonGroups)
        proc = .allocate(capacity: 1)
        proc.initialize(to: apr_proc_t())
    }

    /// A slot goes when its generation ended and its process was reaped (unregistered from
    /// APR's other-child registry first): without this, every graceful restart left one
    /// apr_proc_t per daemon process behind in the Apache parent (LeakSanitizer).
    deinit {
        proc.deinitialize(count: 1)
        proc.deallocate()
    }
}

/// Daemon process groups (WSGIDaemonProcess), in the Apache parent: creates each group's
/// listening socket, forks the processes after the configuration is read (post_config, on
/// the real run only), restarts them when they die, and stops them with the configuration
/// generation (graceful on restart; SIGTERM, shutdown-timeout, then SIGKILL on stop).
/// The parent stays single-threaded and never runs Python.
enum DaemonManager {
    /// Socket path of each group of this generation; inherited by Apache's children.
    nonisolated(unsafe) static var socketPaths: [String: String] = [:]
    nonisolated(unsafe) static var slots: [DaemonSlot] = []
    nonisolated(unsafe) static var parentPid: pid_t = 0
    nonisolated(unsafe) static var generation = 0
    nonisolated(unsafe) static var processPool: OpaquePointer?
    nonisolated(unsafe) static var server: UnsafeMutablePointer<server_rec>?

    static func socketPath(prefix: String, groupID: Int, rotation: Bool) -> String {
        if rotation { return "\(prefix).\(getpid()).\(mpmQuery(AP_MPMQ_GENERATION)).\(groupID).sock" }
        return "\(prefix).\(getpid()).u\(wsgi_apache_uid()).\(groupID).sock"
    }

    static func postConfig(pconf: OpaquePointer?, ptemp: OpaquePointer?, server s: UnsafeMutablePointer<server_rec>)
        -> Int32
    {
        socketPaths = [:]
        slots = []
        let global = GlobalConfig.current
        let groups = global.daemonGroups
        if groups.isEmpty { return OK }
        let prefix = global.socketPrefix ?? String(cString: ap_runtime_dir_relative(pconf, "wsgi"))

        // Paths first, on both passes: a path that does not fit is a start-up error.
        var paths: [String] = []
        for (i, g) in groups.enumerated() {
            let path = socketPath(prefix: prefix, groupID: i + 1, rotation: global.socketRotation)
            if path.utf8.count > maximumSocketPath {
                Log.server(
                    APLOG_CRIT, .daemonSocket,
                    "The socket path '\(path)' for daemon process group '\(g.name)' is \(path.utf8.count) bytes, longer than the \(maximumSocketPath) bytes a UNIX socket path can hold. Set a shorter WSGISocketPrefix (with mod_wsgi-express: --socket-path).",
                    s)
                return HTTP_INTERNAL_SERVER_ERROR
            }
            paths.append(path)
        }
        // Apache runs post_config twice at start-up; fork only on the real run.
        let process = s.pointee.process!
        var data: UnsafeMutableRawPointer? = nil
        apr_pool_userdata_get(&data, "mod_wsgi_swift.daemons", process.pointee.pool)
        if data == nil {
            apr_pool_userdata_set(UnsafeRawPointer(bitPattern: 1), "mod_wsgi_swift.daemons", nil, process.pointee.pool)
            return OK
        }
        parentPid = getpid()
        processPool = process.pointee.pool
        server = s
        generation += 1
        DaemonLaunch.configure(global, server: s, pool: ptemp)
        // python-executable=PATH asks for that executable: one it cannot run is refused, never
        // replaced by the forked process without a word (auto falls back, and says why: MW2001).
        for g in groups {
            guard let exe = g.pythonExecutable, exe != "off", DaemonLaunch.plans[g.name]?.executable == nil else {
                continue
            }
            Log.server(
                APLOG_CRIT, .daemonPythonRefused,
                "Daemon process group '\(g.name)' has python-executable=\(exe), which cannot be used: \(DaemonLaunch.plans[g.name]?.reason ?? "no plan"); install the daemon runtime beside the module (mod_wsgi-express install-module copies it) or set python-executable=auto.",
                s)
            return HTTP_INTERNAL_SERVER_ERROR
        }

        var made: [DaemonSlot] = []
        for (i, g) in groups.enumerated() {
            let path = paths[i]
            let fd: Int32
            do {
                fd = try listen(path: path, group: g)
            } catch {
                Log.server(
                    APLOG_CRIT, .daemonSocketFailed,
                    "Couldn't create the socket '\(path)' of daemon process group '\(g.name)': \(error).", s)
                for slot in made { close(slot.listener); unlink(slot.socketPath) }
                return HTTP_INTERNAL_SERVER_ERROR
            }
            socketPaths[g.name] = path
            for n in 1...max(g.processes, 1) {
                made.append(
                    DaemonSlot(
                        group: g, groupID: i + 1, instance: n, socketPath: path, listener: fd, generation: generation))
            }
        }
        slots = made
        apr_pool_cleanup_register(
            pconf, nil,
            { _ in
                DaemonManager.endGeneration()
                return APR_SUCCESS
            }, apr_pool_cleanup_null)
        // A daemon process that exits is replaced at once, not at the MPM's next
        // once-a-second check (--reload-on-changes restarts in well under a second).
        wsgi_parent_wake_on_child_exit(1)
        // As mod_wsgi: before the scoreboard exists, start them from pre_mpm (after it is made).
        if wsgi_scoreboard() == nil { startDeferred = true } else { for slot in made { start(slot) } }
        return OK
    }

    nonisolated(unsafe) static var startDeferred = false

    static func preMPM() {
        guard startDeferred else { return }
        startDeferred = false
        for slot in slots { start(slot) }
    }

    private static func listen(path: String, group: DaemonGroupConfig) throws -> Int32 {
        // The socket is made under a name of its own and renamed into place once it has its
        // owner and mode: a child that connects as soon as the name appears (a new generation
        // after a graceful restart) never finds it still root's ("Permission denied", a 503).
        // The name has the final one's length, so it fits wherever the final one fits.
        let staging = String(path.dropLast()) + (path.hasSuffix("~") ? "+" : "~")
        guard var addr = unixAddress(staging) else { throw SystemError("bind", errno: ENAMETOOLONG) }
        let fd = try syscall("socket") {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do {
            do {
                try syscall("unlink of a stale socket") { unlink(staging) }
            } catch let e where e.errno == ENOENT {}
            try syscall("bind") { wsgi_bind_un(fd, &addr) }
            // Accepted sockets inherit these (send-buffer-size=, receive-buffer-size=).
            for (opt, size) in [(SO_SNDBUF, group.sendBufferSize), (SO_RCVBUF, group.receiveBufferSize)] where size > 0
            {
                var v = Int32(clamping: size)
                try syscall("setsockopt") { setsockopt(fd, SOL_SOCKET, opt, &v, socklen_t(MemoryLayout<Int32>.size)) }
            }
            try syscall("listen") { CModWSGI.listen(fd, Int32(group.listenBacklog)) }
            // Accepting threads poll; a connection taken by another process is EAGAIN.
            _ = wsgi_set_nonblock(fd, 1)
            if getuid() == 0 {
                // Apache's children (User) connect; nobody else.
                var uid = wsgi_apache_uid()
                if let su = group.socketUser, let u = Identity.lookupUser(su) { uid = u.uid }
                try syscall("chown of the socket") { chown(staging, uid, gid_t.max) }
            }
            try syscall("chmod of the socket") { chmod(staging, 0o600) }
            // Replaces the previous generation's socket of the same name, if any, at once.
            try syscall("rename of the socket") { rename(staging, path) }
        } catch {
            close(fd)
            unlink(staging)
            throw error
        }
        return fd
    }

    /// Forks one daemon process (in the parent, single-threaded).
    static func start(_ slot: DaemonSlot) {
        slot.starts += 1
        let rv = apr_proc_fork(slot.proc, processPool)
        if rv == APR_INCHILD {
            DaemonLaunch.run(slot, allSlots: slots)
        }
        if rv != APR_INPARENT {
            Log.server(APLOG_ALERT, .daemonForkFailed, "Couldn't spawn process '\(slot.group.name)': \(aprError(rv)).")
            return
        }
        slot.pid = slot.proc.pointee.pid
        LifecycleBoard.current?.daemonForked(slot.lifecycleIndex, pid: slot.pid)
        apr_proc_other_child_register(
            slot.proc,
            { reason, data, status in
                DaemonManager.maintenance(reason, data!, status)
            }, Unmanaged.passUnretained(slot).toOpaque(), nil, processPool)
        slot.registered = true
        // Keep the slot alive while APR holds its pointer.
        _ = Unmanaged.passRetained(slot)
    }

    /// APR's other-child callback: called by the MPM's main loop when a daemon dies.
    private static func maintenance(_ reason: Int32, _ data: UnsafeMutableRawPointer, _ status: Int32) {
        let slot = Unmanaged<DaemonSlot>.fromOpaque(data).takeUnretainedValue()
        guard getpid() == parentPid else { return }
        switch reason {
        case APR_OC_REASON_DEATH, APR_OC_REASON_LOST:
            apr_proc_other_child_unregister(data)
            slot.registered = false
            let pid = slot.pid
            slot.pid = 0
            LifecycleBoard.current?.daemonGone(slot.lifecycleIndex, pid: pid)
            var how = "vanished"
            if reason == APR_OC_REASON_DEATH {
                if wsgi_wifsignaled(status) != 0 {
                    how = "was killed by signal \(wsgi_wtermsig(status))"
                } else if wsgi_wifexited(status) != 0 {
                    how = "exited with status \(wsgi_wexitstatus(status))"
                }
            }
            if reason == APR_OC_REASON_LOST || wsgi_wifsignaled(status) != 0 || wsgi_wexitstatus(status) != 0 {
                MetricsRecorder.daemonCrashed(group: slot.group.name, instance: slot.instance)
            }
            var state: Int32 = 0
            ap_mpm_query(AP_MPMQ_MPM_STATE, &state)
            if slot.retired || state == AP_MPMQ_STOPPING {
                Log.server(
                    APLOG_INFO, .daemonExited, "Process \(pid) of daemon process group '\(slot.group.name)' \(how).")
                Unmanaged.passUnretained(slot).release()
                return
            }
            Log.server(
                APLOG_INFO, .daemonRespawn,
                "Process \(pid) of daemon process group '\(slot.group.name)' \(how); starting a new one.")
            start(slot)
            Unmanaged.passUnretained(slot).release()
        case APR_OC_REASON_RESTART:
            // The MPM is reclaiming its children (stop, restart, graceful-stop): its
            // children may be waiting on these daemons, so stop them now, not after.
            // At the end of a drain, first: were requests still running (then cut at once)?
            Drain.reclaiming()
            slot.retired = true
            if slot.pid > 0 && !slot.terminated {
                slot.terminated = true
                kill(slot.pid, SIGTERM)
            }
            // The daemons stop accepting: close the socket now, not when the configuration
            // ends, so that connections still queued there are reset (and the children give
            // up) instead of waiting on a listener nobody accepts on while Apache waits for them.
            closeListener(slot)
        default:
            break
        }
    }

    /// In each Apache child (child_init): close the daemons' listening sockets inherited from
    /// the parent. Children connect by path; were they to hold a listener, a connection queued
    /// on an old generation's socket after its daemon stopped accepting would be neither
    /// accepted nor refused, and its request would hang (as mod_wsgi: only the parent and the
    /// daemon hold it).
    static func closeListenersInChild() {
        for fd in Set(slots.map { $0.listener }) { close(fd) }
        slots = []
    }

    /// Listeners already closed by the parent in this generation.
    nonisolated(unsafe) static var closedListeners = Set<Int32>()

    private static func closeListener(_ slot: DaemonSlot) {
        guard !closedListeners.contains(slot.listener) else { return }
        closedListeners.insert(slot.listener)
        close(slot.listener)
        unlink(slot.socketPath)
    }

    /// pconf cleanup: the configuration generation ends (restart, graceful, or stop).
    static func endGeneration() {
        guard getpid() == parentPid else { return }
        let ending = slots
        slots = []
        socketPaths = [:]
        for slot in ending {
            slot.retired = true
            closeListener(slot)
        }
        closedListeners = []
        let exiting = ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING
        if !exiting {
            // A restart: each process finishes its requests (graceful-timeout) and exits;
            // the MPM reaps it through the other-child registry.
            for slot in ending where slot.pid > 0 { kill(slot.pid, SIGUSR1) }
            return
        }
        // Stop: SIGTERM, wait for the processes' own shutdown-timeout, then SIGKILL.
        for slot in ending where slot.pid > 0 { kill(slot.pid, SIGTERM) }
        let grace = Int64(ending.map { $0.group.shutdownTimeout }.max() ?? 5) * 1_000_000 + 1_000_000
        let deadline = monotonicMicros() + grace
        while true {
            var alive = 0
            for slot in ending where slot.pid > 0 {
                var st: Int32 = 0
                let gone: Bool
                do {
                    gone = try syscall("waitpid") { waitpid(slot.pid, &st, WNOHANG) } == slot.pid
                } catch {
                    gone = error.errno == ECHILD
                }
                if gone { reaped(slot) } else { alive += 1 }
            }
            if alive == 0 || monotonicMicros() >= deadline { break }
            sleepMicros(20_000)
        }
        for slot in ending where slot.pid > 0 {
            Log.server(
                APLOG_WARNING, .daemonKilled,
                "Process \(slot.pid) of daemon process group '\(slot.group.name)' did not stop within shutdown-timeout; sending SIGKILL."
            )
            kill(slot.pid, SIGKILL)
            var st: Int32 = 0
            _ = try? syscall("waitpid") { waitpid(slot.pid, &st, 0) }
            reaped(slot)
        }
    }

    private static func reaped(_ slot: DaemonSlot) {
        slot.pid = 0
        if slot.registered {
            let data = Unmanaged.passUnretained(slot).toOpaque()
            apr_proc_other_child_unregister(data)
            slot.registered = false
            Unmanaged.passUnretained(slot).release()
        }
    }
}
