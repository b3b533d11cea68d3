import CWSGICore
import SystemCalls

/// State shared by the threads of one daemon process. Guarded by `lock`.
package final class DaemonState {
    private let lock = Lock()
    let group: DaemonGroupConfig
    /// Read under `acceptLock`; -1 once closed.
    private(set) var listener: Int32
    let wakeRead: Int32
    let wakeWrite: Int32
    /// Start (monotonic µs) of the request each worker is running; 0: idle.
    var active: [Int64]
    /// When the supervisor raised RequestTimeout in each worker's request (interrupt-timeout);
    /// 0: not. Reset when the worker's request ends.
    var injectedAt: [Int64]
    /// Each worker's Python thread ident (PyThread_get_thread_ident), once it has served.
    var threadIdents: [UInt]
    var requests = 0
    var lastActivity: Int64
    var lastGIL: Int64
    let started: Int64
    /// Set once: worker threads stop taking new connections.
    private var stopping = false
    /// A worker asks the supervisor for a graceful restart (e.g. startup-timeout).
    var restartReason: String?
    /// A worker asks the supervisor to stop the process now (a script to load anew).
    var shutdownReason: String?
    /// An application script has loaded in this process (startup-timeout).
    var loadedOnce = false
    /// Held around `accept` on the listener and around closing it.
    let acceptLock = Lock()
    /// The listener and the idle connections from Apache children (DaemonPoller.swift).
    let poller: DaemonPoller
    /// python-threads=: the turns to run a request (nil: every thread may at once).
    let turns: UnsafeMutablePointer<sem_t>?

    init(group: DaemonGroupConfig, listener: Int32, wakeRead: Int32, wakeWrite: Int32, poller: DaemonPoller) {
        self.group = group
        self.listener = listener
        self.poller = poller
        self.wakeRead = wakeRead
        self.wakeWrite = wakeWrite
        active = [Int64](repeating: 0, count: max(group.threads, 1))
        injectedAt = [Int64](repeating: 0, count: max(group.threads, 1))
        threadIdents = [UInt](repeating: 0, count: max(group.threads, 1))
        if group.pythonThreads > 0 && group.pythonThreads < group.threads {
            let t = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
            sem_init(t, 0, UInt32(group.pythonThreads))
            turns = t
        } else {
            turns = nil
        }
        started = monotonicMicros()
        lastActivity = started
        lastGIL = started
    }

    func locked<T>(_ body: () -> T) -> T { lock.withLock(body) }

    var stopAccepting: Bool {
        get { locked { stopping } }
        set { locked { stopping = newValue } }
    }

    var activeCount: Int { locked { active.filter { $0 != 0 }.count } }

    /// How long a request may run before the supervisor acts (mod_wsgi 6.x, per thread):
    /// request-timeout x (1 + ln threads); 0: no request-timeout. In µs.
    var requestFireThreshold: Int64 {
        guard group.requestTimeout > 0 else { return 0 }
        return Int64(Double(group.requestTimeout) * 1e6 * (1 + log(Double(max(group.threads, 1)))))
    }

    /// A request is stale once it has run past request-timeout + interrupt-timeout: it will not
    /// unwind by itself, and no graceful drain waits for it (mod_wsgi 6.x). Without a
    /// request-timeout none is. Whether a request that is not stale is running; call locked.
    func hasActiveNonStaleRequestLocked(_ now: Int64) -> Bool {
        let cutoff = Int64(group.requestTimeout + group.interruptTimeout) * 1_000_000
        return active.contains { $0 != 0 && (group.requestTimeout == 0 || now - $0 <= cutoff) }
    }

    /// A worker took a connection: it counts as active from now on (serve() sets the request's
    /// own start), unless the process stops taking requests. Under the one lock the supervisor
    /// takes to count the active workers after setting `stopping`: either it sees this worker
    /// and waits for its request, or the worker sees the stop and closes the connection unread
    /// (the Apache child sends the request again). No request is read by a process that exits
    /// without answering it.
    func claim(_ index: Int) -> Bool {
        locked {
            guard !stopping else { return false }
            active[index] = monotonicMicros()
            return true
        }
    }

    /// Takes no more connections, closes this process's hold on the listening socket once no
    /// worker is accepting on it, and wakes the workers waiting in the poller. When a restart
    /// has ended the socket's generation, nobody else holds it: connections still queued there
    /// are reset at once, and the Apache child sends the request again to the new daemon
    /// instead of waiting for a reply that never comes.
    /// The idle connections of the children's pools are closed too (the same story).
    func closeListener() {
        stopAccepting = true
        poller.closeIdle()
        acceptLock.withLock {
            if listener >= 0 {
                poller.removeListener(listener)
                _ = CWSGICore.close(listener)
                listener = -1
            }
        }
        poller.stop()
    }

    func wake() {
        var c: UInt8 = 0x77
        _ = try? syscallUnlessWouldBlock("write") { CWSGICore.write(wakeWrite, &c, 1) }  // full: already woken
    }
}
