import CModWSGI

/// State shared by the threads of one daemon process. Guarded by `lock`.
final class DaemonState {
    var lock = pthread_mutex_t()
    let group: DaemonGroupConfig
    /// Read under `acceptLock`; -1 once closed.
    private(set) var listener: Int32
    let wakeRead: Int32
    let wakeWrite: Int32
    /// Start (monotonic µs) of the request each worker is running; 0: idle.
    var active: [Int64]
    var requests = 0
    var lastActivity: Int64
    var lastGIL: Int64
    let started: Int64
    /// Set once: worker threads stop taking new connections.
    private var stopping = false
    /// A worker asks the supervisor for a graceful restart (e.g. startup-timeout).
    var restartReason: String?
    /// An application script has loaded in this process (startup-timeout).
    var loadedOnce = false
    var acceptLock = pthread_mutex_t()

    init(group: DaemonGroupConfig, listener: Int32, wakeRead: Int32, wakeWrite: Int32) {
        self.group = group
        self.listener = listener
        self.wakeRead = wakeRead
        self.wakeWrite = wakeWrite
        active = [Int64](repeating: 0, count: max(group.threads, 1))
        started = monotonicMicros()
        lastActivity = started
        lastGIL = started
        pthread_mutex_init(&lock, nil)
        pthread_mutex_init(&acceptLock, nil)
    }

    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return body()
    }

    var stopAccepting: Bool {
        get { locked { stopping } }
        set { locked { stopping = newValue } }
    }

    var activeCount: Int { locked { active.filter { $0 != 0 }.count } }

    /// Takes no more connections and closes this process's hold on the listening socket, once
    /// no worker waits on it. When a restart has ended the socket's generation, nobody else
    /// holds it: connections still queued there are reset at once, and the Apache child sends
    /// the request again to the new daemon instead of waiting for a reply that never comes.
    func closeListener() {
        stopAccepting = true
        pthread_mutex_lock(&acceptLock)
        if listener >= 0 {
            _ = CModWSGI.close(listener)
            listener = -1
        }
        pthread_mutex_unlock(&acceptLock)
    }

    func wake() {
        var c: UInt8 = 0x77
        _ = CModWSGI.write(wakeWrite, &c, 1)
    }
}

/// A daemon process, from the fork in the Apache parent to its exit: identity and limits,
/// Python, the preloaded scripts, the worker threads that accept and serve requests, and
/// the supervisor (Monitor.swift). Never returns.
enum DaemonProcess {
    nonisolated(unsafe) static var state: DaemonState!
    nonisolated(unsafe) static var workers: [pthread_t] = []

    static func run(_ slot: DaemonSlot, allSlots: [DaemonSlot]) -> Never {
        wsgi_daemon_default_signals()
        let g = slot.group
        // Only this group's socket; not Apache's listeners nor the other groups' sockets.
        ap_close_listeners()
        for other in Set(allSlots.map { $0.listener }) where other != slot.listener { close(other) }

        ModuleState.processGroup = g.name
        ModuleState.daemonHome = g.home
        ModuleState.multithread = g.threads > 1
        ModuleState.multiprocess = g.processes > 1 || g.multiprocess
        ModuleState.maximumProcesses = g.processes
        ModuleState.threadsPerProcess = g.threads
        ModuleState.totalRequests = 0

        let user: Identity.User
        switch Identity.drop(g) {
        case .success(let u): user = u
        case .failure(let e): startupFailed(g, "Couldn't start daemon process '\(g.name)': \(e).")
        }
        // Die with the parent (cleared by setuid, so set after switching).
        _ = wsgi_prctl_pdeathsig(SIGTERM)
        if getppid() != DaemonManager.parentPid { _exit(0) }
        applyLimits(g)
        setupEnvironment(g, user: user, slot: slot)

        var pipeFDs: [Int32] = [0, 0]
        guard pipe2(&pipeFDs, Int32(O_CLOEXEC | O_NONBLOCK)) == 0 else {
            startupFailed(g, "Couldn't create the wake-up pipe of daemon process '\(g.name)': \(String(cString: strerror(wsgi_errno()))).")
        }
        state = DaemonState(group: g, listener: slot.listener, wakeRead: pipeFDs[0], wakeWrite: pipeFDs[1])

        // Threads made from here on inherit a mask without our signals: only the main
        // thread takes them.
        var mask = sigset_t(), old = sigset_t()
        sigemptyset(&mask)
        for s in [SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP, SIGXCPU] { sigaddset(&mask, s) }
        pthread_sigmask(SIG_BLOCK, &mask, &old)
        wsgi_daemon_install_signals(pipeFDs[1], 0)

        Log.server(APLOG_INFO, .daemonStarted, "Starting process '\(g.name)' with uid=\(getuid()), gid=\(getgid()) and threads=\(g.threads).")
        var settings = PythonRuntime.settingsFromGlobal(GlobalConfig.current)
        if let home = g.pythonHome { settings.home = home }
        settings.pythonPath = g.pythonPath
        PythonRuntime.settings = settings
        PythonRuntime.initialize(processName: "daemon process group '\(g.name)'")

        if g.threads == 0 {
            // A managed task: the preloaded scripts run in the main thread; SIGTERM
            // arrives there as SystemExit. The supervisor runs on a thread of its own.
            if PythonRuntime.initialized { installSystemExitOnTerm() }
            _ = spawn { Monitor.supervise() }
            startDeadlockWatch()
            pthread_sigmask(SIG_SETMASK, &old, nil)
            runServiceScripts(g)
        }

        // Preload, then serve.
        ImportScripts.run(preloadScripts(g))
        for i in 0..<g.threads {
            workers.append(spawn(stackSize: g.stackSize) { worker(i) })
        }
        startDeadlockWatch()
        pthread_sigmask(SIG_SETMASK, &old, nil)
        Monitor.supervise()
    }

