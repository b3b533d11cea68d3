import CWSGICore
import SystemCalls
import WSGICore

/// The daemon runtime as a Python extension module, `_mod_wsgi_daemon`: what a daemon process
/// that runs the application's Python executable loads (ModWSGI's DaemonLaunch execs the
/// executable with a `-c` program that loads this file by path and calls `run(fd)`).
///
/// `run(fd)` reads the start record the Apache module wrote (DaemonExecRecord), becomes the
/// process a forked daemon would be (its log, its title, the metrics board and scoreboard
/// mapped again, the server's facts) and runs WSGICore's DaemonProcess on this thread, the
/// executable's main thread, with the Python it already started. It never returns.
@_cdecl("PyInit__mod_wsgi_daemon")
public func PyInit__mod_wsgi_daemon() -> UnsafeMutablePointer<PyObject>? {
    let methods = UnsafeMutablePointer<PyMethodDef>.allocate(capacity: 2)
    methods[0] = PyMethodDef(
        ml_name: UnsafePointer(strdup("run")), ml_meth: { _, arg in DaemonRuntime.run(arg) }, ml_flags: METH_O,
        ml_doc: nil)
    methods[1] = PyMethodDef(ml_name: nil, ml_meth: nil, ml_flags: 0, ml_doc: nil)
    return wsgi_extension_module("_mod_wsgi_daemon", methods)
}

enum DaemonRuntime {
    static func run(_ arg: UnsafeMutablePointer<PyObject>?) -> UnsafeMutablePointer<PyObject>? {
        let fd = Int32(truncatingIfNeeded: PyLong_AsLong(arg))
        // Until the record says how Apache logs: its default format, every level up to info.
        var early = ErrorLogSettings()
        early.level = APLOG_INFO
        let earlyLog = ErrorLogWriter(early)
        Log.sink = { level, status, _, line in earlyLog.write(level: level, status: status, line) }

        let record: DaemonExecRecord
        do {
            let bytes = try readAll(fd, limit: 16 << 20, subject: "the daemon start record")
            close(fd)
            record = try RecordCoding.decode(DaemonExecRecord.self, from: bytes)
        } catch {
            Log.server(
                APLOG_ALERT, .daemonRuntimeFailed,
                "The daemon runtime could not read its start record (descriptor \(fd)): \(error); exiting.")
            _exit(1)
        }
        // Inherited across the exec only to be found here: a program the application runs
        // must not inherit the group's socket or the metrics board (close-on-exec, as in a
        // forked daemon).
        _ = wsgi_set_cloexec(record.start.listener, 1)
        if record.metricsBoard >= 0 { _ = wsgi_set_cloexec(record.metricsBoard, 1) }
        if record.lifecycleBoard >= 0 { _ = wsgi_set_cloexec(record.lifecycleBoard, 1) }
        let writer = ErrorLogWriter(record.log)
        for fd in record.serverLogs where fd >= 0 { _ = wsgi_set_cloexec(fd, 1) }
        let serverLogs = record.serverLogs
        Log.sink = { level, status, server, line in
            let fd = server > 0 && server < serverLogs.count && serverLogs[server] >= 0 ? serverLogs[server] : 2
            writer.write(level: level, status: status, line, fd: fd)
        }
        HostFacts.provider = { record.start.facts }
        if record.metricsBoard >= 0 { MetricsBoard.current = MetricsBoard.attach(fd: record.metricsBoard) }
        if record.lifecycleBoard >= 0 { LifecycleBoard.current = LifecycleBoard.attach(fd: record.lifecycleBoard) }
        if record.scoreboard >= 0 { mapScoreboard(record) }
        if let area = ProcessTitle.ownArgumentArea() {
            ProcessTitle.set(record.title, area: area, threadName: record.threadName)
        }
        forgetBootstrap(record)
        DaemonProcess.run(record.start, pythonStarted: true)
    }

    /// Apache's scoreboard, mapped again read-only from the descriptor of its shared memory.
    static func mapScoreboard(_ record: DaemonExecRecord) {
        guard let p = mmap(nil, record.scoreboardLength, PROT_READ, MAP_SHARED, record.scoreboard, 0),
            p != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            Log.server(
                APLOG_ERR, .daemonScoreboardMapFailed,
                "Couldn't map Apache's scoreboard: \(String(cString: strerror(wsgi_errno()))); mod_wsgi.server_metrics() returns None."
            )
            return
        }
        close(record.scoreboard)
        let view = ScoreboardView(base: p + record.scoreboardOffset)
        ScoreboardView.provider = { view }
    }

    /// What starting Python this way left that embedded Python would not show the application:
    /// the bootstrap's name in __main__, and the variables set only to start it.
    static func forgetBootstrap(_ record: DaemonExecRecord) {
        if let main = PyImport_AddModule("__main__"), let d = PyModule_GetDict(main) {
            if PyDict_DelItemString(d, "_m") != 0 { PyErr_Clear() }
        }
        guard !record.addedEnvironment.isEmpty else { return }
        let os = PyImport_ImportModule("os")
        let environ = os.flatMap { PyObject_GetAttrString($0, "environ") }
        for name in record.addedEnvironment {
            unsetenv(name)
            if let environ, let key = PyUnicode_FromString(name) {
                if PyObject_DelItem(environ, key) != 0 { PyErr_Clear() }
                wsgi_decref(key)
            }
        }
        if let environ { wsgi_decref(environ) }
        if let os { wsgi_decref(os) }
        PyErr_Clear()
    }
}
