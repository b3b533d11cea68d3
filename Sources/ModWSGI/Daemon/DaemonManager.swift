import CModWSGI

/// Daemon process groups (WSGIDaemonProcess): forked and supervised by the Apache parent.
enum DaemonManager {
    static func postConfig(pconf: OpaquePointer?, ptemp: OpaquePointer?, server: UnsafeMutablePointer<server_rec>) -> Int32 {
        OK
    }
}

/// The Apache child's side of daemon mode: forwards a request to its process group.
enum DaemonClient {
    static func forward(_ r: UnsafeMutablePointer<request_rec>, group: String, scriptPath: String) -> Int32 {
        Log.request(APLOG_ERR, .processGroupMissing, "No WSGI daemon process called '\(group)' has been configured: \(scriptPath)", r)
        return HTTP_INTERNAL_SERVER_ERROR
    }
}
