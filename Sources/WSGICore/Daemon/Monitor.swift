import CWSGICore
import SystemCalls

/// The supervisor of a daemon process: signals, request-timeout (with a stack dump of
/// every Python thread), inactivity-timeout, maximum-requests, restart-interval,
/// deadlock-timeout, and the graceful then forced stop. Any exit makes the Apache parent
/// start a new process (unless Apache itself is stopping or restarting).
enum Monitor {
    enum Phase { case running, graceful, shutdown }
    nonisolated(unsafe) static var phase = Phase.running
    nonisolated(unsafe) private static var deadline: Int64 = 0
    nonisolated(unsafe) private static var cutByDrain = false

    static func supervise() -> Never {
        let st = DaemonProcess.state!
        let g = st.group
        let parent = DaemonProcess.start.parentPid
        var drain = [UInt8](repeating: 0, count: 64)
        while true {
            var p = pollfd(fd: st.wakeRead, events: Int16(POLLIN), revents: 0)
            _ = try? syscall("poll") { poll(&p, 1, 100) }
            while let n = try? drain.withUnsafeMutableBytes({ buf in
                try syscallUnlessWouldBlock("read") { CWSGICore.read(st.wakeRead, buf.baseAddress, buf.count) }
            }), n > 0 {}
            let now = monotonicMicros()
            let signals = wsgi_daemon_take_signals()
            if signals & 1 != 0 { shutdown("received SIGTERM") }
            if signals & 2 != 0 { graceful("received a graceful restart signal") }
            if signals & 4 != 0 { graceful("exceeded its CPU time limit") }
            if signals & 8 != 0 {
                graceful(
                    "received an eviction signal",
                    timeout: g.evictionTimeout > 0 ? g.evictionTimeout : g.gracefulTimeout)
            }
            if getppid() != parent { shutdown("lost its Apache parent process") }

            let (active, requests, lastActivity, lastGIL, restart, stop) = st.locked {
                () -> (Int, Int, Int64, Int64, String?, String?) in
                let n = st.active.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
                return (n, st.requests, st.lastActivity, st.lastGIL, st.restartReason, st.shutdownReason)
            }
            if let stop { shutdown(stop) }
            if let restart { graceful(restart) }
            if phase == .running {
                if g.maximumRequests > 0 && requests >= g.maximumRequests {
                    graceful("reached maximum-requests=\(g.maximumRequests)")
                } else if g.restartInterval > 0 && now - st.started > Int64(g.restartInterval) * 1_000_000 {
                    graceful("reached restart-interval=\(g.restartInterval)")
                } else if g.inactivityTimeout > 0 && active == 0
                    && now - lastActivity > Int64(g.inactivityTimeout) * 1_000_000
                {
                    graceful("was idle for inactivity-timeout=\(g.inactivityTimeout)")
                }
            }
            if phase != .shutdown && g.requestTimeout > 0 && active > 0 {
                requestTimeouts(st, now: now)
            }
            if g.deadlockTimeout > 0 && wsgi_atomic_load(PythonRuntime.running) != 0 && phase != .shutdown
                && now - lastGIL > Int64(g.deadlockTimeout) * 1_000_000
            {
                Log.server(
                    APLOG_ALERT, .daemonDeadlock,
                    "Daemon process deadlock timer of \(g.deadlockTimeout) seconds expired in '\(g.name)': the Python GIL could not be acquired; stopping the process."
                )
                exitNow(1)
            }
            switch phase {
            case .running: break
            case .graceful:
                // As mod_wsgi 6.x, a request past request-timeout + interrupt-timeout does not
                // hold the drain: it will not unwind by itself.
                if active == 0 || !st.locked({ st.hasActiveNonStaleRequestLocked(now) }) {
                    if active > 0 {
                        Log.server(
                            APLOG_INFO, .daemonDrainDone,
                            "Requests have completed; triggering immediate shutdown of daemon process '\(g.name)'.")
                    }
                    shutdown(nil)
                } else if now >= deadline {
                    Log.server(
                        APLOG_INFO, .daemonDrainTimeout,
                        "Daemon process restart timer expired in daemon process '\(g.name)'; forcing shutdown.")
                    shutdown(nil)
                }
            case .shutdown:
                // threads=0: the main thread ends the process once SystemExit unwinds the script.
                if active == 0 && g.threads > 0 { exitProcess(finalize: true) }
                if now >= deadline && cutByDrain {
                    Log.server(
                        APLOG_WARNING, .daemonDrainCut,
                        "Daemon process '\(g.name)' stops with \(active) request(s) still running: the server's drain timed out."
                    )
                    exitNow(0)
                }
                if now >= deadline {
                    Log.server(
                        APLOG_WARNING, .daemonShutdownTimeout,
                        "Daemon process '\(g.name)' still had \(active) active requests after shutdown-timeout=\(g.shutdownTimeout); exiting."
                    )
                    exitNow(0)
                }
            }
        }
    }

