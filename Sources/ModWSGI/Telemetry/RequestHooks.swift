import CModWSGI

/// Where requests meet telemetry: RequestLife calls these (GIL held) only when
/// `TelemetryRecorder.enabled`, so telemetry off costs one test of a global per request.
extension TelemetryRecorder {
    /// The application is about to run.
    static func requestBegan(_ life: RequestLife, environ: PyObj) {
        guard let recorder = shared else { return }
        var r = RunningRequest()
        r.threadID = life.threadID
        r.requestStart = Int64(life.times.requestStart * 1e6)
        r.queueStart = Int64(life.times.queueStart * 1e6)
        r.daemonStart = Int64(life.times.daemonStart * 1e6)
        r.applicationStart = life.appStart
        r.start = r.requestStart > 0 ? r.requestStart : life.appStart
        if !recorder.daemonMode { r.serverPid = UInt32(getpid()) }
        if recorder.slowThresholdMicros > 0 {
            func get(_ key: String) -> String { Py.swiftString(PyDict_GetItemString(environ, key)) ?? "" }
            r.method = get("REQUEST_METHOD")
            r.scheme = get("wsgi.url_scheme")
            r.hostname = get("HTTP_HOST")
            if r.hostname.isEmpty { r.hostname = get("SERVER_NAME") }
            if let colon = r.hostname.lastIndex(of: ":"), !r.hostname.hasSuffix("]") {
                r.hostname = String(r.hostname[..<colon])
            }
            // As mod_wsgi: the URL as Apache split it (mod_wsgi.script_name/path_info) when known.
            r.scriptName = get("mod_wsgi.script_name")
            if r.scriptName.isEmpty { r.scriptName = get("SCRIPT_NAME") }
            r.pathInfo = get("mod_wsgi.path_info")
            if r.pathInfo.isEmpty { r.pathInfo = get("PATH_INFO") }
            r.protocolName = get("SERVER_PROTOCOL")
            r.peerIP = get("REMOTE_ADDR")
            r.logID = get("mod_wsgi.request_id")
            if recorder.captureUserAgent { r.userAgent = String(get("HTTP_USER_AGENT").prefix(511)) }
            if recorder.daemonMode, let pid = UInt32(get("mod_wsgi.server_pid")) { r.serverPid = pid }
        }
        life.telemetryCPU = RequestLife.threadCPU()
        recorder.begin(r)
    }

    /// The request is over (after the response was sent and close() ran).
    static func requestFinished(_ life: RequestLife, request: WSGIRequest, status: Int32, finish: Int64) {
        guard let recorder = shared else { return }
        let cpu = RequestLife.threadCPU()
        let user = max(cpu.0 - life.telemetryCPU.0, 0), system = max(cpu.1 - life.telemetryCPU.1, 0)
        recorder.end(
            Finished(
                threadID: life.threadID, requestStart: Int64(life.times.requestStart * 1e6),
                queueStart: Int64(life.times.queueStart * 1e6), daemonStart: Int64(life.times.daemonStart * 1e6),
                applicationStart: life.appStart, applicationFinish: finish,
                status: Int(request.status != 0 ? request.status : status),
                inputBytes: request.bytesRead, inputReads: life.inputReads, outputBytes: Int(request.bytesSent),
                outputWrites: life.outputWrites, inputReadMicros: life.inputTime, outputWriteMicros: life.outputTime,
                gilWaitMicros: life.gilWaitTime, gilWaitCount: life.gilWaitCount,
                cpuMicros: Int64((user + system) * 1e6), cpuUser: user, cpuSystem: system))
    }
}
