import CWSGICore

/// Loads WSGI script files as modules named `_mod_wsgi_<hash>` (one per path and
/// interpreter), reloading one that changed on disk when WSGIScriptReloading is On.
package enum ScriptLoader {
    static func moduleName(_ path: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in path.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let hex = String(h, radix: 16)
        return "_mod_wsgi_" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The module for `path` (borrowed reference, owned by the interpreter's cache), or
    /// nil with the error logged through `log`. Called with the GIL held.
    package static func load(
        _ interp: Interpreter, path: String, mtime: Int, reload: Bool,
        log: (Int32, LogID, String) -> Void
    ) -> PyObj? {
        // WSGICaseSensitivity Off: paths differing only in case are one script (one module).
        let key = PythonRuntime.settings.caseSensitive ? path : path.lowercased()
        // The script's own reload_required(resource) may ask for a reload (mod_wsgi 4.9).
        var forced = false
        if let cached = interp.scripts[key] {
            if !reload { return cached.module }
            if cached.mtime == mtime {
                if !reloadRequired(cached.module, resource: path, log: log) { return cached.module }
                forced = true
            }
        }
        // Serialise loading in this interpreter; never wait for the lock holding the GIL.
        let save = PyEval_SaveThread()
        interp.scriptLock.lock()
        PyEval_RestoreThread(save)
        defer { interp.scriptLock.unlock() }
        if !forced, let cached = interp.scripts[key], !reload || cached.mtime == mtime {
            return cached.module
        }
        let reloading = interp.scripts[key] != nil
        // As mod_wsgi logs them (info).
        if reloading {
            log(APLOG_INFO, .scriptReloaded, "Reloading WSGI script '\(path)'.")
        } else {
            log(APLOG_INFO, .scriptLoading, "Loading Python script file '\(path)'.")
        }
        interp.loadFailureReports[path] = nil  // only this attempt's failure is shown
        guard let source = readSmallFile(path) else {
            log(
                APLOG_ERR, .scriptUnreadable,
                "Target WSGI script '\(path)' cannot be loaded as Python module: \(String(cString: strerror(wsgi_errno())))."
            )
            return nil
        }
        let name = moduleName(key)
        guard let module = PyModule_New(name) else { return nil }
        let dict = PyModule_GetDict(module)!
        Py.setItem(dict, "__file__", Py.string(path))
        PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins())
        let modules = PyImport_GetModuleDict()!
        PyDict_SetItemString(modules, name, module)
        var ok = false
        if let code = Py_CompileStringExFlags(source, path, Py_file_input, nil, -1) {
            if let r = PyEval_EvalCode(code, dict, dict) { wsgi_decref(r); ok = true }
            wsgi_decref(code)
        }
        if !ok {
            let (target, show) = loaderSettings(dict)
            let lines = Py.takeExceptionLines(droppingLeadingFramesOf: target == nil ? nil : path)
            let what =
                target.map { $0.hasPrefix("/") ? "WSGI script '\($0)'" : "WSGI module '\($0)'" }
                ?? "WSGI script '\(path)'"
            let header = "Target \(what) cannot be loaded as Python module."
            // One message: the traceback's lines carry the header's prefix and ID.
            log(APLOG_ERR, .scriptLoadFailed, ([header] + lines).joined(separator: "\n"))
            if show { interp.loadFailureReports[path] = [header] + lines }
            PyDict_DelItemString(modules, name)
            PyErr_Clear()
            wsgi_decref(module)
            if reloading, let old = interp.scripts.removeValue(forKey: key) { wsgi_decref(old.module) }
            return nil
        }
        if let old = interp.scripts[key] { wsgi_decref(old.module) }
        interp.scripts[key] = (module, mtime)
        return module
    }

    /// Calls the module's `reload_required(resource)` if it has one: True asks for a
    /// reload; an exception is logged with its traceback and counts as False.
    static func reloadRequired(_ module: PyObj, resource: String, log: (Int32, LogID, String) -> Void) -> Bool {
        guard let dict = PyModule_GetDict(module), let f = PyDict_GetItemString(dict, "reload_required") else {
            return false
        }
        wsgi_incref(f)
        defer { wsgi_decref(f) }
        let arg = Py.string(resource)
        defer { wsgi_decref(arg) }
        guard let r = PyObject_CallOneArg(f, arg) else {
            let lines = Py.takeExceptionLines()
            log(
                APLOG_ERR, .reloadRequiredFailed,
                "Exception occurred in reload_required() of WSGI script '\(resource)'.")
            for l in lines { log(APLOG_ERR, .reloadRequiredTraceback, l) }
            return false
        }
        defer { wsgi_decref(r) }
        let yes = PyObject_IsTrue(r)
        if yes < 0 { PyErr_Clear(); return false }
        return yes == 1
    }

    /// A script that loads the application from elsewhere (mod_wsgi-express's handler.wsgi)
    /// names it in `__mod_wsgi_target__` (a path, or a module name) before loading it: a
    /// failure to load is then reported against that file or module, with the traceback
    /// starting there rather than in the loading script. With `__mod_wsgi_show_load_errors__`
    /// true (debug mode) the report is also the body of the 500 response. Keeps the pending
    /// exception.
    static func loaderSettings(_ dict: PyObj) -> (target: String?, show: Bool) {
        var type: PyObj?, value: PyObj?, tb: PyObj?
        PyErr_Fetch(&type, &value, &tb)
        defer { PyErr_Restore(type, value, tb) }
        let target = Py.swiftString(PyDict_GetItemString(dict, "__mod_wsgi_target__"))
        let show = PyDict_GetItemString(dict, "__mod_wsgi_show_load_errors__") == wsgi_py_true()
        return (target, show)
    }

    package static func mtime(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec)
    }
}