    /// request-timeout as mod_wsgi 6.x measures it: each request against request-timeout x
    /// (1 + ln threads). Past it, with interrupt-timeout, the request's thread gets
    /// mod_wsgi.RequestTimeout (one thread per pass) and interrupt-timeout seconds to unwind;
    /// without (or when it has not unwound) the process stops: after the requests that are
    /// not stale yet if graceful-timeout allows, else at once.
    static func requestTimeouts(_ st: DaemonState, now: Int64) {
        let g = st.group
        let threshold = st.requestFireThreshold
        var escalate = false
        var inject: (index: Int, ident: UInt)?
        st.locked {
            for i in st.active.indices where st.active[i] != 0 && now - st.active[i] > threshold {
                if g.interruptTimeout == 0 {
                    escalate = true
                    break
                }
                if st.injectedAt[i] == 0 {
                    st.injectedAt[i] = now
                    inject = (i, st.threadIdents[i])
                    break
                }
                if now - st.injectedAt[i] > Int64(g.interruptTimeout) * 1_000_000 {
                    escalate = true
                    break
                }
            }
        }
        if let inject { RequestInterrupt.interrupt(thread: inject.ident, index: inject.index, group: g) }
        guard escalate, phase == .running else { return }
        ProcessStopping.note("request-timeout")
        if g.gracefulTimeout > 0 && st.locked({ st.hasActiveNonStaleRequestLocked(now) }) {
            Log.server(
                APLOG_INFO, .daemonRequestTimeoutDraining,
                "Daemon process request time limit exceeded; waiting for in-flight requests to complete in daemon process '\(g.name)'."
            )
            dumpStacks()
            MetricsRecorder.daemonStopping("request-timeout")
            TelemetryReporter.stoppingDecided(ProcessStopping.reason)
            LifecycleBoard.current?.daemonState(DaemonProcess.lifecycleIndex, .stopping)
            phase = .graceful
            DaemonProcess.state.closeListener()
            deadline = monotonicMicros() + Int64(g.gracefulTimeout) * 1_000_000
        } else {
            Log.server(
                APLOG_INFO, .daemonRequestTimeoutStopping,
                "Daemon process request time limit exceeded, stopping daemon process '\(g.name)'.")
            dumpStacks()
            shutdown(nil)
        }
    }

    static func graceful(_ why: String, timeout: Int? = nil) {
        guard phase == .running else { return }
        let g = DaemonProcess.state.group
        let t = timeout ?? g.gracefulTimeout
        Log.server(
            APLOG_INFO, .daemonRestart,
            "Daemon process '\(g.name)' \(why); restarting gracefully (within \(t) seconds).")
        ProcessStopping.note(why)
        MetricsRecorder.daemonStopping(why)
        TelemetryReporter.stoppingDecided(ProcessStopping.reason)
        LifecycleBoard.current?.daemonState(DaemonProcess.lifecycleIndex, .stopping)
        phase = .graceful
        DaemonProcess.state.closeListener()
        deadline = monotonicMicros() + Int64(t) * 1_000_000
    }

