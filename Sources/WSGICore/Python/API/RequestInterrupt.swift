import CWSGICore

/// interrupt-timeout (mod_wsgi 6.0): when a daemon request passes request-timeout, the
/// supervisor raises `mod_wsgi.RequestTimeout` (a BaseException) in the thread running it
/// and gives it interrupt-timeout seconds to unwind; the request then ends with a 504 and
/// the process keeps serving. Only if the thread does not unwind is the process replaced.
enum RequestInterrupt {
    struct Running {
        let api: InterpreterAPI
        let start: Int64
    }

    /// The requests running now, by Python thread ident (GIL held). Kept only in a daemon
    /// group with interrupt-timeout set: nothing is recorded otherwise.
    nonisolated(unsafe) static var running: [UInt: Running] = [:]

    /// Read once, on the first request (after the daemon process has its group).
    static let enabled: Bool = (DaemonProcess.state?.group.interruptTimeout ?? 0) > 0

    static func began(_ api: InterpreterAPI, start: Int64) {
        let ident = PyThread_get_thread_ident()
        Interpreters.shared { running[ident] = Running(api: api, start: start) }
    }

    static func ended() {
        let ident = PyThread_get_thread_ident()
        Interpreters.shared { running[ident] = nil }
    }

    /// From the supervisor thread (no GIL): raises RequestTimeout in the thread `ident` (the
    /// daemon's worker thread `index`), if it runs a request, logging what mod_wsgi 6.x logs.
    static func interrupt(thread ident: UInt, index: Int, group g: DaemonGroupConfig) {
        guard wsgi_atomic_load(PythonRuntime.running) != 0, ident != 0 else { return }
        let target = Interpreters.shared { running[ident] }
        guard let target else { return }
        Log.server(
            APLOG_INFO, .daemonRequestInterrupting,
            "Dumping stack trace for thread \(index) of daemon process '\(g.name)' which has exceeded request-timeout of \(g.requestTimeout) seconds, before injecting RequestTimeout to unwind it."
        )
        _ = Interpreters.acquire(target.api.name)
        // Only if that thread still runs the request begun then (not a newer one).
        let current = Interpreters.shared { running[ident] }
        if let current, current.start == target.start, let exc = target.api.requestTimeout {
            var t = PyInterpreterState_ThreadHead(PyThreadState_GetInterpreter(PyThreadState_Get()))
            while let ts = t {
                if ts.pointee.thread_id == ident { Monitor.logStack(ts) }
                t = PyThreadState_Next(ts)
            }
            _ = PyThreadState_SetAsyncExc(ident, exc)
        }
        PyErr_Clear()
        Interpreters.release()
        Log.server(
            APLOG_INFO, .daemonRequestTimeoutInjected,
            "Injected RequestTimeout into thread \(index) of daemon process '\(g.name)'.")
    }

    /// In the request's thread: the pending exception is the injected RequestTimeout.
    static func isPending(_ api: InterpreterAPI) -> Bool {
        guard let exc = api.requestTimeout else { return false }
        return PyErr_ExceptionMatches(exc) != 0
    }
}
