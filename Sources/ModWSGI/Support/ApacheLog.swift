import CModWSGI
import WSGICore

/// The Apache module's side of logging: the sink of every Apache process (ap_log_error on the
/// main server or the <VirtualHost> of that index, so LogLevel, ErrorLogFormat, piped and
/// syslog logs all apply), and the variants for a given virtual host or request (the client's
/// address in the line, the script's tag first).
extension Log {
    /// Installed when the module is configured (pre_config), before any line is written.
    static func useApache() {
        sink = { level, status, server, line in
            let s = server == 0 ? UnsafePointer(ModuleState.mainServer) : ServerIndex.server(at: server)
            wsgi_log_error(level, status, s, line)
        }
    }

    static func server(
        _ level: Int32, _ id: LogID, _ message: String, status: apr_status_t = 0,
        _ s: UnsafePointer<server_rec>?
    ) {
        let prefix = id.tag
        for line in lines(message) {
            wsgi_log_error(level, status, s ?? UnsafePointer(ModuleState.mainServer), prefix + line)
        }
    }

    static func request(
        _ level: Int32, _ id: LogID, _ message: String, status: apr_status_t = 0,
        _ r: UnsafeMutablePointer<request_rec>
    ) {
        var first = true
        for line in lines(message) {
            let text = first ? scriptTag(r.pointee.filename) + line : line
            first = false
            wsgi_log_rerror(level, status, r, id.tag + text)
        }
    }

    /// `[script /path] ` for Apache's filename of a request; empty when it has none.
    static func scriptTag(_ filename: UnsafePointer<CChar>?) -> String {
        guard let filename, filename.pointee != 0 else { return "" }
        return "[script " + String(cString: filename) + "] "
    }

    /// The application's own output about a request (embedded mode), after the script's tag.
    static func raw(_ level: Int32, _ message: String, request r: UnsafeMutablePointer<request_rec>) {
        wsgi_log_rerror(level, 0, r, scriptTag(r.pointee.filename) + message)
    }
}
