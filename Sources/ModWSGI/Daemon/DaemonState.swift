import CModWSGI

/// State shared by the threads of one daemon process. Guarded by `lock`.
final class DaemonState {
    private let lock = Lock()
    let group: DaemonGroupConfig
    let listener: Int32
    let wakeRead: Int32
    let wakeWrite: Int32
    /// Start (monotonic µs) of the request each worker is running; 0: idle.
    var active: [Int64]
    var requests = 0
    var lastActivity: Int64
    var lastGIL: Int64
    let started: Int64
    /// Set once: worker threads stop taking new connections.
    private var stopping = false
    /// A worker asks the supervisor for a graceful restart (e.g. startup-timeout).
    var restartReason: String?
    /// An application script has loaded in this process (startup-timeout).
    var loadedOnce = false
    /// One worker thread at a time waits for a connection.
    let acceptLock = Lock()

    init(group: DaemonGroupConfig, listener: Int32, wakeRead: Int32, wakeWrite: Int32) {
        self.group = group
        self.listener = listener
        self.wakeRead = wakeRead
        self.wakeWrite = wakeWrite
        active = [Int64](repeating: 0, count: max(group.threads, 1))
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

    func wake() {
        var c: UInt8 = 0x77
        _ = try? syscallUnlessWouldBlock("write") { CModWSGI.write(wakeWrite, &c, 1) }  // full: already woken
    }
}
