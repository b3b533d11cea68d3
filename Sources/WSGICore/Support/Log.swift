import CWSGICore

/// Every line the module writes carries a message identifier, like Apache's AH01234,
/// so users can search for it and tests can match it. Numbers are stable once released.
package enum LogID: Int {
    // Python in a process (10xx).
    case pythonInitFailed = 1001
    case pythonHomeUnreadable = 1002
    case pythonInitialised = 1003
    case interpreterCreated = 1004
    case interpreterDestroyed = 1005
    case pythonFinalized = 1006
    case interpreterSetupFailed = 1007
    case pythonNotStarted = 1050
    case interpreterCreateFailed = 1051
    // Requests and scripts (11xx).
    case embeddedRestricted = 1101
    case scriptNotFound = 1102
    case scriptLoadFailed = 1103
    case scriptReloaded = 1104
    case callableMissing = 1105
    case exceptionInApp = 1106
    case truncatedResponse = 1108
    case clientGone = 1109
    case chunkedRefused = 1110
    case importScriptFailed = 1111
    case processGroupMissing = 1114
    case processGroupRestricted = 1115
    case processGroupOtherHost = 1125
    case pythonUnavailable = 1150
    case handlerScriptNotFound = 1151
    case scriptIsDirectory = 1152
    case scriptUnreadable = 1153
    case importScriptNotFound = 1155
    case clientGoneDuringRelay = 1156
    case clientGoneAfterFlush = 1157
    case requestBodyUnreadable = 1158
    case requestBodyFailed = 1131
    // Daemon mode (12xx).
    case daemonRequestUnreadable = 1201
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
    case daemonThreadFailed = 1250
    case daemonStartupFailed = 1251
    case daemonForkFailed = 1252
    case daemonPriority = 1253
    case daemonLocale = 1254
    case daemonSocketFailed = 1255
    case daemonSocketPathTooLong = 1256
    case daemonSocketCreateFailed = 1257
    case daemonSocketGone = 1258
    case daemonConnectFailed = 1259
    case daemonSendFailed = 1260
    case daemonResponseEndedEarly = 1261
    case daemonBadResponseHeaders = 1262
    case daemonStackFrame = 1263
    case daemonStackCaller = 1264
    case daemonDeadlock = 1265
    case daemonShutdownTimeout = 1266
    case daemonExiting = 1267
    case daemonFinalizeTimeout = 1268
    case daemonKilled = 1269
    case daemonRespawn = 1270
    case daemonServiceReplaced = 1271
    case daemonScriptNotFound = 1272
    case daemonPooledConnectionGone = 1273
    case daemonRetry = 1231
    case daemonWrongGroup = 1232
    // Hook scripts (13xx).
    case hookScriptFailed = 1301
    case hookException = 1302
    case hookBadResult = 1303
    case accessDenied = 1304
    case groupAuthorization = 1305
    case dispatchFailed = 1306
    case directiveWithoutEffect = 1307
    case proxyHeaderIgnored = 1308
    case directiveWithoutEffectInHtaccess = 1309
    case authBasicWithoutScript = 1310
    case authDigestWithoutScript = 1311
    case groupRequireWithoutScript = 1312
    case hookWithoutPython = 1313
    case hookFunctionMissing = 1314
    case groupsBadResult = 1315
    case groupsBadItem = 1316
    case groupWithoutGroups = 1317
    case dispatchBadGroup = 1318
    case eventCallbackFailed = 1401
    case scriptLoading = 1402
    case reloadRequiredFailed = 1403
    case requestInterrupted = 1405
    case daemonRequestInterrupting = 1406
    case metricsBoardFailed = 1501
    case metricsBoardFull = 1502
    case metricsDenied = 1503
    case metricsBoardResized = 1504
    // mod_wsgi 6.1's request handling (issue 23).
    case daemonScriptReload = 1601
    case daemonRestartConnects = 1602
    case daemonRequestTimeoutDraining = 1603
    case daemonRequestTimeoutInjected = 1604
    case daemonRequestTimeoutStopping = 1605
    case daemonClosedBeforeHeaders = 1606
    case daemonDrainDone = 1607
    case daemonDrainTimeout = 1608
    case closeLookupFailed = 1609
    case wsgiErrorsFailed = 1610
    case requestInterruptedAfterHeaders = 1611
    // mod_wsgi 6.1's interpreter options and telemetry (17xx).
    case switchIntervalSet = 1701
    case switchIntervalSkipped = 1702
    case subInterpreterSwitchIntervalSkipped = 1790
    case switchIntervalFailed = 1703
    case freeThreadingActive = 1704
    case perInterpreterGILSkipped = 1705
    case subInterpreterSwitchIntervalNoGIL = 1707
    case telemetryStarted = 1710
    case telemetryOpenFailed = 1711
    case telemetryThreadFailed = 1712
    case telemetryDropped = 1713
    // Drain and health (18xx).
    case drainStarted = 1800
    case drainAbandoned = 1801
    case drainFinished = 1802
    case drainCut = 1803
    case daemonDrainCut = 1804
    case healthDenied = 1805
    case lifecycleBoardFailed = 1806
    case drainKilled = 1807
    // What hostile applications do (19xx).
    case forkedChildReturned = 1901
    case connectionClosedByApp = 1902
    // A daemon process in the application's Python executable (issue 29: 2000-2099).
    case daemonPythonPlan = 2001
    case daemonPythonFallback = 2002
    case metricsBoardAttachFailed = 2003
    case daemonRuntimeFailed = 2004
    case daemonStartRecordFailed = 2005
    case daemonExecFailed = 2006
    case daemonScoreboardMapFailed = 2007
    case pythonAdopted = 2008
    case lifecycleBoardAttachFailed = 2010
    case daemonPythonRefused = 2011
    // Requests sent again across daemon restarts (195x).
    case daemonRestartsExhausted = 1950

    /// The application's script could not be loaded (daemon startup-timeout counts these).
    package var isScriptLoadFailure: Bool { self == .scriptLoadFailed || self == .scriptUnreadable }

    package var tag: String { "MW\(rawValue): " }
}

