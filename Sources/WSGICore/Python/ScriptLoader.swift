import CWSGICore

/// Loads WSGI script files as modules named `_mod_wsgi_<md5 of the path>` (one per path and
/// interpreter, as mod_wsgi names them), loading one anew when WSGIScriptReloading is On and,
/// as mod_wsgi 6.x decides it: its `__mtime__` (the file's mtime in µs, set at load) is no
/// longer the file's or can no longer be read, or its own `reload_required(resource)` says
/// True. In a daemon process the process restarts instead (`LoadResult.stale`).
package enum ScriptLoader {
    static func moduleName(_ path: String) -> String {
        let digest = MD5.digest(path.utf8)
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var name = Array("_mod_wsgi_".utf8)
        for b in digest {
            name.append(hex[Int(b >> 4)])
            name.append(hex[Int(b & 15)])
        }
        return String(decoding: name, as: UTF8.self)
    }

    package enum LoadResult {
        case module(PyObj)
        /// Logged; no module.
        case failed
        /// The loaded module is out of date and `reloadInPlace` was false: the caller restarts
        /// the process (mod_wsgi's daemon mode).
        case stale
    }

    /// The module for `path` (borrowed reference, owned by the interpreter's cache), or nil
    /// with the error logged through `log` (about the request) or `logServer` (the loading
    /// lines, which mod_wsgi writes as the server's). Called with the GIL held.
    package static func load(
        _ interp: Interpreter, path: String, mtime: Int, reload: Bool,
        logServer: (Int32, LogID, String) -> Void = { Log.server($0, $1, $2) },
        log: (Int32, LogID, String) -> Void
    ) -> PyObj? {
        switch load(
            interp, path: path, mtime: mtime, reload: reload, reloadInPlace: true, logServer: logServer, log: log)
        {
        case .module(let m): return m
        case .failed, .stale: return nil
        }
    }

    static func load(
        _ interp: Interpreter, path: String, mtime: Int, reload: Bool, reloadInPlace: Bool,
        logServer: (Int32, LogID, String) -> Void, log: (Int32, LogID, String) -> Void
    ) -> LoadResult {
        // WSGICaseSensitivity Off: paths differing only in case are one script (one module).
        let key = PythonRuntime.settings.caseSensitive ? path : path.lowercased()
        var forced = false
        if let cached = interp.scripts[key] {
            if !reload { return .module(cached.module) }
            if cached.mtime >= 0 && loadedMtime(cached.module) == mtime {
                if !reloadRequired(cached.module, resource: path, interp: interp, log: log) {
                    return .module(cached.module)
                }
                forced = true
            }
            if !reloadInPlace { return .stale }
        }
        // Serialise loading in this interpreter; never wait for the lock holding the GIL.
        let save = PyEval_SaveThread()
        interp.scriptLock.lock()
        PyEval_RestoreThread(save)
        defer { interp.scriptLock.unlock() }
        if !forced, let cached = interp.scripts[key],
            !reload || (cached.mtime >= 0 && loadedMtime(cached.module) == mtime)
        {
            return .module(cached.module)
        }
        let reloading = interp.scripts[key] != nil
        let into = InterpreterContext.describe(interp.name)
        if reloading {
            logServer(APLOG_INFO, .scriptReloaded, "Reloading WSGI script '\(path)' into \(into).")
        } else {
            logServer(APLOG_INFO, .scriptLoading, "Loading WSGI script '\(path)' into \(into).")
        }
        interp.loadFailureReports[path] = nil  // only this attempt's failure is shown
        guard let source = readSmallFile(path) else {
            log(APLOG_ERR, .scriptUnreadable, "Could not read or compile WSGI script '\(path)' for \(into).")
            return .failed
        }
        let name = moduleName(key)
        guard let module = PyModule_New(name) else { return .failed }
        let dict = PyModule_GetDict(module)!
        Py.setItem(dict, "__file__", Py.string(path))
        PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins())
        let modules = PyImport_GetModuleDict()!
        PyDict_SetItemString(modules, name, module)
        var ok = false
        var compiled = false
        if let code = Py_CompileStringExFlags(source, path, Py_file_input, nil, -1) {
            compiled = true
            if let r = PyEval_EvalCode(code, dict, dict) { wsgi_decref(r); ok = true }
            wsgi_decref(code)
        }
        if !ok {
            let (target, show) = loaderSettings(dict)
            let report = failureReport(path: path, target: target, compiled: compiled, interp: interp)
            // One message: the traceback's lines carry the first line's ID.
            log(APLOG_ERR, .scriptLoadFailed, report.joined(separator: "\n"))
            if show { interp.loadFailureReports[path] = report }
            PyDict_DelItemString(modules, name)
            PyErr_Clear()
            wsgi_decref(module)
            if reloading, let old = interp.scripts.removeValue(forKey: key) { wsgi_decref(old.module) }
            return .failed
        }
        // As mod_wsgi: the file's mtime (µs) as the module's __mtime__, checked on each request.
        Py.setItem(dict, "__mtime__", PyLong_FromLongLong(Int64(mtime)))
        if let old = interp.scripts[key] { wsgi_decref(old.module) }
        interp.scripts[key] = (module, mtime)
        return .module(module)
    }

    /// The report of a script that failed to load, as mod_wsgi 6.x writes it: what failed
    /// (compiling, or running the module's code: SystemExit has its own line and no
    /// traceback), the exception's header naming its class, then its traceback. Takes the
    /// pending exception.
    ///
    /// A script that loads the application from elsewhere (mod_wsgi-express's handler.wsgi)
    /// names it in `__mod_wsgi_target__` (a path, or a module name): the report then names
    /// that file or module, with the traceback starting there rather than in the loader.
    static func failureReport(path: String, target: String?, compiled: Bool, interp: Interpreter) -> [String] {
        let named = target ?? path
        let into = InterpreterContext.describe(interp.name)
        if PyErr_ExceptionMatches(wsgi_exc_system_exit()) != 0 {
            PyErr_Clear()
            return ["SystemExit exception raised when doing exec of Python script file '\(named)'."]
        }
        let syntax = !compiled || PyErr_ExceptionMatches(wsgi_exc_syntax_error()) != 0
        let first: String
        if syntax {
            first = "Could not read or compile WSGI script '\(named)' for \(into)."
        } else if let target, !target.hasPrefix("/") {
            first = "Unable to import Python module '\(target)'."
        } else {
            first = "Unable to execute Python script file '\(named)'."
        }
        let header = InterpreterContext.exceptionHeader(script: named, applicationGroup: interp.name)
        let lines = Py.takeExceptionLines(droppingLeadingFramesOf: target == nil ? nil : path)
        return [first, header] + lines
    }

    /// The module's `__mtime__`, or nil when it can no longer be read (removed, not an int).
    static func loadedMtime(_ module: PyObj) -> Int? {
        guard let dict = PyModule_GetDict(module), let key = EnvironKeys.current.key("__mtime__"),
            let v = PyDict_GetItem(dict, key)
        else { return nil }
        let n = PyLong_AsLongLong(v)
        if n == -1 && PyErr_Occurred() != nil { PyErr_Clear(); return nil }
        return Int(n)
    }

    /// Calls the module's `reload_required(resource)` if it has one: True asks for a
    /// reload; an exception is logged with its traceback and counts as False (as mod_wsgi
    /// 6.x: a failing callback must not restart a daemon process on every request).
    static func reloadRequired(
        _ module: PyObj, resource: String, interp: Interpreter, log: (Int32, LogID, String) -> Void
    ) -> Bool {
        guard let dict = PyModule_GetDict(module), let key = EnvironKeys.current.key("reload_required"),
            let f = PyDict_GetItem(dict, key)
        else {
            return false
        }
        wsgi_incref(f)
        defer { wsgi_decref(f) }
        let arg = Py.string(resource)
        defer { wsgi_decref(arg) }
        let r = PyObject_CallOneArg(f, arg)
        var yes: Int32 = 0
        if let r {
            yes = PyObject_IsTrue(r)
            wsgi_decref(r)
        }
        if PyErr_Occurred() != nil {
            let header = InterpreterContext.exceptionHeader(script: resource, applicationGroup: interp.name)
            log(APLOG_ERR, .reloadRequiredFailed, ([header] + Py.takeExceptionLines()).joined(separator: "\n"))
            return false
        }
        return yes == 1
    }

    /// A script that loads the application from elsewhere names it in `__mod_wsgi_target__`;
    /// with `__mod_wsgi_show_load_errors__` true (debug mode) the report is also the body of
    /// the 500 response. Keeps the pending exception.
    static func loaderSettings(_ dict: PyObj) -> (target: String?, show: Bool) {
        var type: PyObj?, value: PyObj?, tb: PyObj?
        PyErr_Fetch(&type, &value, &tb)
        defer { PyErr_Restore(type, value, tb) }
        let target = Py.swiftString(PyDict_GetItemString(dict, "__mod_wsgi_target__"))
        let show = PyDict_GetItemString(dict, "__mod_wsgi_show_load_errors__") == wsgi_py_true()
        return (target, show)
    }

    /// The file's mtime in µs (Apache's apr_time_t, as r->finfo.mtime and mod_wsgi's __mtime__).
    package static func mtime(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int(st.st_mtim.tv_sec) * 1_000_000 + Int(st.st_mtim.tv_nsec) / 1000
    }
}
