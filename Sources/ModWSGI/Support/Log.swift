import CModWSGI

/// Every line the module writes carries a message identifier, like Apache's AH01234,
/// so users can search for it and tests can match it. Numbers are stable once released.
enum LogID: Int {
    case pythonInitFailed = 1001
    case pythonHomeUnreadable = 1002
    case pythonInitialised = 1003
    case interpreterCreated = 1004
    case interpreterDestroyed = 1005
    case pythonFinalized = 1006
    case embeddedRestricted = 1101
    case scriptNotFound = 1102
    case scriptLoadFailed = 1103
    case scriptReloaded = 1104
    case callableMissing = 1105
    case exceptionInApp = 1106
    case badResponse = 1107
    case truncatedResponse = 1108
    case clientGone = 1109
    case chunkedRefused = 1110
    case importScriptFailed = 1111
    case closeFailed = 1112
    case stdoutLine = 1113
    case processGroupMissing = 1114
    case processGroupRestricted = 1115
    case processGroupOtherHost = 1125
    case errorsLine = 1116
    case requestBodyFailed = 1131
    case daemon = 1201
    case daemonStarted = 1202
    case daemonExited = 1203
    case daemonSocket = 1204
    case daemonTimeout = 1205
    case daemonConnect = 1206
    case daemonStackDump = 1207
    case daemonLimits = 1208
    case daemonHeaderTooLarge = 1209
    case daemonQueueTimeout = 1210
    case daemonShutdown = 1211
    case daemonConfig = 1212
    case daemonIdentity = 1213
    case daemonServiceExit = 1214
    case daemonRestart = 1215
    case daemonRequestTimeout = 1216
    case daemonRetry = 1231
    case daemonWrongGroup = 1232
    case hookScriptFailed = 1301
    case hookException = 1302
    case hookBadResult = 1303
    case accessDenied = 1304
    case groupAuthorization = 1305
    case dispatchFailed = 1306
    case directiveWithoutEffect = 1307
    case proxyHeaderIgnored = 1308

    var tag: String { "MW\(rawValue): " }
}

enum Log {
    static func server(_ level: Int32, _ id: LogID, _ message: String, status: apr_status_t = 0,
                       _ s: UnsafePointer<server_rec>? = nil) {
        let line = id.tag + "mod_wsgi (pid=\(getpid())): " + message
        wsgi_log_error(level, status, s ?? UnsafePointer(ModuleState.mainServer), line)
    }

    static func request(_ level: Int32, _ id: LogID, _ message: String, status: apr_status_t = 0,
                        _ r: UnsafeMutablePointer<request_rec>) {
        let line = id.tag + "mod_wsgi (pid=\(getpid())): " + message
        wsgi_log_rerror(level, status, r, line)
    }

    /// A line without the module prefix (traceback lines, wsgi.errors, print()).
    static func raw(_ level: Int32, _ message: String, request r: UnsafeMutablePointer<request_rec>? = nil) {
        if let r { wsgi_log_rerror(level, 0, r, message) } else {
            wsgi_log_error(level, 0, ModuleState.mainServer, message)
        }
    }
}

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
