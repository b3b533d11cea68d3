import CWSGICore

/// The functions of the `mod_wsgi` module (mod_wsgi 4.9's, plus 6.x's
/// start_recording_metrics, and `_mtime` for the express handler script). Each interpreter gets its own function objects whose
/// `self` carries that interpreter's InterpreterAPI.
enum ModuleFunctions {
    static let stateType = NativeType(name: "mod_wsgi._InterpreterState")

    private static func api(_ o: PyObj?) -> InterpreterAPI { NativeType.object(o, as: InterpreterAPI.self) }

    private static func def(_ name: String, _ flags: Int32, _ f: PyCMethod) -> UnsafeMutablePointer<PyMethodDef> {
        let d = UnsafeMutablePointer<PyMethodDef>.allocate(capacity: 1)
        d.pointee = PyMethodDef(ml_name: UnsafePointer(strdup(name)), ml_meth: f, ml_flags: flags, ml_doc: nil)
        return d
    }

    private static func subscribe(_ list: PyObj, _ cb: PyObj?) -> PyObj? {
        guard let cb, PyCallable_Check(cb) != 0 else {
            Py.raise(wsgi_exc_type_error(), "callback must be callable"); return nil
        }
        PyList_Append(list, cb)
        return Py.none
    }

    /// `_mtime(path)`: the file's modification time as a float, as `os.path.getmtime` gives
    /// it, but with the GIL kept. The express handler script checks its entry point on every
    /// request (mod_wsgi-express's reload_required); `os.stat` releases the GIL around the
    /// call, and under load that hands the GIL to another thread and back for a stat that
    /// takes a microsecond (in a daemon serving Django: 6.1 against 3.2 futex calls and 3.9
    /// against 2.5 context switches per request). Raises OSError as os.stat does.
    private static func mtime(_ path: PyObj?) -> PyObj? {
        var bytes: PyObj?
        guard let path, PyUnicode_FSConverter(path, &bytes) != 0, let bytes else { return nil }
        defer { wsgi_decref(bytes) }
        var st = stat()
        guard let name = PyBytes_AsString(bytes) else { return nil }
        if stat(name, &st) != 0 {
            return PyErr_SetFromErrnoWithFilenameObject(wsgi_exc_os_error(), path)
        }
        return PyFloat_FromDouble(Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) * 1e-9)
    }

    static let defs: [UnsafeMutablePointer<PyMethodDef>] = [
        def("server_metrics", METH_NOARGS) { _, _ in ServerMetrics.snapshot() },
        def("process_metrics", METH_NOARGS) { _, _ in Metrics.processMetrics() },
        def("request_metrics", METH_NOARGS) { _, _ in Metrics.requestMetrics() },
        def("start_recording_metrics", METH_NOARGS) { _, _ in
            Interpreters.shared { if !Metrics.recording { Metrics.startRecording() } }
            return Py.none
        },
        def("subscribe_events", METH_O) { o, cb in subscribe(api(o).eventCallbacks, cb) },
        def("subscribe_shutdown", METH_O) { o, cb in subscribe(api(o).shutdownCallbacks, cb) },
        def("request_data", METH_NOARGS) { _, _ in
            guard let d = Interpreters.threadStates().requestData else {
                Py.raise(wsgi_exc_runtime_error(), "no active request for thread"); return nil
            }
            return wsgi_new_ref(d)
        },
        def("_mtime", METH_O) { _, path in mtime(path) },
    ]

    /// Adds the functions, `active_requests` and `FileWrapper` to a new interpreter's
    /// module dict (GIL held, in that interpreter).
    static func add(to module: PyObj, interp: Interpreter) {
        Metrics.processStarted()
        let api = InterpreterAPI.of(interp)
        let selfObject = stateType.make(api)!
        defer { wsgi_decref(selfObject) }
        let moduleName = Py.string("mod_wsgi")
        defer { wsgi_decref(moduleName) }
        for d in defs {
            let f = PyCFunction_NewEx(d, selfObject, moduleName)!
            Py.setItem(module, d.pointee.ml_name, f)
        }
        PyDict_SetItemString(module, "active_requests", api.activeRequests)
        PyDict_SetItemString(module, "FileWrapper", FileWrapper.typeObject)
        PyDict_SetItemString(module, "Restricted", Restricted.typeObject)
        if api.requestTimeout == nil {
            api.requestTimeout = PyErr_NewException("mod_wsgi.RequestTimeout", wsgi_exc_base_exception(), nil)
        }
        if let exc = api.requestTimeout { PyDict_SetItemString(module, "RequestTimeout", exc) }
    }

    /// The `apache` module's attributes besides version and description: the MPM's.
    static func addApacheAttributes() {
        guard let modules = PyImport_GetModuleDict(), let apache = PyDict_GetItemString(modules, "apache") else {
            return
        }
        let facts = HostFacts.current
        var maxDaemons = facts.maxDaemonsUsed
        if maxDaemons == -1 { maxDaemons = facts.maxDaemons }
        let maxThreads = facts.threaded ? facts.maxThreads : 1
        func set(_ name: String, _ v: PyObj) { PyObject_SetAttrString(apache, name, v); wsgi_decref(v) }
        set("maximum_processes", Py.int(max(maxDaemons, 1)))
        set("threads_per_process", Py.int(max(maxThreads, 1)))
        set("mpm_name", Py.string(facts.mpmName))
        set("build_date", Py.string(facts.serverBuilt))
        PyErr_Clear()
    }
}
