import CWSGICore
import SystemCalls

/// threads=0 (a managed task, mod_wsgi-express --service-script): the preloaded scripts run
/// in the main thread, SIGTERM arrives there as SystemExit, and the process exits (to be
/// replaced) when they end.
extension DaemonProcess {
    /// One service script: like WSGIImportScript, but a SystemExit (how SIGTERM arrives) is
    /// the script's normal end, not an error.
    static func runServiceScript(_ t: ScriptTarget, _ g: DaemonGroupConfig) {
        var group = t.applicationGroup ?? "%{GLOBAL}"
        if group == "%{GLOBAL}" { group = "" }
        guard PythonRuntime.initialized, !group.hasPrefix("%{"), let mtime = ScriptLoader.mtime(t.path) else {
            ImportScripts.run([t])  // reports what is wrong
            return
        }
        var lines: [(Int32, LogID, String)] = []
        let interp = Interpreters.acquire(group)
        let loaded = ScriptLoader.load(interp, path: t.path, mtime: mtime, reload: false) { lines.append(($0, $1, $2)) }
        Interpreters.release()
        if loaded == nil, let last = lines.last?.2, last.hasPrefix("SystemExit") {
            Log.server(
                APLOG_INFO, .daemonServiceExit,
                "Service script '\(t.path)' of daemon process '\(g.name)' ended with \(last).")
            return
        }
        for (level, id, message) in lines { Log.server(level, id, message) }
    }

    /// SIGTERM → SystemExit in the main thread (Python runs its handlers there).
    static func installSystemExitOnTerm() {
        _ = Interpreters.acquire("")
        let code = """
            import _signal
            _mod_wsgi_stopping = []
            def _mod_wsgi_sigterm(signum, frame):
                # Once only: a repeated SIGTERM while shutting down must not interrupt the
                # script's own clean-up (its except/finally blocks).
                if not _mod_wsgi_stopping:
                    _mod_wsgi_stopping.append(True)
                    raise SystemExit(0)
            _signal.signal(_signal.SIGTERM, _mod_wsgi_sigterm)
            # Python 3.9 has no PyErr_SetInterruptEx(SIGTERM): the module simulates SIGINT.
            _signal.signal(_signal.SIGINT, _mod_wsgi_sigterm)
            """
        if !Py.run(code) { PyErr_Clear() }
        Interpreters.release()
        // Python replaced our handler: put ours back; it forwards SIGTERM to Python.
        wsgi_daemon_install_signals(state.wakeWrite, 1)
    }

    /// Runs the service scripts in the main thread, then exits: a script that ends is
    /// replaced by a new process (unless the process is shutting down).
    static func runServiceScripts(_ g: DaemonGroupConfig) -> Never {
        for t in start.preload { runServiceScript(t, g) }
        if PythonRuntime.initialized {
            // Like a Python program's end: wait for the non-daemon threads it started.
            _ = Interpreters.acquire("")
            let code = """
                import threading
                for _t in threading.enumerate():
                    if _t is not threading.current_thread() and not _t.daemon:
                        _t.join()
                """
            if !Py.run(code) { PyErr_Clear() }
            Interpreters.release()
        }
        let shutting = state.stopAccepting || Monitor.phase != .running || wsgi_daemon_term_received() != 0
        if !shutting {
            let lived = monotonicMicros() - state.started
            Log.server(
                APLOG_INFO, .daemonServiceReplaced,
                "Service script of daemon process '\(g.name)' has exited; the process will be replaced.")
            if lived < 1_000_000 { sleepMicros(1_000_000 - lived) }
        }
        state.stopAccepting = true
        Monitor.exitProcess(finalize: true)
    }
}
