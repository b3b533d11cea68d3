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
    /// interrupt-timeout: when the interrupted requests must have unwound (0: none pending).
    nonisolated(unsafe) private static var interruptDeadline: Int64 = 0

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

            let (active, requests, lastActivity, lastGIL, totalRunning, restart) = st.locked {
                () -> (Int, Int, Int64, Int64, Int64, String?) in
                var n = 0, sum: Int64 = 0
                for s in st.active where s != 0 { n += 1; sum += now - s }
                return (n, st.requests, st.lastActivity, st.lastGIL, sum, st.restartReason)
            }
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
                // One thread: the request's own time. Several: the running time of the active
                // requests summed, divided by the threads (mod_wsgi's measure).
                let measure = g.threads > 1 ? totalRunning / Int64(g.threads) : totalRunning
                if measure <= Int64(g.requestTimeout) * 1_000_000 {
                    interruptDeadline = 0
                } else if g.interruptTimeout > 0 && interruptDeadline == 0 {
                    // interrupt-timeout: first try to stop only the request's thread.
                    let n = RequestInterrupt.interrupt(longerThan: Int64(g.requestTimeout) * 1_000_000)
                    Log.server(
                        APLOG_WARNING, .daemonRequestInterrupting,
                        "Daemon process request time limit of \(g.requestTimeout) seconds exceeded in '\(g.name)'; interrupted \(n) request thread(s) with mod_wsgi.RequestTimeout, allowing interrupt-timeout=\(g.interruptTimeout) seconds to unwind."
                    )
                    interruptDeadline = now + Int64(g.interruptTimeout) * 1_000_000
                } else if interruptDeadline != 0 && now < interruptDeadline {
                    // still unwinding
                } else {
                    Log.server(
                        APLOG_ERR, .daemonRequestTimeout,
                        "Daemon process request time limit of \(g.requestTimeout) seconds exceeded in '\(g.name)' (\(active) active requests); stopping the process."
                    )
                    dumpStacks()
                    ProcessStopping.note("request-timeout")
                    shutdown(nil)
                }
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
                if active == 0 || now >= deadline { shutdown(nil) }
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

    /// Every Python thread's stack, innermost frame first, with full thread ids.
    static func dumpStacks() {
        guard wsgi_atomic_load(PythonRuntime.running) != 0 else { return }
        _ = Interpreters.acquire("")
        defer { Interpreters.release() }
        Log.server(APLOG_ERR, .daemonStackDump, "Dumping stack trace for active Python threads.")
        var interp = PyInterpreterState_Head()
        while let i = interp {
            var t = PyInterpreterState_ThreadHead(i)
            while let ts = t {
                if let frame = wsgi_thread_frame(ts) {
                    var f: UnsafeMutablePointer<PyObject>? = frame
                    var first = true
                    while let cur = f {
                        let code = wsgi_frame_code(cur)!
                        let file = attribute(code, "co_filename")
                        let name = attribute(code, "co_name")
                        let line = wsgi_frame_line(cur)
                        wsgi_decref(code)
                        if first {
                            Log.server(
                                APLOG_ERR, .daemonStackFrame,
                                "Thread \(ts.pointee.thread_id) executing file \"\(file)\", line \(line), in \(name)")
                            first = false
                        } else {
                            Log.server(
                                APLOG_ERR, .daemonStackCaller, "called from file \"\(file)\", line \(line), in \(name)")
                        }
                        let back = wsgi_frame_back(cur)
                        wsgi_decref(cur)
                        f = back
                    }
                }
                t = PyThreadState_Next(ts)
            }
            interp = PyInterpreterState_Next(i)
        }
        PyErr_Clear()
    }

    /// str(o.name), for the log; the attribute's reference is given back.
    private static func attribute(_ o: PyObj, _ name: String) -> String {
        guard let value = PyObject_GetAttrString(o, name) else { PyErr_Clear(); return "?" }
        defer { wsgi_decref(value) }
        return Py.describe(value)
    }
}
