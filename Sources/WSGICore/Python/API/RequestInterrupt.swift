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

    /// From the supervisor thread (no GIL): raises RequestTimeout in every request thread
    /// running for longer than `limit` µs, or in the longest-running one if none is.
    /// Returns how many were interrupted.
    static func interrupt(longerThan limit: Int64) -> Int {
        guard PythonRuntime.initialized else { return 0 }
        _ = Interpreters.acquire("")
        let now = Int64(wsgi_now())
        let running = Interpreters.shared { Self.running }
        var targets = running.filter { now - $0.value.start > limit }
        if targets.isEmpty, let longest = running.min(by: { $0.value.start < $1.value.start }) {
            targets = [longest.key: longest.value]
        }
        Interpreters.release()
        var n = 0
        for (ident, r) in targets {
            _ = Interpreters.acquire(r.api.name)
            // Only if that thread still runs a request begun then (not a newer one).
            let current = Interpreters.shared { running[ident] }
            if let current, current.start == r.start, let exc = r.api.requestTimeout {
                n += Int(PyThreadState_SetAsyncExc(ident, exc))
            }
            Interpreters.release()
        }
        return n
    }

    /// In the request's thread: the pending exception is the injected RequestTimeout.
    static func isPending(_ api: InterpreterAPI) -> Bool {
        guard let exc = api.requestTimeout else { return false }
        return PyErr_ExceptionMatches(exc) != 0
    }
}