/// One format for every line the module writes: `MWnnnn: text`, where the text is mod_wsgi
/// 6.1's where mod_wsgi writes the same line (6.x dropped 4.9's `mod_wsgi (pid=N): `: Apache's
/// `[pid N:tid N]` says it). A line about a request names its script first, as 6.x does:
/// `MWnnnn: [script /path] text`. A message of several lines (a traceback) is written line by
/// line, each with the same ID, so that `grep MW1106` finds all of it and no line of it is
/// anonymous; only the first names the script.
///
/// Where the lines go is the process's `sink`: in Apache's processes (and a daemon process
/// Apache forked) the Apache module's, ap_log_error on the server of that index in Apache's
/// list (0: the main server; a daemon's lines about a request go to the ErrorLog of the
/// <VirtualHost> that took it, as mod_wsgi 6.0.1); in a daemon process that runs the
/// application's Python executable, the daemon runtime's, which writes the error log Apache
/// opened, formatted as Apache formats it. The Apache module adds the variants for a given
/// server_rec or request_rec (ModWSGI, Support/ApacheLog.swift).
package enum Log {
    /// Writes one line (no newline) at a level (APLOG_*), with an errno-like status or 0, to
    /// the error log of the server at `server` in Apache's list (0: the main server).
    package typealias Sink = (_ level: Int32, _ status: Int32, _ server: Int, _ line: String) -> Void

    /// Until a host sets its own: stderr, which is Apache's error log in its processes.
    nonisolated(unsafe) package static var sink: Sink = { _, _, _, line in
        let text = line + "\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }

    package static func server(
        _ level: Int32, _ id: LogID, _ message: String, status: apr_status_t = 0, server: Int = 0
    ) {
        let prefix = id.tag
        for line in lines(message) { sink(level, status, server, prefix + line) }
    }

    /// A line about a request from a daemon process, which has no request_rec: Apache's
    /// `[remote ip:port]` (as mod_wsgi's daemon lines show it) is written here, before the ID.
    package static func daemonRequest(
        _ level: Int32, _ id: LogID, _ message: String, client: String, script: String, server: Int = 0
    ) {
        let remote = "[remote " + client + "] "
        var first = true
        for line in lines(message) {
            let text = first ? scriptTag(script) + line : line
            first = false
            sink(level, 0, server, remote + id.tag + text)
        }
    }

    /// `[script /path] `, as mod_wsgi 6.x writes before what it logs about a request whose
    /// script (Apache's filename) is known; empty when it is not.
    package static func scriptTag(_ filename: String) -> String {
        filename.isEmpty ? "" : "[script " + filename + "] "
    }

    /// The lines of a message; one line (the common case) without copying.
    package static func lines(_ message: String) -> [Substring] {
        guard message.utf8.contains(UInt8(ascii: "\n")) else { return [message[...]] }
        return message.split(separator: "\n", omittingEmptySubsequences: true)
    }

    /// A line of the application's own output (wsgi.errors, sys.stdout/stderr, print()),
    /// written as the application wrote it, as mod_wsgi does (a caller about a request puts
    /// the script's tag first).
    package static func raw(_ level: Int32, _ message: String, server: Int = 0) {
        sink(level, 0, server, message)
    }
}