    /// A start-up failure that the next process would hit again: log it, pause so the
    /// parent's respawns stay slow (no storm of log lines), exit.
    static func startupFailed(_ g: DaemonGroupConfig, _ message: String) -> Never {
        Log.server(APLOG_ALERT, .daemonStarted, message + " Retrying in 5 seconds.")
        let deadline = monotonicMicros() + 5_000_000
        while monotonicMicros() < deadline && getppid() == DaemonManager.parentPid { sleepMicros(100_000) }
        _exit(1)
    }

    // MARK: process set-up

    static func applyLimits(_ g: DaemonGroupConfig) {
        func limit(_ resource: __rlimit_resource, _ value: Int, _ what: String, _ unit: String) {
            guard value > 0 else { return }
            var rl = rlimit()
            getrlimit(resource, &rl)
            rl.rlim_cur = rlim_t(value)
            if setrlimit(resource, &rl) != 0 {
                let e = wsgi_errno()
                Log.server(APLOG_ERR, .daemonLimits, "Couldn't set \(what) of \(value) \(unit) for daemon process '\(g.name)': \(String(cString: strerror(e))) (errno \(e)).")
            }
        }
        limit(RLIMIT_CPU, g.cpuTimeLimit, "CPU time limit", "seconds")
        limit(RLIMIT_DATA, g.memoryLimit, "memory limit", "bytes")
        limit(RLIMIT_AS, g.virtualMemoryLimit, "virtual memory limit", "bytes")
        if g.cpuPriority != 0 && setpriority(PRIO_PROCESS, 0, Int32(g.cpuPriority)) != 0 {
            let e = wsgi_errno()
            Log.server(APLOG_ERR, .daemonLimits, "Couldn't set CPU priority of \(g.cpuPriority) for daemon process '\(g.name)': \(String(cString: strerror(e))) (errno \(e)).")
        }
    }

    static func setupEnvironment(_ g: DaemonGroupConfig, user: Identity.User, slot: DaemonSlot) {
        if let m = g.umask { umask(m) }
        setenv("HOME", user.home, 1)
        setenv("USER", user.name, 1)
        setenv("LOGNAME", user.name, 1)
        if let home = g.home {
            if chdir(home) != 0 {
                let e = wsgi_errno()
                Log.server(APLOG_ERR, .daemonConfig, "Unable to change working directory to home directory '\(home)' for daemon process '\(g.name)': \(String(cString: strerror(e))) (errno \(e)).")
            }
        } else if g.user != nil {
            _ = chdir(user.home)
        }
        if let lang = g.lang { setenv("LANG", lang, 1) }
        if let loc = g.locale {
            setenv("LC_ALL", loc, 1)
            if setlocale(LC_ALL, loc) == nil {
                Log.server(APLOG_WARNING, .daemonConfig, "Unsupported locale setting '\(loc)' specified for daemon process group '\(g.name)'; using 'C.UTF-8' instead.")
                setenv("LC_ALL", "C.UTF-8", 1)
                _ = setlocale(LC_ALL, "C.UTF-8")
            }
        }
        if let eggs = g.pythonEggs ?? GlobalConfig.current.pythonEggs { setenv("PYTHON_EGG_CACHE", eggs, 1) }
        if let name = g.displayName { setProcessTitle(name == "%{GROUP}" ? "(wsgi:\(g.name))" : name) }
    }

