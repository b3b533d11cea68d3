import CWSGICore

/// The version mod_wsgi applications see (mod_wsgi.version): we are a drop-in for 4.9.
let modWSGIVersion = (4, 9, 4)
package let modWSGIVersionString = "4.9.4"

/// What every new interpreter gets before it runs application code: sys.stdout and
/// sys.stderr to the error log, sys.stdin per WSGIRestrictStdin, the python-path, the
/// `mod_wsgi` module, and `threading` imported on the initialising thread (so that
/// threading.main_thread() is that thread, not the first request's).
enum InterpreterSetup {
    static let bootstrap = """
        import sys, threading, importlib.util, types

        def _setup(params):
            sys.stdout = params['stdout']
            sys.stderr = params['stderr']
            if params['stdin'] is not None:
                sys.stdin = params['stdin']
            sys.argv = ['mod_wsgi']
            # python-path: like site.addsitedir (.pth files honoured), new entries first.
            paths = params['python_path']
            if paths:
                import site
                before = list(sys.path)
                for p in paths:
                    site.addsitedir(p)
                added = [p for p in sys.path if p not in before]
                sys.path[:] = added + [p for p in sys.path if p not in added]
            if params['home']:
                sys.path.insert(0, '')
            # The mod_wsgi module: attach to a pure-Python package of that name when one is
            # importable (the Django app ships mod_wsgi.server), else create it.
            module = None
            try:
                if importlib.util.find_spec('mod_wsgi') is not None:
                    import mod_wsgi as module
            except Exception:
                module = None
            if module is None:
                module = types.ModuleType('mod_wsgi')
                sys.modules['mod_wsgi'] = module
            for k, v in params['module'].items():
                setattr(module, k, v)
            apache = types.ModuleType('apache')
            apache.version = params['apache_version']
            apache.description = params['apache_description']
            sys.modules['apache'] = apache
            if params['restrict_signal']:
                import signal
                _real_signal = signal.signal
                def _restricted_signal(signum, handler, _log=sys.stderr):
                    _log.write('mod_wsgi: callback registration for signal %d ignored.\\n' % signum)
                    return signal.getsignal(signum)
                signal.signal = _restricted_signal
        """

    static func prepare(_ interp: Interpreter) {
        let s = PythonRuntime.settings
        // <WSGIInterpreterOptions> may set these per interpreter (Config/InterpreterOptions.swift).
        let o = InterpreterOptions.forInterpreter(interp.name)
        interp.wsgiVersion = Py.tuple([Py.int(1), Py.int(0)])
        let facts = HostFacts.current
        interp.apacheVersion = Py.tuple(facts.apacheVersion.map { Py.int($0) })
        interp.modWSGIVersion = Py.tuple([Py.int(modWSGIVersion.0), Py.int(modWSGIVersion.1), Py.int(modWSGIVersion.2)])

        let params = PyDict_New()!
        // As mod_wsgi 6.x: text streams (io.TextIOWrapper) over the error log.
        Py.setItem(
            params, "stdout",
            o.restrictStdout
                ? Restricted.make("sys.stdout") : ErrorLog.textStream(request: nil, name: "<stdout>")?.0 ?? Py.none)
        Py.setItem(params, "stderr", ErrorLog.textStream(request: nil, name: "<stderr>")?.0 ?? Py.none)
        Py.setItem(params, "stdin", o.restrictStdin ? Restricted.make("sys.stdin") : Py.none)
        let path = PyList_New(0)!
        for p in s.pythonPath + o.pythonPath { let o = Py.string(p); PyList_Append(path, o); wsgi_decref(o) }
        Py.setItem(params, "python_path", path)
        Py.setItem(params, "home", Py.bool(ModuleState.daemonHome != nil))
        Py.setItem(params, "restrict_signal", Py.bool(o.restrictSignal))
        Py.setItem(params, "apache_version", wsgi_new_ref(interp.apacheVersion))
        Py.setItem(params, "apache_description", Py.string(facts.serverDescription))
        let module = PyDict_New()!
        Py.setItem(module, "version", wsgi_new_ref(interp.modWSGIVersion))
        Py.setItem(module, "process_group", Py.string(ModuleState.processGroup))
        Py.setItem(module, "application_group", Py.string(interp.name))
        Py.setItem(module, "maximum_processes", Py.int(ModuleState.maximumProcesses))
        Py.setItem(module, "threads_per_process", Py.int(ModuleState.threadsPerProcess))
        Py.setItem(module, "implementation", Py.string("swift"))
        PythonAPI.addFunctions(to: module, interp: interp)
        Py.setItem(params, "module", module)

        Py.run(bootstrap) { globals in
            if let setup = PyDict_GetItemString(globals, "_setup"), let r = PyObject_CallOneArg(setup, params) {
                wsgi_decref(r)
            }
        }
        if PyErr_Occurred() == nil { PythonAPI.finishSetup(interp) }
        if PyErr_Occurred() != nil {
            let lines = Py.takeExceptionLines()
            // One message: every traceback line carries the same prefix and ID.
            Log.server(
                APLOG_ERR, .interpreterSetupFailed,
                (["Setting up interpreter '\(interp.name)' failed."] + lines).joined(separator: "\n"))
        }
        // GC telemetry once the reporter runs here (it installs itself in the interpreters
        // made before it started).
        if TelemetryRecorder.enabled { TelemetryGC.install(interp) }
        wsgi_decref(params)
    }

    /// Before an interpreter is destroyed: flush the log streams.
    static func shutdown(_ interp: Interpreter) {
        for name in ["stdout", "stderr"] {
            if let f = PySys_GetObject(name), let r = Py.callMethod(f, "flush") { wsgi_decref(r) }
            PyErr_Clear()
        }
    }
}
