import CWSGICore
import SystemCalls

/// One connection from an Apache child, on a worker thread: read the request frame, run
/// the application, and keep the process's counters (maximum-requests, startup-timeout).
extension DaemonProcess {
    /// Serves one request on `conn`; true when the connection can carry the next one.
    static func serve(_ conn: WireConnection, _ index: Int) -> Bool {
        let st = state!
        let g = st.group
        // The request frame first: a pooled connection that the Apache child closed (it
        // exited, or dropped its pool) ends here, without counting as a request or activity.
        let req: DaemonRequest
        do {
            guard let (type, length) = try conn.readHeaderUnlessEnded() else { return false }
            guard type == .request, length < 64 << 20 else { throw WireError.malformed("expected a request") }
            req = try DaemonRequest.decode(try conn.readPayload(length))
        } catch {
            Log.server(
                APLOG_ERR, .daemonRequestUnreadable,
                "Unable to read the request from the Apache child in daemon process '\(g.name)': \(error).")
            return false
        }
        let start = monotonicMicros()
        // WSGIIgnoreActivity On: such requests (health checks…) do not count as activity
        // for inactivity-timeout.
        var ignoreActivity = false
        let ident = PyThread_get_thread_ident()
        let previousActivity = st.locked { () -> Int64 in
            let before = st.lastActivity
            st.active[index] = start; st.lastActivity = start
            st.threadIdents[index] = ident
            return before
        }
        defer {
            let end = monotonicMicros()
            let total = st.locked { () -> Int in
                st.active[index] = 0
                st.injectedAt[index] = 0
                if !ignoreActivity { st.lastActivity = end }
                st.requests += 1
                return st.requests
            }
            if g.maximumRequests > 0 && total >= g.maximumRequests {
                // Take no more: the supervisor restarts the process gracefully.
                st.stopAccepting = true
                st.wake()
            }
        }
        if req.ignoreActivity {
            ignoreActivity = true
            st.locked { st.lastActivity = previousActivity }
        }
        let channel = SocketChannel(conn: conn, request: req)
        if let asked = req.value(of: "mod_wsgi.process_group"), asked != g.name {
            // An Apache child of an older configuration followed the socket of the group's
            // number in this one (WSGISocketRotation On): that number is now another group.
            channel.log(
                APLOG_ERR, .daemonWrongGroup,
                "Request for daemon process group '\(asked)' reached daemon process group '\(g.name)' (the configuration changed at a restart); returning 503."
            )
            channel.finish(HTTP_SERVICE_UNAVAILABLE)
            return channel.reusable
        }
        let daemonStart = Int64(wsgi_now())
        if g.queueTimeout > 0 && daemonStart - req.queueStart > Int64(g.queueTimeout) * 1_000_000 {
            channel.log(APLOG_INFO, .daemonQueueTimeout, "Queue timeout expired for WSGI daemon process '\(g.name)'.")
            channel.finish(HTTP_SERVICE_UNAVAILABLE)
            return channel.reusable
        }
        guard let mtime = ScriptLoader.mtime(req.scriptPath) else {
            channel.log(
                APLOG_ERR, .daemonScriptNotFound, "Target WSGI script not found or unable to stat: \(req.scriptPath)")
            ScriptLoader.forgetMtime(req.scriptPath)
            channel.finish(HTTP_NOT_FOUND)
            return channel.reusable
        }
        let spec = ScriptRequest(
            scriptPath: req.scriptPath, mtime: mtime, callableObject: req.callableObject,
            applicationGroup: req.applicationGroup, reloading: req.reloading,
            enableSendfile: req.enableSendfile, requestStart: req.requestStart, queueStart: req.queueStart,
            daemonStart: daemonStart, serverPid: req.serverPid, daemonConnects: Int(req.daemonConnects),
            daemonRestarts: Int(req.daemonRestarts))
        // python-threads=: wait for a turn (without the GIL) before taking the GIL.
        if let turns = st.turns {
            while sem_wait(turns) != 0 && wsgi_errno() == EINTR {}
        }
        defer { if let turns = st.turns { sem_post(turns) } }
        let status = WSGIApplication.run(spec, channel: channel) { environ in
            // The keys from the interpreter's cache (made once, interned), as in embedded mode.
            let keys = EnvironKeys.current
            req.forEachEntry { k, v in
                let value = PyUnicode_DecodeLatin1(v.baseAddress?.assumingMemoryBound(to: CChar.self), v.count, nil)
                if let key = keys.key(latin1: k), let value { PyDict_SetItem(environ, key, value) }
                wsgi_xdecref(value)
                PyErr_Clear()
            }
            keys.set(environ, "wsgi.url_scheme", Py.string(req.scheme))
        }
        channel.finish(status)
        if g.memoryLimit > 0 && status == HTTP_INTERNAL_SERVER_ERROR, let used = dataSize(),
            used >= g.memoryLimit / 10 * 9
        {
            // The request failed with the application at its memory-limit (MemoryError): every
            // later one would too. Replace the process gracefully (mod_wsgi keeps failing).
            st.locked {
                st.restartReason =
                    st.restartReason ?? "uses \(used >> 20) MB of its memory-limit of \(g.memoryLimit >> 20) MB"
            }
            st.wake()
        }
        if channel.scriptLoadFailed {
            if g.startupTimeout > 0 && !st.locked({ st.loadedOnce })
                && monotonicMicros() - st.started > Int64(g.startupTimeout) * 1_000_000
            {
                st.locked {
                    st.restartReason =
                        st.restartReason ?? "could not load its application within startup-timeout=\(g.startupTimeout)"
                }
                st.wake()
            }
        } else {
            st.locked { st.loadedOnce = true }
        }
        return channel.reusable
    }

    /// The process's data size (what RLIMIT_DATA, memory-limit, limits), from /proc/self/statm.
    static func dataSize() -> Int? {
        guard let statm = readFile("/proc/self/statm", limit: 256), !statm.isEmpty else { return nil }
        let fields = statm.split(separator: 32)
        guard fields.count >= 6, let pages = Int(String(decoding: fields[5], as: UTF8.self)) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