    /// display-name: what ps shows (the argv area) and the thread name (comm).
    static func setProcessTitle(_ title: String) {
        _ = wsgi_prctl_set_name(String(decoding: title.utf8.prefix(15), as: UTF8.self))
        guard let s = ModuleState.mainServer else { return }
        let argc = Int(wsgi_process_argc(s))
        guard argc > 0, let argv = wsgi_process_argv(s), let first = argv[0] else { return }
        // The original argument strings lie end to end from argv[0] (Apache may have
        // rebuilt the argv array itself, so follow the strings, not the array).
        var end = UnsafeMutablePointer(mutating: first)
        for _ in 0..<argc { end += strlen(end) + 1 }
        let area = end - UnsafeMutablePointer(mutating: first)
        let bytes = Array(title.utf8.prefix(area - 1))
        let p = UnsafeMutableRawPointer(mutating: first)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: area)
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    /// WSGIImportScript for this group, and WSGIScriptAlias with both process-group= and
    /// application-group= (mod_wsgi preloads those when the daemon starts).
    static func preloadScripts(_ g: DaemonGroupConfig) -> [ScriptTarget] {
        var out = GlobalConfig.current.importScripts.filter { $0.processGroup == g.name }
        var s = ModuleState.mainServer
        while let cur = s {
            if let cfg = ConfigStore.server(cur) {
                for a in cfg.aliases where a.regex == nil && a.target.processGroup == g.name {
                    guard let app = a.target.applicationGroup, !app.hasPrefix("%{") || app == "%{GLOBAL}" else { continue }
                    if !out.contains(where: { $0.path == a.target.path && ($0.applicationGroup ?? "%{GLOBAL}") == app }) {
                        out.append(ScriptTarget(path: a.target.path, processGroup: g.name, applicationGroup: app))
                    }
                }
            }
            s = cur.pointee.next
        }
        return out
    }

    // MARK: threads

    final class ThreadBody { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }

    /// Stack of the daemon's own threads that run no Python code (deadlock watch, shutdown
    /// watchdog). Thread stacks are private writable mappings, so they count against
    /// memory-limit (RLIMIT_DATA): the default (RLIMIT_STACK, 8 MB) would take that from the app.
    static let helperStackSize = 256 * 1024

    @discardableResult
    static func spawn(stackSize: Int = 0, _ body: @escaping () -> Void) -> pthread_t {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        if stackSize > 0 { pthread_attr_setstacksize(&attr, stackSize) }
        var t = pthread_t()
        let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        let rc = pthread_create(&t, &attr, { p in
            Unmanaged<ThreadBody>.fromOpaque(p!).takeRetainedValue().body()
            return nil
        }, box)
        pthread_attr_destroy(&attr)
        if rc != 0 {
            Log.server(APLOG_ALERT, .daemon, "Couldn't create a thread in daemon process: \(String(cString: strerror(rc))).")
            _exit(1)
        }
        return t
    }

    /// deadlock-timeout: a thread that takes the GIL every second; the supervisor stops
    /// the process when it could not for deadlock-timeout seconds.
    static func startDeadlockWatch() {
        guard PythonRuntime.initialized, state.group.deadlockTimeout > 0 else { return }
        spawn(stackSize: helperStackSize) {
            while !DaemonProcess.state.stopAccepting {
                _ = Interpreters.acquire("")
                Interpreters.release()
                let now = monotonicMicros()
                DaemonProcess.state.locked { DaemonProcess.state.lastGIL = now }
                sleepMicros(1_000_000)
            }
        }
    }

    /// One worker: take a connection (one thread of the process at a time waits), serve it.
    static func worker(_ index: Int) {
        let st = state!
        while !st.stopAccepting {
            pthread_mutex_lock(&st.acceptLock)
            var fd: Int32 = -1
            if !st.stopAccepting && st.listener >= 0 {
                var p = pollfd(fd: st.listener, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 200) > 0 && !st.stopAccepting {
                    fd = wsgi_accept_cloexec(st.listener)
                }
            }
            pthread_mutex_unlock(&st.acceptLock)
            if fd >= 0 { serve(fd, index) }
        }
    }

