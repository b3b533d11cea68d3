import CModWSGI
import SystemCalls
import WSGICore

/// The Apache child's side of daemon mode: connects to the process group's socket,
/// sends the CGI environment, then serves the daemon's frames: body reads ('R') from
/// Apache's input filters, the response head and body to Apache's output filters.
/// Both bodies stream in blocks; no Python here.
enum DaemonClient {
    /// What the request's configuration tells the daemon process about it.
    struct Options {
        var reloading = true
        var enableSendfile = false
        var ignoreActivity = false
        var scheme = "http"
    }

    static func forward(
        _ r: UnsafeMutablePointer<request_rec>, group name: String, scriptPath: String,
        options: Options = Options(), errorOverride: Bool = false
    ) -> Int32 {
        guard let group = GlobalConfig.current.daemonGroups.first(where: { $0.name == name }),
            var path = DaemonManager.socketPaths[name]
        else {
            Log.request(
                APLOG_ERR, .processGroupMissing,
                "No WSGI daemon process called '\(name)' has been configured: \(scriptPath)", r)
            return HTTP_INTERNAL_SERVER_ERROR
        }
        let queueStart = wsgi_now()
        guard var addr = unixAddress(path) else {
            Log.request(
                APLOG_ERR, .daemonSocketPathTooLong,
                "Socket path '\(path)' of daemon process group '\(name)' is too long.", r)
            return HTTP_INTERNAL_SERVER_ERROR
        }
        let connectTimeout = Int64(max(group.connectTimeout, 0)) * 1_000_000
        let started = monotonicMicros()
        let socketTimeout =
            group.socketTimeout > 0 ? Int64(group.socketTimeout) * 1_000_000 : Int64(r.pointee.server.pointee.timeout)

        // A connection still queued on a socket whose daemon stopped accepting (a restart) is
        // reset when the daemon closes it: the daemon never read the request, so it is safe to
        // send it again, to the daemon that now listens (as mod_wsgi's daemon_restarts). A
        // pooled connection whose daemon has gone fails the same way (EPIPE or a reset before
        // any reply): the pool of that socket is dropped and the request sent on a new one.
        // How long the request waited for the old daemon (queued behind busy threads) does not
        // count against the time allowed to reach a daemon: that time starts at the reset.
        var restarts = 0
        var reaching = started
        let poolCapacity = max(group.processes * max(group.threads, 1), 1)
        while true {
            let conn: WireConnection
            let pooled: Bool
            var connects = 1
            if let idle = DaemonConnectionPool.take(path) {
                conn = idle
                pooled = true
                conn.setTimeouts(read: socketTimeout, write: socketTimeout)
            } else {
                let fd: Int32
                do {
                    (fd, connects) = try connect(
                        r, group: group, path: &path, addr: &addr, started: reaching, connectTimeout: connectTimeout)
                } catch {
                    return (error as? Status)?.code ?? HTTP_INTERNAL_SERVER_ERROR
                }
                // Connected without blocking (a full listen queue is EAGAIN); from here on the
                // socket blocks with its timeouts set.
                _ = wsgi_set_nonblock(fd, 0)
                conn = WireConnection(fd: fd, timeout: socketTimeout)
                pooled = false
            }
            let request = requestFrame(
                r, scriptPath: scriptPath, options: options, queueStart: queueStart, connects: connects,
                restarts: restarts)
            let first: (Frame, Int)
            var sent = false
            do {
                try conn.send(.request, request)
                sent = true
                first = try conn.readHeader()
            } catch let e as WireError where pooled && e.isNotDelivered(sent: sent) {
                conn.close()
                DaemonConnectionPool.drop(path)
                Log.request(
                    APLOG_DEBUG, .daemonPooledConnectionGone,
                    "A kept connection to daemon process '\(name)' on '\(path)' was closed by the daemon before it took the request (\(e)); sending the request on a new connection.",
                    r)
                reaching = monotonicMicros()
                continue
            } catch let e as WireError where e.isNotDelivered(sent: sent) && restarts < maximumRestarts {
                conn.close()
                restarts += 1
                Log.request(
                    APLOG_INFO, .daemonRetry,
                    "Daemon process '\(name)' closed the connection on '\(path)' before taking the request (\(e)): it is restarting; sending the request again.",
                    r)
                sleepMicros(Int64(restarts) * 20_000)
                reaching = monotonicMicros()
                continue
            } catch {
                conn.close()
                if let e = error as? WireError, e.isNotDelivered(sent: sent) {
                    // Never taken, maximumRestarts times: the daemons keep restarting.
                    Log.request(
                        APLOG_ERR, .daemonRestartsExhausted,
                        "Maximum number of WSGI daemon process '\(name)' restart attempts reached: \(restarts); the daemon on '\(path)' closed the connection before taking the request each time (\(e)). Returning 503.",
                        r)
                    return HTTP_SERVICE_UNAVAILABLE
                }
                if sent { return lost(r, error, name: name, headersSent: false) }
                Log.request(
                    APLOG_ERR, .daemonSendFailed,
                    "Unable to send request details to WSGI daemon process '\(name)' on '\(path)': \(error).", r)
                return HTTP_INTERNAL_SERVER_ERROR
            }
            if first.0 == .rejected {
                // The daemon restarts to load a changed script (mod_wsgi 6.x) and did not run the
                // request: send it again, to the process that replaces it (or another of the group).
                conn.close()
                DaemonConnectionPool.drop(path)
                restarts += 1
                guard restarts <= maximumRestarts + group.processes else {
                    Log.request(
                        APLOG_ERR, .daemonRestartConnects,
                        "Maximum number of WSGI daemon process restart connects reached.", r)
                    return HTTP_SERVICE_UNAVAILABLE
                }
                sleepMicros(Int64(min(restarts, 5)) * 20_000)
                continue
            }
            let (status, reusable) = relay(r, conn: conn, group: group, first: first, errorOverride: errorOverride)
            if reusable {
                DaemonConnectionPool.give(conn, path: path, capacity: poolCapacity)
            } else {
                conn.close()
            }
            return status
        }
    }

