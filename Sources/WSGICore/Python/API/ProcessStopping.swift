import CWSGICore

/// The process_stopping event, once per interpreter when the process ends, with
/// mod_wsgi's `shutdown_reason`: request_timeout, startup_timeout, restart_interval,
/// inactivity_timeout, cpu_time_limit, graceful_signal, script_reload (6.x: a script to load
/// anew), or '' (normal stop, maximum-requests). Event subscribers run first, then subscribe_shutdown's.
package enum ProcessStopping {
    /// Set by the daemon supervisor when it decides to stop the process.
    nonisolated(unsafe) package static var reason = ""
    nonisolated(unsafe) private static var publisher: pthread_t?

    /// The supervisor's wording of why a daemon process stops → mod_wsgi's reason.
    static func note(_ why: String) {
        guard reason.isEmpty else { return }
        func has(_ s: String, _ part: String) -> Bool {
            let a = Array(s.utf8), b = Array(part.utf8)
            guard b.count <= a.count else { return false }
            return (0...(a.count - b.count)).contains { a[$0..<($0 + b.count)].elementsEqual(b) }
        }
        if has(why, "CPU time limit") {
            reason = "cpu_time_limit"
        } else if has(why, "graceful restart signal") {
            reason = "graceful_signal"
        } else if has(why, "restart-interval") {
            reason = "restart_interval"
        } else if has(why, "inactivity-timeout") {
            reason = "inactivity_timeout"
        } else if has(why, "startup-timeout") {
            reason = "startup_timeout"
        } else if has(why, "request-timeout") || has(why, "request time limit") {
            reason = "request_timeout"
        } else if has(why, "changed script") {
            reason = "script_reload"  // mod_wsgi 6.x
        }
    }

    /// From the daemon supervisor, as it starts stopping: delivered on a thread of its
    /// own (a callback must not stall the supervisor); `publishAll` waits for it. Only the
    /// supervisor's thread touches `publisher` (the new thread read it while it was being
    /// assigned: ThreadSanitizer, make sanitize).
    static func publishSoon() {
        guard PythonRuntime.initialized, publisher == nil else { return }
        publisher = DaemonProcess.spawn { deliver() }
    }

    /// At exit, on the supervisor's thread: waits for publishSoon's thread, then delivers
    /// what it has not.
    static func publishAll() {
        if let t = publisher { pthread_join(t, nil); publisher = nil }
        deliver()
    }

    /// Delivers process_stopping in every interpreter that has not had it (without the GIL).
    private static func deliver() {
        _ = Interpreters.acquire("")
        let apis = Interpreters.shared { InterpreterAPI.all }
        Interpreters.release()
        for api in apis {
            _ = Interpreters.acquire(api.name)
            if !api.stoppingPublished {
                api.stoppingPublished = true
                if api.hasAnySubscribers {
                    let e = PyDict_New()!
                    Py.setItem(e, "shutdown_reason", Py.string(reason))
                    InterpreterAPI.publish(api.eventCallbacks, "process_stopping", e)
                    InterpreterAPI.publish(api.shutdownCallbacks, "process_stopping", e)
                    wsgi_decref(e)
                }
            }
            Interpreters.release()
        }
    }
}

extension InterpreterAPI {
    var hasAnySubscribers: Bool { wsgi_list_size(eventCallbacks) > 0 || wsgi_list_size(shutdownCallbacks) > 0 }
}