    static func serve(_ fd: Int32, _ index: Int) {
        let st = state!
        let g = st.group
        let start = monotonicMicros()
        // WSGIIgnoreActivity On: such requests (health checks…) do not count as activity
        // for inactivity-timeout; known once the request is read.
        var ignoreActivity = false
        let previousActivity = st.locked { () -> Int64 in
            let before = st.lastActivity
            st.active[index] = start; st.lastActivity = start
            return before
        }
        defer {
            let end = monotonicMicros()
            let total = st.locked { () -> Int in
                st.active[index] = 0
                if !ignoreActivity { st.lastActivity = end }
                st.requests += 1
                return st.requests
            }
            if g.maximumRequests > 0 && total >= g.maximumRequests {
                // Take no more: the supervisor restarts the process gracefully.
                st.stopAccepting = true
                st.wake()
            }
        }
        let socketTimeout = g.socketTimeout > 0 ? Int64(g.socketTimeout) * 1_000_000
            : Int64(ModuleState.mainServer?.pointee.timeout ?? 60_000_000)
        let conn = WireConnection(fd: fd, timeout: socketTimeout)
        if g.responseSocketTimeout > 0 { conn.writeTimeout = Int64(g.responseSocketTimeout) * 1_000_000 }
        defer { conn.close() }
        let req: DaemonRequest
        do {
            let (type, length) = try conn.readHeader()
            guard type == .request, length < 64 << 20 else { throw WireError.malformed("expected a request") }
            req = try DaemonRequest.decode(try conn.readPayload(length))
        } catch {
            Log.server(APLOG_ERR, .daemon, "Unable to read the request from the Apache child in daemon process '\(g.name)': \(error).")
            return
        }
        if req.environ.contains(where: { String(cString: $0.key) == "mod_wsgi.ignore_activity" && String(cString: $0.value) == "1" }) {
            ignoreActivity = true
            st.locked { st.lastActivity = previousActivity }
        }
        let channel = SocketChannel(conn: conn, request: req)
        if let asked = req.value(of: "mod_wsgi.process_group"), asked != g.name {
            // An Apache child of an older configuration followed the socket of the group's
            // number in this one (WSGISocketRotation On): that number is now another group.
            channel.log(APLOG_ERR, .daemonWrongGroup, "Request for daemon process group '\(asked)' reached daemon process group '\(g.name)' (the configuration changed at a restart); returning 503.")
            channel.finish(HTTP_SERVICE_UNAVAILABLE)
            return
        }
        let daemonStart = Int64(wsgi_now())
        if g.queueTimeout > 0 && daemonStart - req.queueStart > Int64(g.queueTimeout) * 1_000_000 {
            channel.log(APLOG_INFO, .daemonQueueTimeout, "Queue timeout expired for WSGI daemon process '\(g.name)'.")
            channel.finish(HTTP_SERVICE_UNAVAILABLE)
            return
        }
        guard let mtime = ScriptLoader.mtime(req.scriptPath) else {
            channel.log(APLOG_ERR, .scriptNotFound, "Target WSGI script not found or unable to stat: \(req.scriptPath)")
            channel.finish(HTTP_NOT_FOUND)
            return
        }
        let spec = ScriptRequest(scriptPath: req.scriptPath, mtime: mtime, callableObject: req.callableObject,
                                 applicationGroup: req.applicationGroup, reloading: req.reloading,
                                 enableSendfile: req.enableSendfile)
        let status = WSGIApplication.run(spec, channel: channel) { environ in
            for (k, v) in req.environ {
                let key = k.withUnsafeBufferPointer { PyUnicode_DecodeLatin1($0.baseAddress, $0.count - 1, nil) }
                let value = v.withUnsafeBufferPointer { PyUnicode_DecodeLatin1($0.baseAddress, $0.count - 1, nil) }
                if let key, let value { PyDict_SetItem(environ, key, value) }
                wsgi_xdecref(key); wsgi_xdecref(value)
                PyErr_Clear()
            }
            Py.setItem(environ, "wsgi.url_scheme", Py.string(req.scheme))
            Py.setItem(environ, "mod_wsgi.daemon_start", Py.string(String(daemonStart)))
            Py.setItem(environ, "mod_wsgi.script_start", Py.string(String(Int64(wsgi_now()))))
        }
        channel.finish(status)
        if g.memoryLimit > 0 && status == HTTP_INTERNAL_SERVER_ERROR, let used = dataSize(), used >= g.memoryLimit / 10 * 9 {
            // The request failed with the application at its memory-limit (MemoryError): every
            // later one would too. Replace the process gracefully (mod_wsgi keeps failing).
            st.locked { st.restartReason = st.restartReason ?? "uses \(used >> 20) MB of its memory-limit of \(g.memoryLimit >> 20) MB" }
            st.wake()
        }
        if channel.scriptLoadFailed {
            if g.startupTimeout > 0 && !st.locked({ st.loadedOnce })
                && monotonicMicros() - st.started > Int64(g.startupTimeout) * 1_000_000 {
                st.locked { st.restartReason = st.restartReason ?? "could not load its application within startup-timeout=\(g.startupTimeout)" }
                st.wake()
            }
        } else {
            st.locked { st.loadedOnce = true }
        }
    }

