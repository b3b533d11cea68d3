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
    /// Requests handled by this process (mod_wsgi.total_requests); changed under the GIL.
    nonisolated(unsafe) static var totalRequests = 0
}
