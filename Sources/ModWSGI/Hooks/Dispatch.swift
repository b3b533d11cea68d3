import CModWSGI
import WSGICore

/// WSGIDispatchScript: before a WSGI request runs, `process_group(environ)`,
/// `application_group(environ)` and `callable_object(environ)` (each optional) may
/// choose where it runs. None keeps the configured value; a str (or bytes) is expanded
/// like the directives (%{GLOBAL}, %{RESOURCE}, %{SERVER}, %{ENV:name}); another type or
/// an exception → 500 and the rest is skipped. Runs in Apache's child, in the
/// interpreter of its application-group= (default the main one), never in a daemon.
enum Dispatch {
    /// What the script chose: unexpanded values, nil where it kept the configured one.
    struct Choice {
        var processGroup: String?
        var applicationGroup: String?
        var callableObject: String?
    }

    /// The choice, or nil when the request must fail with 500 (logged).
    static func run(
        _ r: UnsafeMutablePointer<request_rec>, _ script: HookScript, dir: DirConfig,
        env: OpaquePointer?
    ) -> Choice? {
        let kind = "dispatch"
        return HookRunner.withModule(r, script, kind: kind, dir: dir, unavailable: { _ in nil }) {
            context, module -> Choice? in
            // The environ: every CGI variable of the request (SetEnv included), with the
            // dispatch interpreter as mod_wsgi.application_group.
            let environ = PyDict_New()!
            defer { wsgi_decref(environ) }
            RequestHandler.fillFromTable(environ, env)
            PyDict_DelItemString(environ, "mod_wsgi.callable_object"); PyErr_Clear()
            Py.setItem(environ, "mod_wsgi.process_group", Py.string(""))
            Py.setItem(environ, "mod_wsgi.application_group", Py.string(context.interpreterName))
            context.addCommon(environ)

            var choice = Choice()
            let dict = PyModule_GetDict(module)!
            for name in ["process_group", "application_group", "callable_object"] {
                guard let f = PyDict_GetItemString(dict, name) else { continue }
                let args = Py.tuple([wsgi_new_ref(environ)])
                let result = PyObject_Call(f, args, nil)
                wsgi_decref(args)
                guard let result else {
                    HookRunner.logException(r, script: script.path)
                    return nil
                }
                defer { wsgi_decref(result) }
                if result == wsgi_py_none() { continue }
                let value: String
                if let s = Py.swiftString(result) {
                    value = s
                } else if wsgi_bytes_check(result) != 0 {
                    value = String(
                        decoding: UnsafeRawBufferPointer(
                            start: wsgi_bytes_data(result), count: wsgi_bytes_size(result)), as: UTF8.self)
                } else {
                    Log.request(
                        APLOG_ERR, .dispatchFailed,
                        "Value returned by \(name)() of WSGI dispatch script '\(script.path)' must be a string or None, not \(String(cString: wsgi_type_name(result))).",
                        r)
                    return nil
                }
                switch name {
                case "process_group": choice.processGroup = value
                case "application_group":
                    if let problem = ApplicationGroup.validate(value) {
                        Log.request(
                            APLOG_ERR, .dispatchBadGroup,
                            "application_group() of WSGI dispatch script '\(script.path)' returned \(problem).", r)
                        return nil
                    }
                    choice.applicationGroup = value
                default: choice.callableObject = value
                }
            }
            return choice
        }
    }
}
