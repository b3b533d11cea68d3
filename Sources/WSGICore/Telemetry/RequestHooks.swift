import CWSGICore

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
        r.start = life.claimed
        r.serverPid = life.serverPid
        if recorder.slowThresholdMicros > 0 {
            // The environ's str values are the request's bytes decoded as latin-1 (PEP 3333):
            // encoded back, they are the bytes mod_wsgi sends. Each is cut as mod_wsgi cuts it.
            func get(_ key: String, _ bound: Int) -> [UInt8] {
                slowField(latin1Bytes(PyDict_GetItemString(environ, key)), bound)
            }
            r.method = get("REQUEST_METHOD", 16)
            let scheme = Py.swiftString(PyDict_GetItemString(environ, "wsgi.url_scheme")) ?? "http"
            r.scheme = slowField(Array(scheme.utf8), 16)
            // Apache's r->hostname: the Host header's name, lower-cased, without the port.
            var host = latin1Bytes(PyDict_GetItemString(environ, "HTTP_HOST"))
            if let colon = host.lastIndex(of: UInt8(ascii: ":")), host.last != UInt8(ascii: "]") {
                host = Array(host[..<colon])
            }
            r.hostname = slowField(host.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, 256)
            // As mod_wsgi: the URL as Apache split it (mod_wsgi.script_name/path_info) when known.
            r.scriptName = get("mod_wsgi.script_name", 256)
            if r.scriptName.isEmpty { r.scriptName = get("SCRIPT_NAME", 256) }
            r.pathInfo = get("mod_wsgi.path_info", 512)
            if r.pathInfo.isEmpty { r.pathInfo = get("PATH_INFO", 512) }
            r.protocolName = get("SERVER_PROTOCOL", 16)
            r.peerIP = get("REMOTE_ADDR", 46)
            r.logID = get("mod_wsgi.request_id", 64)
            if recorder.captureUserAgent { r.userAgent = get("HTTP_USER_AGENT", 512) }
        }
        life.telemetryCPU = RequestLife.threadCPU()
        life.liveGIL = recorder.begin(r)
    }

    /// A str's latin-1 bytes (a request's own bytes, per PEP 3333); empty if not a str.
    static func latin1Bytes(_ o: PyObj?) -> [UInt8] {
        guard let o, wsgi_unicode_check(o) != 0 else { return [] }
        guard let b = PyUnicode_AsLatin1String(o) else {
            // Not latin-1 (an application rewrote it): its UTF-8, as a C string would carry it.
            PyErr_Clear()
            return Array((Py.swiftString(o) ?? "").utf8)
        }
        defer { wsgi_decref(b) }
        return Array(UnsafeRawBufferPointer(start: PyBytes_AsString(b), count: PyBytes_Size(b)))
    }

    /// mod_wsgi's wsgi_slow_copy_str: a field of `capacity` bytes with its NUL, so at most
    /// capacity - 1 bytes; a longer value keeps capacity - 4 bytes and ends in "...".
    static func slowField(_ bytes: [UInt8], _ capacity: Int) -> [UInt8] {
        guard bytes.count >= capacity else { return bytes }
        return Array(bytes.prefix(capacity - 4)) + Array("...".utf8)
    }

    /// The request is over (after the response was sent and close() ran).
    static func requestFinished(_ life: RequestLife, request: WSGIRequest, status: Int32, finish: Int64) {
        guard let recorder = shared else { return }
        let cpu = RequestLife.threadCPU()
        let user = max(cpu.0 - life.telemetryCPU.0, 0), system = max(cpu.1 - life.telemetryCPU.1, 0)
        recorder.end(
            Finished(
                threadID: life.threadID, claimed: life.claimed, requestStart: Int64(life.times.requestStart * 1e6),
                queueStart: Int64(life.times.queueStart * 1e6), daemonStart: Int64(life.times.daemonStart * 1e6),
                applicationStart: life.appStart, applicationFinish: finish,
                status: Int(request.status != 0 ? request.status : status),
                inputBytes: request.bytesRead, inputReads: life.inputReads, outputBytes: Int(request.bytesSent),
                outputWrites: life.outputWrites, inputReadMicros: life.inputTime, outputWriteMicros: life.outputTime,
                gilWaitMicros: life.gilWaitTime, gilWaitCount: life.gilWaitCount,
                cpuMicros: Int64((user + system) * 1e6), cpuUser: user, cpuSystem: system))
    }
}
