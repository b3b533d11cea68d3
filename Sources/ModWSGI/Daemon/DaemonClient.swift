import CModWSGI

/// The Apache child's side of daemon mode: connects to the process group's socket,
/// sends the CGI environment, then serves the daemon's frames: body reads ('R') from
/// Apache's input filters, the response head and body to Apache's output filters.
/// Both bodies stream in blocks; no Python here.
enum DaemonClient {
    static func forward(_ r: UnsafeMutablePointer<request_rec>, group name: String, scriptPath: String,
                        errorOverride: Bool = false) -> Int32 {
        guard let group = GlobalConfig.current.daemonGroups.first(where: { $0.name == name }),
              let path = DaemonManager.socketPaths[name] else {
            Log.request(APLOG_ERR, .processGroupMissing, "No WSGI daemon process called '\(name)' has been configured: \(scriptPath)", r)
            return HTTP_INTERNAL_SERVER_ERROR
        }
        let env = r.pointee.subprocess_env
        let queueStart = wsgi_now()
        apr_table_set(env, "mod_wsgi.queue_start", String(queueStart))

        // Connect, retrying while the listen queue is full (EAGAIN) or nobody listens yet.
        let connectTimeout = Int64(max(group.connectTimeout, 0)) * 1_000_000
        let started = monotonicMicros()
        var attempts = 0
        var waited: Int64 = 0
        var fd: Int32 = -1
        guard let addr = unixAddress(path) else {
            Log.request(APLOG_ERR, .daemonSocket, "Socket path '\(path)' of daemon process group '\(name)' is too long.", r)
            return HTTP_INTERNAL_SERVER_ERROR
        }
        while true {
            attempts += 1
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            if fd < 0 {
                Log.request(APLOG_ERR, .daemonConnect, "Unable to create socket to connect to WSGI daemon process '\(name)': \(String(cString: strerror(wsgi_errno()))).", r)
                return HTTP_INTERNAL_SERVER_ERROR
            }
            var a = addr
            let rc = wsgi_connect_un(fd, &a)
            if rc == 0 { break }
            let e = wsgi_errno()
            close(fd); fd = -1
            if e == EINTR { continue }
            if e == ENOENT && GlobalConfig.current.socketRotation {
                // Sockets exist for a whole configuration generation: this one has ended
                // (Apache restarted, WSGISocketRotation On); waiting will not bring it back.
                Log.request(APLOG_ERR, .daemonConnect, "The socket '\(path)' of WSGI daemon process '\(name)' is gone: Apache was restarted while this request was in an old child process (WSGISocketRotation On).", r)
                return HTTP_SERVICE_UNAVAILABLE
            }
            if e == EAGAIN || e == ECONNREFUSED || e == ENOENT {
                if monotonicMicros() - started < connectTimeout {
                    let pause: Int64 = waited < 2_000_000 ? 125_000 : 1_000_000
                    sleepMicros(pause)
                    waited += pause
                    continue
                }
                Log.request(APLOG_ERR, .daemonConnect, "Unable to connect to WSGI daemon process '\(name)' on '\(path)' after \(attempts) attempts within connect-timeout of \(group.connectTimeout) seconds, as the listener backlog limit was exceeded or the socket does not exist: \(String(cString: strerror(e))).", r)
                return HTTP_SERVICE_UNAVAILABLE
            }
            Log.request(APLOG_ERR, .daemonConnect, "Unable to connect to WSGI daemon process '\(name)' on '\(path)' as user with uid=\(geteuid()): \(String(cString: strerror(e))).", r)
            return HTTP_SERVICE_UNAVAILABLE
        }
        apr_table_set(env, "mod_wsgi.daemon_connects", String(attempts))
        apr_table_set(env, "mod_wsgi.daemon_restarts", "0")

        let socketTimeout = group.socketTimeout > 0 ? Int64(group.socketTimeout) * 1_000_000 : Int64(r.pointee.server.pointee.timeout)
        let conn = WireConnection(fd: fd, timeout: socketTimeout)
        defer { conn.close() }

        var req = DaemonRequest()
        req.scriptPath = scriptPath
        req.callableObject = str(apr_table_get(env, "mod_wsgi.callable_object")) ?? "application"
        req.applicationGroup = str(apr_table_get(env, "mod_wsgi.application_group")) ?? ""
        req.reloading = str(apr_table_get(env, "mod_wsgi.script_reloading")) != "0"
        req.enableSendfile = str(apr_table_get(env, "mod_wsgi.enable_sendfile")) == "1"
        req.scheme = str(apr_table_get(r.pointee.notes, "mod_wsgi.url_scheme")) ?? str(ap_run_http_scheme(r)) ?? "http"
        let c = r.pointee.connection!
        req.client = "\(str(c.pointee.client_ip) ?? "-"):\(c.pointee.client_addr?.pointee.port ?? 0)"
        req.isHEAD = r.pointee.header_only != 0
        req.queueStart = Int64(queueStart)
        let headersIn = r.pointee.headers_in
        let te = str(apr_table_get(headersIn, "Transfer-Encoding"))?.lowercased() ?? ""
        let cl = Int64(str(apr_table_get(headersIn, "Content-Length"))?.trimmingSpaces ?? "") ?? 0
        req.hasBody = isChunked(te) || cl > 0
        _ = req.addTable(env)

        do {
            try conn.send(.request, req.encode())
        } catch {
            Log.request(APLOG_ERR, .daemonConnect, "Unable to send request details to WSGI daemon process '\(name)' on '\(path)': \(error).", r)
            return HTTP_INTERNAL_SERVER_ERROR
        }
        return relay(r, conn: conn, group: group, errorOverride: errorOverride)
    }

