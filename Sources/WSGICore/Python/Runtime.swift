import CWSGICore
import SystemCalls

/// Starting and stopping CPython in a process (an Apache child or a daemon process).
/// Never called in the Apache parent.
package enum PythonRuntime {
    nonisolated(unsafe) package static var initialized = false
    /// `initialized` for the daemon's supervisor thread, which runs while the main thread
    /// finalizes (a plain read of `initialized` there raced with its write: ThreadSanitizer).
    package static let running: UnsafeMutablePointer<Int64> = {
        let p = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()
    /// Why Python could not start (requests then fail with this).
    nonisolated(unsafe) package static var failure: String?
    nonisolated(unsafe) package static var mainThreadState: UnsafeMutablePointer<PyThreadState>?

    /// What the process's Python is started and run with, from the server's configuration
    /// (WSGIPythonHome, WSGIPythonPath & co.; a daemon group's python-home= and python-path=).
    /// Codable: a daemon process that runs the application's Python executable gets it from
    /// the Apache parent in its start record (Daemon/DaemonStart.swift), field for field.
    package struct Settings: Codable {
        package var home: String?
        package var pythonPath: [String] = []
        package var optimize = 0
        package var hashSeed: UInt32?
        package var dontWriteBytecode = false
        package var warnings: [String] = []
        package var restrictStdout = false
        package var restrictStdin = false
        package var restrictSignal = true
        /// WSGICaseSensitivity Off: script paths differing only in case name one script.
        package var caseSensitive = true
        /// WSGIDestroyInterpreter: interpreters are destroyed (atexit runs) at process exit.
        package var destroyInterpreter = true
        /// WSGIServerMetrics (nil when absent: embedded mode then still answers server_metrics()).
        package var serverMetrics: Bool? = nil
        /// WSGISwitchInterval, WSGIPerInterpreterGIL, WSGIFreeThreading, <WSGIInterpreterOptions>.
        package var interpreterOptions = InterpreterOptionsSettings()

        package init() {}
    }

    nonisolated(unsafe) package static var settings = Settings()

    /// The Python version this module was built against, e.g. "3.11".
    package static let version = "\(PY_MAJOR_VERSION).\(PY_MINOR_VERSION)"

    /// Checks a Python home without starting Python: one clear line instead of a crash.
    package static func checkHome(_ home: String) -> String? {
        var st = stat()
        if stat(home, &st) != 0 {
            return "WSGIPythonHome/python-home '\(home)' does not exist (\(String(cString: strerror(wsgi_errno()))))."
        }
        let cfg = home + "/pyvenv.cfg"
        if let text = readSmallFile(cfg) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(" ") }
                if parts.count == 2, parts[0] == "version" || parts[0] == "version_info" {
                    let v = parts[1].split(separator: ".").prefix(2).joined(separator: ".")
                    if v != version {
                        return
                            "Python home '\(home)' is a virtual environment of Python \(v), but mod_wsgi was built for Python \(version); create the environment with python\(version)."
                    }
                }
            }
            if let homeLine = text.split(separator: "\n").first(where: { $0.hasPrefix("home") }) {
                let base = homeLine.split(separator: "=", maxSplits: 1).last.map { $0.trimmingCharacters(" ") } ?? ""
                let parent = base.hasSuffix("/bin") ? String(base.dropLast(4)) : base
                if access(parent + "/lib/python\(version)/encodings", R_OK | X_OK) != 0 {
                    return
                        "Python home '\(home)' is based on '\(parent)', which has no readable lib/python\(version); the run user must be able to read it."
                }
            }
            return nil
        }
        if access(home + "/lib/python\(version)/encodings", R_OK | X_OK) != 0 {
            return
                "Python home '\(home)' has no readable lib/python\(version)/encodings: it is not a Python \(version) installation, or the run user cannot read it."
        }
        return nil
    }

    /// The daemon process group this process serves (its switch-interval=), nil when embedded.
    nonisolated(unsafe) package static var startGroup: DaemonGroupConfig?

    package static func initialize(processName: String) {
        if initialized { return }
        if let home = settings.home, let problem = checkHome(home) {
            // Already reported once by the Apache parent; say it again only at debug level.
            failure = "the Python home is unusable (see the error logged at start-up)"
            Log.server(APLOG_DEBUG, .pythonNotStarted, problem + " Python was not started in \(processName).")
            return
        }
        var config = PyConfig()
        PyConfig_InitPythonConfig(&config)
        defer { PyConfig_Clear(&config) }
        config.install_signal_handlers = 0
        config.parse_argv = 0
        config.user_site_directory = 0
        config.optimization_level = Int32(settings.optimize)
        config.write_bytecode = settings.dontWriteBytecode ? 0 : 1
        if let seed = settings.hashSeed {
            config.use_hash_seed = 1
            config.hash_seed = UInt(seed)
        }
        var status: PyStatus
        if let home = settings.home {
            if access(home + "/pyvenv.cfg", R_OK) == 0 {
                // A virtual environment: it is not a Python home (no standard library).
                // Point Python at the venv's interpreter instead; getpath then reads
                // pyvenv.cfg, takes the base installation as its home and adds the venv's
                // site-packages, exactly as running <venv>/bin/python would.
                let exe = home + "/bin/python" + version
                let program = access(exe, F_OK) == 0 ? exe : home + "/bin/python"
                status = withUnsafeMutablePointer(to: &config) {
                    PyConfig_SetBytesString($0, &$0.pointee.program_name, program)
                }
                if PyStatus_Exception(status) != 0 { return fail(status) }
                status = withUnsafeMutablePointer(to: &config) {
                    PyConfig_SetBytesString($0, &$0.pointee.executable, program)
                }
                if PyStatus_Exception(status) != 0 { return fail(status) }
            } else {
                status = withUnsafeMutablePointer(to: &config) { PyConfig_SetBytesString($0, &$0.pointee.home, home) }
                if PyStatus_Exception(status) != 0 { return fail(status) }
            }
        }
        for w in settings.warnings {
            if let wide = Py_DecodeLocale(w, nil) {
                status = PyWideStringList_Append(&config.warnoptions, wide)
                PyMem_RawFree(wide)
                if PyStatus_Exception(status) != 0 { return fail(status) }
            }
        }
        if InterpreterOptions.freeThreadingHere {
            // WSGIFreeThreading On (refused at start-up unless Python is a free-threaded build).
            withUnsafeMutablePointer(to: &config) { wsgi_config_disable_gil($0) }
        }
        decideParallel()
        status = Py_InitializeFromConfig(&config)
        if PyStatus_Exception(status) != 0 { return fail(status) }
        initialized = true
        wsgi_atomic_store(running, 1)
        mainThreadState = PyThreadState_Get()
        Interpreters.registerMain(PyThreadState_Get()!)
        Log.server(APLOG_INFO, .pythonInitialised, "Initialized Python \(version) in \(processName).")
        logFreeThreading(processName)
        InterpreterOptions.applyAtStart(group: startGroup)
        // Release the GIL: requests acquire it with their own thread states.
        _ = PyEval_SaveThread()
        InterpreterFactory.start()
    }

    /// A daemon process running the application's Python executable: Python is already
    /// started (by that executable, from the flags the Apache parent gave it), and this runs on
    /// its main thread with the GIL, called from the daemon runtime's `run()`. Sets the process
    /// up as `initialize` does, and releases the GIL as it does.
    package static func adopt(processName: String) {
        decideParallel()
        initialized = true
        wsgi_atomic_store(running, 1)
        mainThreadState = PyThreadState_Get()
        Interpreters.registerMain(PyThreadState_Get()!)
        var exe = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &exe, exe.count - 1)
        let path = n > 0 ? String(decoding: exe[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        Log.server(
            APLOG_INFO, .pythonAdopted, "Initialized Python \(version) in \(processName), in the executable \(path).")
        logFreeThreading(processName)
        InterpreterOptions.applyAtStart(group: startGroup)
        _ = PyEval_SaveThread()
        InterpreterFactory.start()
    }

    /// WSGIPerInterpreterGIL On anywhere (or no GIL at all): Python may run on two threads of
    /// this process at once, so the module guards what the whole process shares.
    private static func decideParallel() {
        let o = settings.interpreterOptions
        Interpreters.parallel =
            (wsgi_python_per_interpreter_gil_build() != 0
                && (o.perInterpreterGIL == true || o.interpreterOptions.contains { $0.perInterpreterGIL == true }))
            || (wsgi_python_free_threading_build() != 0 && InterpreterOptions.freeThreadingHere)
    }

    private static func logFreeThreading(_ processName: String) {
        if wsgi_python_free_threading_build() != 0 && InterpreterOptions.freeThreadingHere {
            Log.server(APLOG_INFO, .freeThreadingActive, "Free-threading is active in \(processName): no GIL.")
        }
    }

    private static func fail(_ status: PyStatus) {
        let msg = status.err_msg.map { String(cString: $0) } ?? "unknown error"
        let fn = status.func.map { String(cString: $0) + ": " } ?? ""
        failure = "Python \(version) failed to start: \(fn)\(msg)"
        Log.server(
            APLOG_ERR, .pythonInitFailed,
            failure!
                + ". Check WSGIPythonHome (python-home): it must be a Python \(version) installation readable by the run user."
        )
    }

    /// At process exit: destroy interpreters (running atexit) unless WSGIDestroyInterpreter Off.
    package static func finalize(destroy: Bool) {
        guard initialized else { return }
        ProcessStopping.publishAll()
        guard destroy else { return }
        wsgi_atomic_store(running, 0)
        Interpreters.destroyAll()
        initialized = false
    }
}

/// A text file of at most 1 MiB (more is cut off); nil when it cannot be read.
package func readSmallFile(_ path: String) -> String? {
    readFile(path, limit: 1 << 20).map { String(decoding: $0, as: UTF8.self) }
}

extension Substring {
    func trimmingCharacters(_ c: Character) -> String {
        var s = self
        while s.first == c { s.removeFirst() }
        while s.last == c { s.removeLast() }
        return String(s)
    }
}