    static func shutdown(_ why: String?) {
        guard phase != .shutdown else { return }
        let g = DaemonProcess.state.group
        if let why { Log.server(APLOG_INFO, .daemonShutdown, "Daemon process '\(g.name)' \(why); shutting down.") }
        ProcessStopping.note(why ?? "")
        MetricsRecorder.daemonStopping(why ?? "")
        TelemetryReporter.stoppingDecided(ProcessStopping.reason)
        ProcessStopping.publishSoon()
        phase = .shutdown
        LifecycleBoard.current?.daemonState(DaemonProcess.lifecycleIndex, .stopping)
        DaemonProcess.state.closeListener()
        deadline = monotonicMicros() + Int64(g.shutdownTimeout) * 1_000_000
        // The server's drain timed out (LifecycleBoard): the requests still running are cut now.
        if LifecycleBoard.current?.isCut == true { deadline = monotonicMicros(); cutByDrain = true }
        if g.threads == 0 { wsgi_interrupt_main_term() }
    }

    static func exitNow(_ code: Int32) -> Never {
        Log.server(APLOG_INFO, .daemonExiting, "Daemon process '\(DaemonProcess.state.group.name)' exiting.")
        MetricsRecorder.processExiting()
        TelemetryReporter.stopped(ProcessStopping.reason, graceful: false)
        _exit(code)
    }

    /// A clean end: worker threads are idle; destroy the interpreters (atexit runs,
    /// unless WSGIDestroyInterpreter Off), bounded by shutdown-timeout.
    static func exitProcess(finalize: Bool) -> Never {
        let g = DaemonProcess.state.group
        TelemetryReporter.finish(ProcessStopping.reason)
        if finalize && PythonRuntime.initialized && PythonRuntime.settings.destroyInterpreter {
            let limit = Int64(max(g.shutdownTimeout, 1)) * 1_000_000
            DaemonProcess.spawn(stackSize: DaemonProcess.helperStackSize) {
                sleepMicros(limit)
                Log.server(
                    APLOG_WARNING, .daemonFinalizeTimeout,
                    "Daemon process '\(g.name)' did not finish shutting down within shutdown-timeout; exiting.")
                _exit(0)
            }
            for t in DaemonProcess.workers { pthread_join(t, nil) }
            PythonRuntime.finalize(destroy: true)
        }
        exitNow(0)
    }

    /// Every Python thread's stack, in each interpreter, innermost frame first, with full
    /// thread ids (as mod_wsgi 6.x, at info).
    static func dumpStacks() {
        guard wsgi_atomic_load(PythonRuntime.running) != 0 else { return }
        for name in Interpreters.names().sorted() {
            _ = Interpreters.acquire(name)
            Log.server(
                APLOG_INFO, .daemonStackDump,
                "Dumping stack trace for active Python threads of \(InterpreterContext.describe(name)).")
            var t = PyInterpreterState_ThreadHead(PyThreadState_GetInterpreter(PyThreadState_Get()))
            while let ts = t {
                logStack(ts)
                t = PyThreadState_Next(ts)
            }
            PyErr_Clear()
            Interpreters.release()
        }
    }

    /// The stack of one thread of the current interpreter (GIL held), as mod_wsgi 6.x logs it:
    /// "Thread N executing file …", then "called from file …," and the outermost ending ".".
    static func logStack(_ ts: UnsafeMutablePointer<PyThreadState>) {
        guard let frame = wsgi_thread_frame(ts) else { return }
        var f: UnsafeMutablePointer<PyObject>? = frame
        var first = true
        while let cur = f {
            let code = wsgi_frame_code(cur)!
            let file = attribute(code, "co_filename")
            let name = attribute(code, "co_name")
            let line = wsgi_frame_line(cur)
            wsgi_decref(code)
            let back = wsgi_frame_back(cur)
            if first {
                Log.server(
                    APLOG_INFO, .daemonStackFrame,
                    "Thread \(ts.pointee.thread_id) executing file \"\(file)\", line \(line), in \(name)")
                first = false
            } else {
                Log.server(
                    APLOG_INFO, .daemonStackCaller,
                    "called from file \"\(file)\", line \(line), in \(name)\(back == nil ? "." : ",")")
            }
            wsgi_decref(cur)
            f = back
        }
    }

    /// str(o.name), for the log; the attribute's reference is given back.
    private static func attribute(_ o: PyObj, _ name: String) -> String {
        guard let value = PyObject_GetAttrString(o, name) else { PyErr_Clear(); return "?" }
        defer { wsgi_decref(value) }
        return Py.describe(value)
    }
}
