import CWSGICore

/// How mod_wsgi 6.x names where Python code runs, in its log lines: "main interpreter in
/// embedded mode", "sub-interpreter 'name' of daemon process 'group'".
package enum InterpreterContext {
    package static func interpreter(_ applicationGroup: String) -> String {
        applicationGroup.isEmpty ? "main interpreter" : "sub-interpreter '\(applicationGroup)'"
    }

    package static func describe(_ applicationGroup: String) -> String {
        if let group = DaemonProcess.state?.group.name {
            return interpreter(applicationGroup) + " of daemon process '\(group)'"
        }
        return interpreter(applicationGroup) + " in embedded mode"
    }

    /// The header of mod_wsgi 6.x's report of the pending Python exception about a script,
    /// naming its class: the traceback follows it. SystemExit has its own (it is ignored).
    /// Reads the pending exception without taking it.
    package static func exceptionHeader(script: String, applicationGroup: String) -> String {
        let where_ = describe(applicationGroup)
        if PyErr_ExceptionMatches(wsgi_exc_system_exit()) != 0 {
            return "SystemExit exception raised by WSGI script '\(script)' for \(where_); ignored."
        }
        let name = PyErr_Occurred().map { String(cString: wsgi_class_name($0)) } ?? "Exception"
        return "\(name) exception raised processing WSGI script '\(script)' for \(where_)."
    }
}
