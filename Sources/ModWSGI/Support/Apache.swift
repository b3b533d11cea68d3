import CModWSGI
import WSGICore

/// ap_mpm_query's answer to `query` (0 when the MPM does not know).
func mpmQuery(_ query: Int32) -> Int32 {
    var value: Int32 = 0
    _ = ap_mpm_query(query, &value)
    return value
}

/// An APR status as text (apr_strerror).
func aprError(_ status: apr_status_t) -> String {
    var buf = [CChar](repeating: 0, count: 256)
    apr_strerror(status, &buf, buf.count)
    return String(cString: buf)
}

extension String {
    /// A copy of the string in an APR pool (lives as long as the pool).
    func pooled(_ pool: OpaquePointer?) -> UnsafeMutablePointer<CChar> {
        withCString { apr_pstrdup(pool, $0) }
    }
}

/// Apache's own process-wide state, beside WSGICore's.
extension ModuleState {
    nonisolated(unsafe) static var mainServer: UnsafeMutablePointer<server_rec>? = nil
    nonisolated(unsafe) static var childPool: OpaquePointer? = nil
    /// This process's pid, and as a C string in the child's pool (the environ's
    /// mod_wsgi.server_pid): set by `noteProcess()` in each Apache child.
    nonisolated(unsafe) static var pid: Int32 = 0
    nonisolated(unsafe) static var pidString: UnsafePointer<CChar>? = nil

    /// In a new Apache child: its pid.
    static func noteProcess(pool: OpaquePointer?) {
        pid = getpid()
        pidString = UnsafePointer(String(pid).pooled(pool))
    }
}
