import CWSGICore
import SystemCalls

/// What a daemon process waits on between requests: the group's listening socket and the
/// Apache children's connections kept open across requests (DaemonConnectionPool), in one
/// epoll set. An idle connection occupies no worker thread and counts as no activity. Every
/// idle worker thread waits here itself (the kernel wakes one waiter per event), takes the
/// ready connection, serves one request on it, and the connection comes back here
/// afterwards. No thread hands the wait over to another, so a request costs no lock
/// hand-off and no wake-up of a second thread; and a process has a thread waiting here
/// only when it has a free one (another process of the group takes the connection then).
///
/// Each idle connection is registered EPOLLONESHOT with a token of its own (a serial number
/// in the upper bits): an event for a connection closed meanwhile (a graceful stop closes
/// every idle one) or for a descriptor number since reused finds no connection and is dropped.
final class DaemonPoller {
    let epoll: Int32
    private let lock = Lock()
    private var idle: [UInt64: WireConnection] = [:]
    private var serial: UInt64 = 0
    private var closed = false
    /// A pipe whose read end, once written and never read, stays ready: `stop()` wakes
    /// every waiting thread with it (level-triggered, each wake-up passes it on).
    private let stopPipe: (read: Int32, write: Int32)
    static let listenerToken = UInt64.max
    static let stopToken = UInt64.max - 1

    init() throws {
        epoll = try syscall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        var fds: [Int32] = [-1, -1]
        try syscall("pipe2") { pipe2(&fds, Int32(O_CLOEXEC | O_NONBLOCK)) }
        stopPipe = (fds[0], fds[1])
        try syscall("epoll_ctl") { wsgi_epoll_add(epoll, stopPipe.read, Self.stopToken, 0, 0) }
    }

    /// The listening socket: every process of the group has it in its own set; EPOLLEXCLUSIVE
    /// wakes one of them per connection.
    func addListener(_ fd: Int32) throws {
        try syscall("epoll_ctl") { wsgi_epoll_add(epoll, fd, Self.listenerToken, 0, 1) }
    }

    func removeListener(_ fd: Int32) { _ = wsgi_epoll_remove(epoll, fd) }

    enum Ready {
        case listener
        case connection(WireConnection)
        /// A timeout, a connection closed meanwhile, or `stop()`.
        case nothing
    }

    /// Waits up to `timeoutMillis` for the listener or an idle connection to be ready. Any
    /// number of threads may wait at once; each ready connection goes to one of them.
    func next(timeoutMillis: Int32) -> Ready {
        var token: UInt64 = 0
        let n = (try? syscall("epoll_wait") { wsgi_epoll_wait_one(epoll, timeoutMillis, &token) }) ?? 0
        guard n > 0, token != Self.stopToken else { return .nothing }
        if token == Self.listenerToken { return .listener }
        return lock.withLock { idle.removeValue(forKey: token) }.map { .connection($0) } ?? .nothing
    }

    /// Puts a connection back to wait for its next request; false (and the caller closes it)
    /// once the process stops taking requests.
    func park(_ conn: WireConnection) -> Bool {
        lock.withLock {
            guard !closed else { return false }
            serial += 1
            conn.token = (serial << 24) | UInt64(UInt32(bitPattern: conn.fd) & 0xffffff)
            let rc: Int32
            if conn.registered {
                rc = wsgi_epoll_rearm(epoll, conn.fd, conn.token)
            } else {
                rc = wsgi_epoll_add(epoll, conn.fd, conn.token, 1, 0)
                conn.registered = rc == 0
            }
            guard rc == 0 else { return false }
            idle[conn.token] = conn
            return true
        }
    }

    /// The process stops taking requests: every idle connection is closed. An Apache child
    /// that has just written a request on one gets a reset (the request unread: it sends it
    /// again, to another process); one that writes later gets EPIPE (the same).
    func closeIdle() {
        let all = lock.withLock { () -> [WireConnection] in
            closed = true
            let all = Array(idle.values)
            idle.removeAll()
            return all
        }
        for c in all { c.close() }
    }

    /// Wakes every thread waiting in `next` now and any that waits later (they find the
    /// process stopping).
    func stop() {
        var c: UInt8 = 1
        _ = try? syscallUnlessWouldBlock("write") { CWSGICore.write(stopPipe.write, &c, 1) }
    }
}
