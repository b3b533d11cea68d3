import CModWSGI
import SystemCalls
import WSGICore

/// An Apache child's idle connections to daemon processes, reused across requests instead
/// of a connect and an accept per request. Keyed by socket path: a group in one
/// configuration generation (with WSGISocketRotation On each generation has its own path).
///
/// The story of a pooled connection whose daemon went away (see DaemonClient.forward): a
/// daemon that stops (restart, maximum-requests, inactivity-timeout, a crash) closes its idle
/// connections, or the kernel does; the child's next request on one gets EPIPE when writing,
/// or a reset when the daemon closed it with the request unread. Either way the daemon never
/// read the request, so the child drops the pool of that path and sends the request again on
/// a new connection. A request the daemon has read is never sent again. A child that is
/// stopping (graceful restart of Apache, MaxConnectionsPerChild) keeps no connection.
enum DaemonConnectionPool {
    private static let lock = Lock()
    nonisolated(unsafe) private static var idle: [String: [WireConnection]] = [:]

    /// The most recently used idle connection to `path`, if any.
    static func take(_ path: String) -> WireConnection? {
        lock.withLock { idle[path]?.popLast() }
    }

    /// Keeps a connection whose exchange ended cleanly ('Z' read, nothing unread), up to
    /// `capacity` per path; otherwise closes it.
    static func give(_ conn: WireConnection, path: String, capacity: Int) {
        var state: Int32 = 0
        ap_mpm_query(AP_MPMQ_MPM_STATE, &state)
        if state != AP_MPMQ_STOPPING && !conn.hasBufferedInput {
            let kept = lock.withLock { () -> Bool in
                if idle[path, default: []].count >= capacity { return false }
                idle[path, default: []].append(conn)
                return true
            }
            if kept { return }
        }
        conn.close()
    }

    /// Closes every idle connection to `path` (their daemon is gone or stopping).
    static func drop(_ path: String) {
        let all = lock.withLock { idle.removeValue(forKey: path) ?? [] }
        for c in all { c.close() }
    }
}
