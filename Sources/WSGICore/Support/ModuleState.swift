import CWSGICore

/// Process-wide state. Written in single-threaded phases (pre_config, post_config,
/// child_init, a daemon process's start); read afterwards. The Apache module adds Apache's
/// own (the main server_rec, the child's pool: ModWSGI, Support/Apache.swift).
package enum ModuleState {
    nonisolated(unsafe) package static var multithread = true
    nonisolated(unsafe) package static var multiprocess = true
    nonisolated(unsafe) package static var maximumProcesses = 1
    nonisolated(unsafe) package static var threadsPerProcess = 1
    /// The daemon process group this process serves ("" in Apache's children).
    nonisolated(unsafe) package static var processGroup = ""
    /// The daemon group's home= directory (also puts '' first on sys.path).
    nonisolated(unsafe) package static var daemonHome: String? = nil
    /// Requests handled by this process (mod_wsgi.total_requests); changed under the GIL.
    nonisolated(unsafe) package static var totalRequests = 0
}