    /// Serves the daemon's frames until 'Z'. Returns the handler status.
    /// With WSGIErrorOverride On an error status (4xx/5xx) from the application is returned to
    /// Apache, which then sends its own error document; the application's body is discarded.
    private static func relay(_ r: UnsafeMutablePointer<request_rec>, conn: WireConnection, group: DaemonGroupConfig,
                              errorOverride: Bool) -> Int32 {
        let name = group.name
        let apache = ApacheChannel(r)
        var headersSent = false
        var overridden: Int32?
        let blockSize = max(4096, min(group.responseBufferSize, 1 << 20))
        var buffer = [UInt8](repeating: 0, count: blockSize)
        while true {
            let type: Frame, length: Int
            do {
                (type, length) = try conn.readHeader()
            } catch {
                return lost(r, error, name: name, headersSent: headersSent)
            }
            do {
                switch type {
                case .read:
                    let want = Int(try decodeInt32(try conn.readPayload(length)))
                    let n = min(max(want, 1), buffer.count)
                    let got = buffer.withUnsafeMutableBytes { apache.read($0.baseAddress!, n) }
                    if got > 0 {
                        try buffer.withUnsafeBytes { try conn.send(.data, UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
                    } else if got == 0 {
                        try conn.send(.bodyEnd)
                    } else {
                        try conn.send(.bodyEnd, Array(apache.lastError.utf8))
                    }
                case .headers:
                    let head = try DaemonResponseHead.decode(try conn.readPayload(length))
                    for h in head.headers where h.name.count + h.value.count + 2 > group.headerBufferSize {
                        let shown = String(decoding: h.name.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
                        Log.request(APLOG_ERR, .daemonHeaderTooLarge, "Response header '\(shown)' from daemon process '\(name)' is \(h.name.count + h.value.count) bytes, more than header-buffer-size=\(group.headerBufferSize) allows; returning 500.", r)
                        return HTTP_INTERNAL_SERVER_ERROR
                    }
                    if errorOverride && head.status >= 400 {
                        overridden = head.status
                        continue
                    }
                    headersSent = true
                    _ = apache.sendHeaders(status: head.status, statusLine: head.statusLine, headers: head.headers)
                case .data where overridden != nil, .flush where overridden != nil:
                    _ = try conn.readPayload(length)
                case .data, .flush:
                    var left = length
                    while left > 0 {
                        let n = min(left, buffer.count)
                        try buffer.withUnsafeMutableBytes { try conn.readExactly($0.baseAddress!, n) }
                        left -= n
                        let ok = buffer.withUnsafeBytes { apache.write($0.baseAddress!, n, flush: type == .flush && left == 0) }
                        if !ok {
                            // The client went away: keep the application's status, stop relaying;
                            // closing the socket tells the daemon (its write fails, close() is called).
                            Log.request(APLOG_INFO, .clientGone, "Client closed the connection before the response from daemon process '\(name)' was complete.", r)
                            return OK
                        }
                    }
                    // Nothing more from the daemon right now: send what Apache holds (PEP 3333:
                    // no block may wait for the next one), as a proxy does.
                    if (type == .flush || !conn.hasPendingInput()) && !apache.write(buffer, 0, flush: true) {
                        Log.request(APLOG_INFO, .clientGone, "Client closed the connection before the response from daemon process '\(name)' was complete.", r)
                        return OK
                    }
                case .abort:
                    _ = try conn.readPayload(length)
                    _ = apache.write(buffer, 0, flush: true)
                    apache.abort()
                case .done:
                    let status = try decodeInt32(try conn.readPayload(length))
                    if let overridden { return overridden }
                    if headersSent { return OK }
                    return status == OK ? HTTP_INTERNAL_SERVER_ERROR : status
                default:
                    throw WireError.malformed("unexpected frame \(type) from the daemon")
                }
            } catch {
                return lost(r, error, name: name, headersSent: headersSent)
            }
        }
    }

    private static func lost(_ r: UnsafeMutablePointer<request_rec>, _ error: Error, name: String, headersSent: Bool) -> Int32 {
        let timeout = (error as? WireError).map { if case .timeout = $0 { return true } else { return false } } ?? false
        if headersSent {
            Log.request(APLOG_ERR, .daemonTimeout, "Response from daemon process '\(name)' ended early: \(error).", r)
            return OK
        }
        if timeout {
            Log.request(APLOG_ERR, .daemonTimeout, "Timeout when reading response headers from daemon process '\(name)'.", r)
            return HTTP_GATEWAY_TIME_OUT
        }
        Log.request(APLOG_ERR, .daemonTimeout, "Truncated or oversized response headers received from daemon process '\(name)': \(error).", r)
        return HTTP_INTERNAL_SERVER_ERROR
    }
}
