import CWSGICore

/// Applies the resolved interpreter options (Config/InterpreterOptions.swift) to Python:
/// the switch interval at a process's start and at each sub-interpreter's creation, and the
/// GIL choice of a new sub-interpreter.
extension InterpreterOptions {
    /// The options of interpreter `name` in this process.
    static func forInterpreter(_ name: String) -> ResolvedInterpreterOptions {
        let s = PythonRuntime.settings
        return resolve(
            processGroup: ModuleState.processGroup, applicationGroup: name,
            global: PythonRuntime.settings.interpreterOptions,
            restrictDefaults: (s.restrictStdin, s.restrictStdout, s.restrictSignal))
    }

    /// Free threading for this process (read before Python starts).
    static var freeThreadingHere: Bool {
        freeThreading(processGroup: ModuleState.processGroup, global: PythonRuntime.settings.interpreterOptions)
    }

    /// sys.setswitchinterval(seconds) in the interpreter whose GIL the caller holds.
    static func setSwitchInterval(_ seconds: Double, for name: String) {
        let label = name.isEmpty ? "the main interpreter" : "interpreter '\(name)'"
        guard let sys = PyImport_ImportModule("sys") else {
            PyErr_Clear()
            return
        }
        defer { wsgi_decref(sys) }
        let value = PyFloat_FromDouble(seconds)!
        defer { wsgi_decref(value) }
        let function = PyObject_GetAttrString(sys, "setswitchinterval")
        defer { if let function { wsgi_decref(function) } }
        if let function, let r = PyObject_CallOneArg(function, value) {
            wsgi_decref(r)
            Log.server(APLOG_INFO, .switchIntervalSet, "Set switch interval \(seconds)s for \(label).")
        } else {
            let lines = Py.takeExceptionLines()
            Log.server(
                APLOG_ERR, .switchIntervalFailed,
                "Could not set switch interval \(seconds)s for \(label): \(lines.last ?? "unknown error")")
        }
    }

    /// At a process's start, with the GIL of the main interpreter held: the daemon group's
    /// switch-interval=, else the resolved WSGISwitchInterval of the main interpreter.
    static func applyAtStart(group: DaemonGroupConfig?) {
        let resolved = forInterpreter("")
        guard let seconds = group?.switchInterval ?? resolved.switchInterval else { return }
        if wsgi_python_free_threading_build() != 0 && freeThreadingHere {
            Log.server(
                APLOG_WARNING, .switchIntervalSkipped,
                "Skipping switch interval \(seconds)s: free-threading is active in this process so there is no GIL switch interval to set."
            )
            return
        }
        setSwitchInterval(seconds, for: "")
    }

    /// In a new sub-interpreter (its GIL held): its own switch interval, when it has one to
    /// itself. An application-group block's value is skipped when the interpreter shares the
    /// process's GIL: setting it would change every interpreter's, as mod_wsgi says.
    static func applyToSubInterpreter(_ name: String, ownGIL: Bool) {
        let r = forInterpreter(name)
        guard let seconds = r.switchInterval, r.switchIntervalAppScoped || ownGIL else { return }
        if wsgi_python_free_threading_build() != 0 && freeThreadingHere {
            Log.server(
                APLOG_WARNING, .subInterpreterSwitchIntervalNoGIL,
                "Skipping per-interpreter switch interval \(seconds)s for interpreter '\(name)': free-threading is active in this process so there is no GIL switch interval to set."
            )
            return
        }
        if r.switchIntervalAppScoped && !ownGIL {
            Log.server(
                APLOG_WARNING, .subInterpreterSwitchIntervalSkipped,
                "Skipping per-interpreter switch interval \(seconds)s for interpreter '\(name)': setting it would mutate the process-global value because this interpreter does not have its own GIL."
            )
            return
        }
        setSwitchInterval(seconds, for: name)
    }
}