    /// How long to keep trying to reach a daemon. While this child is being stopped (Apache
    /// stops, restarts, or replaces it after a graceful restart) a new socket, if any, appears
    /// within milliseconds: do not hold the child (and Apache's stop) for connect-timeout.
    static func waitLimit(_ connectTimeout: Int64) -> Int64 {
        var state: Int32 = 0
        ap_mpm_query(AP_MPMQ_MPM_STATE, &state)
        let limit = max(connectTimeout, 1_000_000)
        return state == AP_MPMQ_STOPPING ? min(limit, 2_000_000) : limit
    }

    /// How many times a request the daemon never took is sent again.
    static let maximumRestarts = 8

    struct Status: Error { let code: Int32 }

    /// Connects, retrying while the listen queue is full (EAGAIN) or nobody listens yet:
    /// the socket and the attempts it took. Throws the handler's status (a `Status`) once it
    /// has logged why it gave up.
    private static func connect(
        _ r: UnsafeMutablePointer<request_rec>, group: DaemonGroupConfig, path: inout String,
        addr: inout sockaddr_un, started: Int64, connectTimeout: Int64
    ) throws -> (Int32, Int) {
        let name = group.name
        var attempts = 0
        var waited: Int64 = 0
        while true {
            attempts += 1
            let fd: Int32
            do {
                fd = try syscall("socket") {
                    socket(
                        AF_UNIX,
                        Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
                }
            } catch {
                let e = error.errno
                Log.request(
                    APLOG_ERR, .daemonSocketCreateFailed,
                    "Unable to create socket to connect to WSGI daemon process '\(name)': \(String(cString: strerror(e))).",
                    r)
                throw Status(code: HTTP_INTERNAL_SERVER_ERROR)
            }
            var a = addr
            let e: Int32
            do {
                try syscall("connect") { wsgi_connect_un(fd, &a) }
                return (fd, attempts)
            } catch {
                e = error.errno
            }
            close(fd)
            if e == ENOENT && GlobalConfig.current.socketRotation {
                // Sockets exist for a whole configuration generation: this one has ended
                // (Apache restarted, WSGISocketRotation On) while the request was in an old
                // child. Follow the group to the newest generation's socket (the daemon checks
                // it is the same group), waiting within connect-timeout for it to be made.
                if let newer = RotatedSocket.newest(after: path), let a = unixAddress(newer) {
                    path = newer
                    addr = a
                    continue
                }
                if monotonicMicros() - started < waitLimit(connectTimeout) {
                    sleepMicros(50_000)
                    continue
                }
                Log.request(
                    APLOG_ERR, .daemonSocketGone,
                    "The socket '\(path)' of WSGI daemon process '\(name)' is gone and no newer one appeared within connect-timeout of \(group.connectTimeout) seconds: Apache was restarted while this request was in an old child process (WSGISocketRotation On).",
                    r)
                throw Status(code: HTTP_SERVICE_UNAVAILABLE)
            }
            if e == EAGAIN || e == ECONNREFUSED || e == ENOENT {
                if monotonicMicros() - started < waitLimit(connectTimeout) {
                    let pause: Int64 = waited < 2_000_000 ? 125_000 : 1_000_000
                    sleepMicros(pause)
                    waited += pause
                    continue
                }
                Log.request(
                    APLOG_ERR, .daemonConnect,
                    "Unable to connect to WSGI daemon process '\(name)' on '\(path)' after \(attempts) attempts within connect-timeout of \(group.connectTimeout) seconds, as the listener backlog limit was exceeded or the socket does not exist: \(String(cString: strerror(e))).",
                    r)
                throw Status(code: HTTP_SERVICE_UNAVAILABLE)
            }
            Log.request(
                APLOG_ERR, .daemonConnectFailed,
                "Unable to connect to WSGI daemon process '\(name)' on '\(path)' as user with uid=\(geteuid()): \(String(cString: strerror(e))).",
                r)
            throw Status(code: HTTP_SERVICE_UNAVAILABLE)
        }
    }

    /// The request frame: script, application group, the CGI environment.
    private static func requestFrame(
        _ r: UnsafeMutablePointer<request_rec>, scriptPath: String, options: Options, queueStart: apr_time_t,
        connects: Int, restarts: Int
    ) -> [UInt8] {
        let env = r.pointee.subprocess_env
        var req = DaemonRequest()
        req.scriptPath = scriptPath
        req.callableObject = str(apr_table_get(env, "mod_wsgi.callable_object")) ?? "application"
        req.applicationGroup = str(apr_table_get(env, "mod_wsgi.application_group")) ?? ""
        req.reloading = options.reloading
        req.enableSendfile = options.enableSendfile
        req.ignoreActivity = options.ignoreActivity
        req.requestStart = Int64(r.pointee.request_time)
        req.serverPid = UInt32(ModuleState.pid)
        req.daemonConnects = UInt32(connects)
        req.daemonRestarts = UInt32(restarts)
        req.serverIndex = UInt32(ServerIndex.index(of: UnsafePointer(r.pointee.server)))
        req.scheme = options.scheme
        let c = r.pointee.connection!
        req.client = "\(str(c.pointee.client_ip) ?? "-"):\(c.pointee.client_addr?.pointee.port ?? 0)"
        req.isHEAD = r.pointee.header_only != 0
        req.queueStart = Int64(queueStart)
        let headersIn = r.pointee.headers_in
        let te = str(apr_table_get(headersIn, "Transfer-Encoding"))?.lowercased() ?? ""
        let cl = Int64(str(apr_table_get(headersIn, "Content-Length"))?.trimmingSpaces ?? "") ?? 0
        req.hasBody = isChunked(te) || cl > 0
        return req.encode(environ: env)
    }

    /// Serves the daemon's frames until 'Z'. Returns the handler status, and whether the
    /// exchange ended cleanly ('Z' read) so that the connection can carry another request.
    /// With WSGIErrorOverride On an error status (4xx/5xx) from the application is returned to
    /// Apache, which then sends its own error document; the application's body is discarded.
    private static func relay(
        _ r: UnsafeMutablePointer<request_rec>, conn: WireConnection, group: DaemonGroupConfig,
        first: (Frame, Int), errorOverride: Bool
    ) -> (Int32, Bool) {
        let name = group.name
        let apache = ApacheChannel(r)
        var headersSent = false
        var overridden: Int32?
        let blockSize = max(4096, min(group.responseBufferSize, 1 << 20))
        // A response block already in the connection's buffer goes to Apache from there (a
        // transient bucket); a larger one is read into memory that Apache's heap bucket then
        // owns, up to this many bytes per bucket: one pass through the output filters and one
        // write to the client per block, no zeroed buffer, and no copy but of the few bytes
        // that came with the frame's header.
        let maximumResponseBlock = max(blockSize, 256 * 1024)
        let nothing: [UInt8] = [0]
        // The request body's blocks: as large as the daemon asks for, up to 256 KB.
        var body: [UInt8] = []
        let maximumBodyBlock = max(blockSize, 256 * 1024)
        var readyBrigade: UnsafeMutablePointer<apr_bucket_brigade>?
        var deferredBodyError: (Int32, String)?
        var next: (Frame, Int)? = first
        while true {
            let type: Frame, length: Int
            do {
                (type, length) = try next ?? conn.readHeader()
                next = nil
            } catch {
                return (lost(r, error, name: name, headersSent: headersSent), false)
            }
            do {
                switch type {
                case .read:
                    let want = Int(try decodeInt32(try conn.readPayload(length)))
                    let size = max(blockSize, min(want, maximumBodyBlock))
                    if body.count < size { body = [UInt8](repeating: 0, count: size) }
                    let n = min(max(want, 1), body.count)
                    var got = -1
                    var failure = deferredBodyError
                    if failure == nil {
                        got = body.withUnsafeMutableBytes { apache.read($0.baseAddress!, min(n, blockSize)) }
                        if got < 0 { failure = (apache.bodyFailureStatus ?? HTTP_BAD_REQUEST, apache.lastError) }
                    }
                    // Then what the client has already sent, without waiting for more, in reads
                    // of at most one block: one large frame instead of a round trip per block.
                    while got > 0 && got < n {
                        if readyBrigade == nil {
                            readyBrigade = apr_brigade_create(r.pointee.pool, r.pointee.connection.pointee.bucket_alloc)
                        }
                        var rv: apr_status_t = 0
                        let more = body.withUnsafeMutableBytes {
                            wsgi_read_body_ready(
                                r, readyBrigade!, $0.baseAddress!.assumingMemoryBound(to: CChar.self) + got,
                                min(n - got, blockSize), &rv)
                        }
                        if more == -1 {
                            // Answered at the daemon's next read, after the bytes read so far.
                            deferredBodyError = (
                                ap_map_http_request_error(rv, HTTP_BAD_REQUEST),
                                "Apache/mod_wsgi failed reading the request body: " + aprError(rv)
                            )
                        }
                        if more <= 0 { break }
                        got += more
                    }
                    if got > 0 {
                        try body.withUnsafeBytes { try conn.send(.data, UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
                    } else if got == 0 {
                        try conn.send(.bodyEnd)
                    } else {
                        // The client's fault (as mod_wsgi: 408 when it stopped sending, 400 …):
                        // tell the daemon (the application's read raises) and answer it here.
                        let (status, why) = failure ?? (HTTP_BAD_REQUEST, "")
                        try? conn.send(.bodyEnd, encodeInt32(status) + Array(why.utf8))
                        Log.request(
                            APLOG_INFO, .requestBodyUnreadable,
                            "Request body from the client could not be read (\(why)); answering \(status).", r)
                        if headersSent { apache.abort(); return (OK, false) }
                        return (status, false)
                    }
                case .headers:
                    let head = try DaemonResponseHead.decode(try conn.readPayload(length))
                    for h in head.headers where h.name.count + h.value.count + 2 > group.headerBufferSize {
                        let shown = String(decoding: h.name.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
                        Log.request(
                            APLOG_ERR, .daemonHeaderTooLarge,
                            "Response header '\(shown)' from daemon process '\(name)' is \(h.name.count + h.value.count) bytes, more than header-buffer-size=\(group.headerBufferSize) allows; returning 500.",
                            r)
                        return (HTTP_INTERNAL_SERVER_ERROR, false)
                    }
                    if errorOverride && head.status >= 400 {
                        overridden = head.status
                        continue
                    }
                    headersSent = true
                    apache.sendDaemonHeaders(status: head.status, statusLine: head.statusLine, headers: head.headers)
                case .data where overridden != nil, .flush where overridden != nil:
                    _ = try conn.readPayload(length)
                case .data, .flush:
                    var left = length
                    while left > 0 {
                        let n = min(left, maximumResponseBlock)
                        let flush = type == .flush && left == n
                        var ok = true
                        if conn.bufferedCount >= n {
                            _ = conn.takeBuffered(max: n) { chunk in
                                ok = apache.write(chunk.baseAddress!, chunk.count, flush: flush, gilHeld: false)
                            }
                        } else {
                            guard let block = malloc(n) else { throw WireError.malformed("no memory for \(n) bytes") }
                            let had = conn.takeBuffered(max: n) { chunk in
                                block.copyMemory(from: chunk.baseAddress!, byteCount: chunk.count)
                            }
                            do { try conn.readExactly(block + had, n - had) } catch { free(block); throw error }
                            ok = apache.write(owned: block, n, flush: flush)
                        }
                        left -= n
                        if !ok {
                            // The client went away: keep the application's status, stop relaying;
                            // closing the socket tells the daemon (its write fails, close() is called).
                            Log.request(
                                APLOG_INFO, .clientGoneDuringRelay,
                                "Client closed the connection before the response from daemon process '\(name)' was complete.",
                                r)
                            return (OK, false)
                        }
                    }
                    // Nothing more from the daemon within response-flush-delay: send what Apache
                    // holds (PEP 3333: no block may wait for the next one), as a proxy does. The
                    // short wait lets a pacing filter (mod_ratelimit) see whole writes.
                    if (type == .flush || !conn.waitForInput(micros: Int64(group.responseFlushDelay) * 1000))
                        && !apache.write(nothing, 0, flush: true, gilHeld: false)
                    {
                        Log.request(
                            APLOG_INFO, .clientGoneAfterFlush,
                            "Client closed the connection before the response from daemon process '\(name)' was complete.",
                            r)
                        return (OK, false)
                    }
                case .abort:
                    _ = try conn.readPayload(length)
                    _ = apache.write(nothing, 0, flush: true, gilHeld: false)
                    apache.abort()
                case .done:
                    let status = try decodeInt32(try conn.readPayload(length))
                    if let overridden { return (overridden, true) }
                    if headersSent { return (OK, true) }
                    return (status == OK ? HTTP_INTERNAL_SERVER_ERROR : status, true)
                default:
                    throw WireError.malformed("unexpected frame \(type) from the daemon")
                }
            } catch {
                return (lost(r, error, name: name, headersSent: headersSent), false)
            }
        }
    }

    private static func lost(_ r: UnsafeMutablePointer<request_rec>, _ error: Error, name: String, headersSent: Bool)
        -> Int32
    {
        let timeout = (error as? WireError).map { if case .timeout = $0 { return true } else { return false } } ?? false
        if headersSent {
            Log.request(
                APLOG_ERR, .daemonResponseEndedEarly, "Response from daemon process '\(name)' ended early: \(error).", r
            )
            return OK
        }
        if timeout {
            Log.request(
                APLOG_ERR, .daemonTimeout, "Timeout when reading response headers from daemon process '\(name)'.", r)
            return HTTP_GATEWAY_TIME_OUT
        }
        // As mod_wsgi 6.x: the daemon went away (or the link to it broke) before its
        // response headers: 502 Bad Gateway, saying which.
        if case .closed? = error as? WireError {
            Log.request(
                APLOG_ERR, .daemonClosedBeforeHeaders,
                "Daemon process '\(name)' closed connection before sending complete response headers.", r)
        } else {
            let why: String
            switch error as? WireError {
            case .reset?: why = String(cString: strerror(ECONNRESET))
            case .system(let e)?: why = String(cString: strerror(e.errno))
            default: why = "\(error)"
            }
            Log.request(
                APLOG_ERR, .daemonBadResponseHeaders,
                "Error reading response headers from daemon process '\(name)' (\(why)).", r)
        }
        return HTTP_BAD_GATEWAY
    }
}

extension WireError {
    /// The daemon cannot have read the request: our bytes were refused, or the connection was
    /// reset before any reply (a queued connection whose listening socket closed). An orderly
    /// end after the request was sent is not: the daemon may have run it, then died.
    func isNotDelivered(sent: Bool) -> Bool {
        switch self {
        case .reset: return true
        case .closed: return !sent
        default: return false
        }
    }
}

/// Socket paths with WSGISocketRotation On: `<prefix>.<parent pid>.<generation>.<group>.sock`,
/// one per configuration generation (DaemonManager.socketPath).
enum RotatedSocket {
    /// The path of the same group number in the newest later generation that exists now.
    static func newest(after path: String) -> String? {
        var parts = path.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 5, parts[parts.count - 1] == "sock",
            let generation = Int(parts[parts.count - 3])
        else { return nil }
        var found: String?
        // Generations count restarts one by one; a child outlives only a few of them.
        for later in (generation + 1)...(generation + 32) {
            parts[parts.count - 3] = Substring(String(later))
            let candidate = parts.joined(separator: ".")
            if access(candidate, F_OK) == 0 { found = candidate }
        }
        return found
    }
}
