import CModWSGI
import WSGICore

/// A script of WSGIAccessScript, WSGIAuthUserScript, WSGIAuthGroupScript or
/// WSGIDispatchScript: `path [application-group=NAME]`. It always runs in Apache's child
/// process (never a daemon), in the interpreter named by application-group (default
/// %{GLOBAL}, the main one), and is reloaded when it changes if WSGIScriptReloading is On.
struct HookScript {
    var path: String
    var applicationGroup: String?

    static func parse(_ args: [String], fail: (String) -> DirectiveError) throws -> HookScript {
        var script = HookScript(path: args[0])
        for opt in args.dropFirst() {
            guard let (k, v) = splitOption(opt), k == "application-group" else {
                throw fail(
                    "Invalid option to WSGI script definition: '\(opt)'; the only option is application-group=NAME")
            }
            if v == "%{RESOURCE}" {
                throw fail(
                    "application-group=%{RESOURCE} needs a WSGI application; use %{GLOBAL}, %{SERVER}, %{ENV:name} or a name"
                )
            }
            if let problem = ApplicationGroup.validate(v) { throw fail(problem) }
            script.applicationGroup = v
        }
        return script
    }

    /// The interpreter name for this request ("" is the main interpreter).
    func interpreterName(_ r: UnsafeMutablePointer<request_rec>) -> String {
        RequestHandler.applicationGroupName(applicationGroup ?? "%{GLOBAL}", r)
    }
}

/// Runs one function of a hook script for one request.
enum HookRunner {
    /// What a hook call gave: the function's result (a new reference), or why not.
    enum Outcome {
        case returned(PyObj)
        /// Python unavailable, the script missing or failing to load, or the function
        /// missing: already logged.
        case unavailable
        /// The function raised: the traceback is already logged.
        case raised
    }

    /// Runs `body` with the GIL held in the script's interpreter and the script's module
    /// (loaded, or reloaded if it changed); `unavailable` when Python, the script or its
    /// module cannot be had (already logged). The context expires when `body` returns.
    static func withModule<T>(
        _ r: UnsafeMutablePointer<request_rec>, _ script: HookScript, kind: String,
        dir: DirConfig, unavailable: (HookContext) -> T,
        body: (HookContext, PyObj) -> T
    ) -> T {
        let context = HookContext(r, script: script, dir: dir)
        guard PythonRuntime.initialized else {
            Log.request(
                APLOG_ERR, .hookWithoutPython,
                "Python is not available in this process (\(PythonRuntime.failure ?? "not initialised")); cannot run WSGI \(kind) script '\(script.path)'.",
                r)
            return unavailable(context)
        }
        guard let mtime = ScriptLoader.mtime(script.path) else {
            Log.request(
                APLOG_ERR, .hookScriptFailed, "Target WSGI \(kind) script not found or unable to stat: \(script.path)",
                r)
            return unavailable(context)
        }
        let interp = Interpreters.acquire(context.interpreterName)
        defer { Interpreters.release() }
        context.interp = interp
        guard
            let module = ScriptLoader.load(
                interp, path: script.path, mtime: mtime, reload: context.reloading,
                log: { Log.request($0, $1, $2, r) })
        else {
            return unavailable(context)
        }
        let answer = body(context, module)
        if PyErr_Occurred() != nil { logException(r, script: script.path) }
        context.expire()
        return answer
    }

    /// Calls `function(environ, *args)` from `script`; `interpret` turns the outcome into
    /// the hook's answer while the request objects are still valid and the GIL held.
    /// `kind` names the script in messages ("host access", "user authentication"…).
    /// `args` are passed as str decoded as latin-1: raw bytes never fail to decode.
    static func call<T>(
        _ r: UnsafeMutablePointer<request_rec>, _ script: HookScript, kind: String,
        function: String, args: [UnsafePointer<CChar>], dir: DirConfig,
        interpret: (Outcome) -> T
    ) -> T {
        withModule(r, script, kind: kind, dir: dir, unavailable: { _ in interpret(.unavailable) }) { context, module in
            guard let f = PyDict_GetItemString(PyModule_GetDict(module), function) else {
                Log.request(
                    APLOG_ERR, .hookFunctionMissing,
                    "Target WSGI \(kind) script '\(script.path)' does not provide '\(function)()'.", r)
                return interpret(.unavailable)
            }
            wsgi_incref(f)
            defer { wsgi_decref(f) }
            guard let environ = context.environ() else {
                logException(r, script: script.path)
                return interpret(.unavailable)
            }
            var items = [environ]
            for a in args { items.append(Py.latin1(a)) }
            let argTuple = Py.tuple(items)
            defer { wsgi_decref(argTuple) }
            guard let result = PyObject_Call(f, argTuple, nil) else {
                logException(r, script: script.path)
                return interpret(.raised)
            }
            defer { wsgi_decref(result) }
            return interpret(.returned(result))
        }
    }

    /// Logs the pending Python exception with its traceback against the request, under
    /// mod_wsgi 6.x's header naming its class, the script and the interpreter (GIL held, in
    /// the script's interpreter).
    static func logException(_ r: UnsafeMutablePointer<request_rec>, script: String) {
        let group = Interpreters.currentName
        let header = InterpreterContext.exceptionHeader(script: script, applicationGroup: group)
        let lines = Py.takeExceptionLines()
        Log.request(APLOG_ERR, .hookException, ([header] + lines).joined(separator: "\n"), r)
    }
}
