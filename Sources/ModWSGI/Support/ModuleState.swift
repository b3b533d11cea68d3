import CModWSGI

/// Module-wide state. Written in single-threaded phases (pre_config, post_config,
/// child_init); read afterwards.
enum ModuleState {
    nonisolated(unsafe) static var mainServer: UnsafeMutablePointer<server_rec>? = nil
    nonisolated(unsafe) static var childPool: OpaquePointer? = nil
    nonisolated(unsafe) static var multithread = true
    nonisolated(unsafe) static var multiprocess = true
    nonisolated(unsafe) static var maximumProcesses = 1
    nonisolated(unsafe) static var threadsPerProcess = 1
    /// The daemon process group this process serves ("" in Apache's children).
    nonisolated(unsafe) static var processGroup = ""
    /// The daemon group's home= directory (also puts '' first on sys.path).
    nonisolated(unsafe) static var daemonHome: String? = nil
    /// Requests handled by this process; changed under the GIL.
    nonisolated(unsafe) static var totalRequests = 0
    /// This process's pid, and as a C string in the child's pool (the environ's
    /// mod_wsgi.server_pid): set by `noteProcess()` in each child and daemon process.
    nonisolated(unsafe) static var pid: Int32 = 0
    nonisolated(unsafe) static var pidString: UnsafePointer<CChar>? = nil

    /// In a new process (an Apache child, a daemon process): its pid.
    static func noteProcess(pool: OpaquePointer?) {
        pid = getpid()
        pidString = UnsafePointer(String(pid).pooled(pool))
    }
}
