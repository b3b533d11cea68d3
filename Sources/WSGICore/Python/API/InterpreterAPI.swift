import CWSGICore

/// What the `mod_wsgi` module holds per interpreter, as mod_wsgi 4.9 does: the
/// subscribers of `subscribe_events` / `subscribe_shutdown` (plain lists) and
/// `active_requests` (request id → that request's `request_data()` dict).
/// Touched only with the GIL held.
final class InterpreterAPI {
    let name: String
    let eventCallbacks: PyObj
    let shutdownCallbacks: PyObj
    let activeRequests: PyObj
    /// mod_wsgi.RequestTimeout of this interpreter (interrupt-timeout).
    var requestTimeout: PyObj?
    /// process_stopping was delivered in this interpreter (once per interpreter).
    var stoppingPublished = false

    init(name: String) {
        self.name = name
        eventCallbacks = PyList_New(0)!
        shutdownCallbacks = PyList_New(0)!
        activeRequests = PyDict_New()!
    }

    /// Whether anybody subscribed: the one check a request pays when nobody did.
    @inline(__always) var hasSubscribers: Bool { wsgi_list_size(eventCallbacks) > 0 }

    /// Every interpreter's API state, for process_stopping (GIL held, or single-threaded).
    nonisolated(unsafe) static var all: [InterpreterAPI] = []

    @inline(__always) static func of(_ interp: Interpreter) -> InterpreterAPI {
        if let api = interp.api { return api }
        let api = InterpreterAPI(name: interp.name)
        interp.api = api
        Interpreters.shared { all.append(api) }
        return api
    }

    /// Calls every callback `cb(name, **event)` in the current interpreter; a dict it
    /// returns is merged into `event`; one that raises is logged and the others still run.
    /// Logged as mod_wsgi 6.x does: server-level lines (no client prefix).
    static func publish(_ callbacks: PyObj, _ name: String, _ event: PyObj) {
        guard let copy = PySequence_List(callbacks) else { PyErr_Clear(); return }
        defer { wsgi_decref(copy) }
        let args = Py.tuple([Py.string(name)])
        defer { wsgi_decref(args) }
        for i in 0..<wsgi_list_size(copy) {
            let cb = wsgi_list_get(copy, i)!
            if let r = PyObject_Call(cb, args, event) {
                if wsgi_dict_check(r) != 0 { PyDict_Update(event, r) }
                wsgi_decref(r)
            } else {
                // As mod_wsgi 6.x: the server's line naming the class and the event, then the
                // traceback (every line with the ID).
                let header =
                    PyErr_ExceptionMatches(wsgi_exc_system_exit()) != 0
                    ? "SystemExit exception raised by event callback for '\(name)'; ignored."
                    : "\(PyErr_Occurred().map { String(cString: wsgi_class_name($0)) } ?? "Exception") exception raised by event callback for '\(name)'."
                let lines = Py.takeExceptionLines()
                Log.server(APLOG_ERR, .eventCallbackFailed, ([header] + lines).joined(separator: "\n"))
            }
        }
    }
}
