import CModWSGI
import WSGICore

/// The Apache module's side of logging: the sink of every Apache process (ap_log_error on the
/// main server, so LogLevel, ErrorLogFormat, piped and syslog logs all apply), and the
/// variants for a given virtual host or request (the client's address in the line).
extension Log {
    /// Installed when the module is configured (pre_config), before any line is written.
    static func useApache() {
        sink = { level, status, line in wsgi_log_error(level, status, UnsafePointer(ModuleState.mainServer), line) }
    }

    static func server(
        _ level: Int32, _ id: LogID, _ message: String, status: apr_status_t = 0,
        _ s: UnsafePointer<server_rec>?
    ) {
        let prefix = id.tag + "mod_wsgi (pid=\(getpid())): "
        for line in lines(message) {
            wsgi_log_error(level, status, s ?? UnsafePointer(ModuleState.mainServer), prefix + line)
        }
    }

    static func request(
        _ level: Int32, _ id: LogID, _ message: String, status: apr_status_t = 0,
        _ r: UnsafeMutablePointer<request_rec>
    ) {
        let prefix = id.tag + "mod_wsgi (pid=\(getpid())): "
        for line in lines(message) { wsgi_log_rerror(level, status, r, prefix + line) }
    }

}