    /// The process's data size (what RLIMIT_DATA, memory-limit, limits), from /proc/self/statm.
    static func dataSize() -> Int? {
        let fd = wsgi_open_read("/proc/self/statm")
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        var buf = [UInt8](repeating: 0, count: 256)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let fields = buf[0..<n].split(separator: 32)
        guard fields.count >= 6, let pages = Int(String(decoding: fields[5], as: UTF8.self)) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    // MARK: threads=0

    /// One service script: like WSGIImportScript, but a SystemExit (how SIGTERM arrives) is
    /// the script's normal end, not an error.
    static func runServiceScript(_ t: ScriptTarget, _ g: DaemonGroupConfig) {
        var group = t.applicationGroup ?? "%{GLOBAL}"
        if group == "%{GLOBAL}" { group = "" }
        guard PythonRuntime.initialized, !group.hasPrefix("%{"), let mtime = ScriptLoader.mtime(t.path) else {
            ImportScripts.run([t])  // reports what is wrong
            return
        }
        var lines: [(Int32, LogID, String)] = []
        let interp = Interpreters.acquire(group)
        let loaded = ScriptLoader.load(interp, path: t.path, mtime: mtime, reload: false) { lines.append(($0, $1, $2)) }
        Interpreters.release()
        if loaded == nil, let last = lines.last?.2, last.hasPrefix("SystemExit") {
            Log.server(APLOG_INFO, .daemonServiceExit, "Service script '\(t.path)' of daemon process '\(g.name)' ended with \(last).")
            return
        }
        for (level, id, message) in lines { Log.server(level, id, message) }
    }

    /// SIGTERM → SystemExit in the main thread (Python runs its handlers there).
    static func installSystemExitOnTerm() {
        _ = Interpreters.acquire("")
        let code = """
import _signal
_mod_wsgi_stopping = []
def _mod_wsgi_sigterm(signum, frame):
    # Once only: a repeated SIGTERM while shutting down must not interrupt the
    # script's own clean-up (its except/finally blocks).
    if not _mod_wsgi_stopping:
        _mod_wsgi_stopping.append(True)
        raise SystemExit(0)
_signal.signal(_signal.SIGTERM, _mod_wsgi_sigterm)
"""
        let globals = PyDict_New()!
        PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins())
        if let r = PyRun_StringFlags(code, Py_file_input, globals, globals, nil) { wsgi_decref(r) } else { PyErr_Clear() }
        wsgi_decref(globals)
        Interpreters.release()
        // Python replaced our handler: put ours back; it forwards SIGTERM to Python.
        wsgi_daemon_install_signals(state.wakeWrite, 1)
    }

    /// Runs the service scripts in the main thread, then exits: a script that ends is
    /// replaced by a new process (unless the process is shutting down).
    static func runServiceScripts(_ g: DaemonGroupConfig) -> Never {
        for t in preloadScripts(g) { runServiceScript(t, g) }
        if PythonRuntime.initialized {
            // Like a Python program's end: wait for the non-daemon threads it started.
            _ = Interpreters.acquire("")
            let code = """
import threading
for _t in threading.enumerate():
    if _t is not threading.current_thread() and not _t.daemon:
        _t.join()
"""
            let globals = PyDict_New()!
            PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins())
            if let r = PyRun_StringFlags(code, Py_file_input, globals, globals, nil) { wsgi_decref(r) } else { PyErr_Clear() }
            wsgi_decref(globals)
            Interpreters.release()
        }
        let shutting = state.stopAccepting || Monitor.phase != .running || wsgi_daemon_term_received() != 0
        if !shutting {
            let lived = monotonicMicros() - state.started
            Log.server(APLOG_INFO, .daemonServiceExit, "Service script of daemon process '\(g.name)' has exited; the process will be replaced.")
            if lived < 1_000_000 { sleepMicros(1_000_000 - lived) }
        }
        state.stopAccepting = true
        Monitor.exitProcess(finalize: true)
    }
}
