import CWSGICore

/// mod_wsgi.server_metrics(): Apache's scoreboard (every child process and worker) as
/// mod_wsgi 4.9 reports it. None where mod_wsgi returns None: no scoreboard; embedded
/// mode with `WSGIServerMetrics Off` (absent counts as on, 4.9's quirk); a daemon
/// process group without `server-metrics=On`.
enum ServerMetrics {
    static var enabled: Bool {
        if !ModuleState.processGroup.isEmpty { return DaemonProcess.state?.group.serverMetrics ?? false }
        return PythonRuntime.settings.serverMetrics != false
    }

    private static func text<T>(_ tuple: T) -> PyObj {
        withUnsafeBytes(of: tuple) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let n = bytes.firstIndex(of: 0) ?? bytes.count
            return PyUnicode_DecodeLatin1(
                UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self), n, nil) ?? Py.string("")
        }
    }

    private static func seconds(_ t: apr_time_t) -> PyObj { PyFloat_FromDouble(Double(t) / 1e6) }

    /// The one-letter status of mod_status' scoreboard key.
    static let statusLetters: [UInt8: String] = [
        UInt8(SERVER_DEAD): ".", UInt8(SERVER_READY): "_", UInt8(SERVER_STARTING): "S",
        UInt8(SERVER_BUSY_READ): "R", UInt8(SERVER_BUSY_WRITE): "W", UInt8(SERVER_BUSY_KEEPALIVE): "K",
        UInt8(SERVER_BUSY_LOG): "L", UInt8(SERVER_BUSY_DNS): "D", UInt8(SERVER_CLOSING): "C",
        UInt8(SERVER_GRACEFUL): "G", UInt8(SERVER_IDLE_KILL): "I",
    ]

    static func snapshot() -> PyObj {
        guard enabled, let sb = ScoreboardView.provider() else { return Py.none }
        let global = sb.global
        let d = PyDict_New()!
        let g = global.pointee
        let now = wsgi_now()
        Py.setItem(d, "server_limit", Py.int(Int(g.server_limit)))
        Py.setItem(d, "thread_limit", Py.int(Int(g.thread_limit)))
        Py.setItem(d, "running_generation", Py.int(Int(g.running_generation)))
        Py.setItem(d, "restart_time", seconds(g.restart_time))
        Py.setItem(d, "current_time", seconds(now))
        Py.setItem(d, "running_time", Py.int(Int((now - g.restart_time) / 1_000_000)))
        let processes = PyList_New(0)!
        for i in 0..<Int32(g.server_limit) {
            let ps = sb.processes + Int(i)
            let p = PyDict_New()!
            Py.setItem(p, "process_num", Py.int(Int(i)))
            Py.setItem(p, "pid", Py.int(Int(ps.pointee.pid)))
            Py.setItem(p, "generation", Py.int(Int(ps.pointee.generation)))
            Py.setItem(p, "quiescing", Py.int(Int(ps.pointee.quiescing)))
            let workers = PyList_New(0)!
            for j in 0..<Int32(g.thread_limit) {
                let ws = sb.workers[Int(i)] + Int(j)
                let w = ws.pointee
                let t = PyDict_New()!
                Py.setItem(t, "thread_num", Py.int(Int(w.thread_num)))
                Py.setItem(t, "generation", Py.int(Int(w.generation)))
                Py.setItem(t, "status", Py.string(statusLetters[w.status] ?? "?"))
                Py.setItem(t, "access_count", Py.int(Int(w.access_count)))
                Py.setItem(t, "bytes_served", Py.int(Int(w.bytes_served)))
                Py.setItem(t, "start_time", seconds(w.start_time))
                Py.setItem(t, "stop_time", seconds(w.stop_time))
                Py.setItem(t, "last_used", seconds(w.last_used))
                Py.setItem(t, "client", text(w.client64))
                Py.setItem(t, "request", text(w.request))
                Py.setItem(t, "vhost", text(w.vhost))
                PyList_Append(workers, t); wsgi_decref(t)
            }
            Py.setItem(p, "workers", workers)
            PyList_Append(processes, p); wsgi_decref(p)
        }
        Py.setItem(d, "processes", processes)
        return d
    }
}
