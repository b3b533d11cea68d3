import CModWSGI
import SystemCalls

/// A daemon process, from the fork in the Apache parent to its exit: identity and limits,
/// Python and the preloaded scripts (here), the worker threads that accept connections
/// (DaemonThreads.swift) and serve requests (DaemonServing.swift), the service scripts of
/// threads=0 (ServiceScripts.swift), and the supervisor (Monitor.swift). Never returns.
enum DaemonProcess {
    nonisolated(unsafe) static var state: DaemonState!
    nonisolated(unsafe) static var workers: [pthread_t] = []
    nonisolated(unsafe) static var lifecycleIndex = -1

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
        MetricsRecorder.daemonStarted(group: g.name, instance: slot.instance)

        let user: Identity.User
        do {
            user = try Identity.drop(g)
        } catch {
            startupFailed(g, "Couldn't start daemon process '\(g.name)': \(error).")
        }
        // Die with the parent (cleared by setuid, so set after switching).
        _ = wsgi_prctl_pdeathsig(SIGTERM)
        if getppid() != DaemonManager.parentPid { _exit(0) }
        applyLimits(g)
        setupEnvironment(g, user: user, slot: slot)
        MallocArenas.limitInDaemon()

        var pipeFDs: [Int32] = [0, 0]
        guard pipe2(&pipeFDs, Int32(O_CLOEXEC | O_NONBLOCK)) == 0 else {
            startupFailed(
                g,
                "Couldn't create the wake-up pipe of daemon process '\(g.name)': \(String(cString: strerror(wsgi_errno())))."
            )
        }
        let poller: DaemonPoller
        do {
            poller = try DaemonPoller()
            try poller.addListener(slot.listener)
        } catch {
            startupFailed(g, "Couldn't create the connection poller of daemon process '\(g.name)': \(error).")
        }
        state = DaemonState(
            group: g, listener: slot.listener, wakeRead: pipeFDs[0], wakeWrite: pipeFDs[1], poller: poller)

        // Threads made from here on inherit a mask without our signals: only the main
        // thread takes them.
        var mask = sigset_t(), old = sigset_t()
        sigemptyset(&mask)
        for s in [SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP, SIGXCPU] { sigaddset(&mask, s) }
        pthread_sigmask(SIG_BLOCK, &mask, &old)
        wsgi_daemon_install_signals(pipeFDs[1], 0)

        Log.server(
            APLOG_INFO, .daemonStarted,
            "Starting process '\(g.name)' with uid=\(getuid()), gid=\(getgid()) and threads=\(g.threads).")
        var settings = PythonRuntime.settingsFromGlobal(GlobalConfig.current)
        if let home = g.pythonHome { settings.home = home }
        settings.pythonPath = g.pythonPath
        PythonRuntime.settings = settings
        PythonRuntime.startGroup = g
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

        // WSGITelemetryService: not from service daemons (threads=0), which serve no requests.
        if PythonRuntime.initialized && g.threads > 0 {
            TelemetryReporter.start(processGroup: g.name, daemonMode: true, threadsMaximum: g.threads)
        }
        // Preload, then serve.
        ImportScripts.run(preloadScripts(g))
        for i in 0..<g.threads {
            workers.append(spawn(stackSize: g.stackSize) { worker(i) })
        }
        // The health URL counts this process from now on (LifecycleBoard).
        lifecycleIndex = slot.lifecycleIndex
        if g.threads > 0 { LifecycleBoard.current?.daemonState(slot.lifecycleIndex, .accepting) }
        startDeadlockWatch()
        pthread_sigmask(SIG_SETMASK, &old, nil)
        Monitor.supervise()
    }

    /// A start-up failure that the next process would hit again: log it, pause so the
    /// parent's respawns stay slow (no storm of log lines), exit.
    static func startupFailed(_ g: DaemonGroupConfig, _ message: String) -> Never {
        Log.server(APLOG_ALERT, .daemonStartupFailed, message + " Retrying in 5 seconds.")
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
                Log.server(
                    APLOG_ERR, .daemonLimits,
                    "Couldn't set \(what) of \(value) \(unit) for daemon process '\(g.name)': \(String(cString: strerror(e))) (errno \(e))."
                )
            }
        }
        limit(RLIMIT_CPU, g.cpuTimeLimit, "CPU time limit", "seconds")
        limit(RLIMIT_DATA, g.memoryLimit, "memory limit", "bytes")
        limit(RLIMIT_AS, g.virtualMemoryLimit, "virtual memory limit", "bytes")
        if g.cpuPriority != 0 && setpriority(PRIO_PROCESS, 0, Int32(g.cpuPriority)) != 0 {
            let e = wsgi_errno()
            Log.server(
                APLOG_ERR, .daemonPriority,
                "Couldn't set CPU priority of \(g.cpuPriority) for daemon process '\(g.name)': \(String(cString: strerror(e))) (errno \(e))."
            )
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
                Log.server(
                    APLOG_ERR, .daemonConfig,
                    "Unable to change working directory to home directory '\(home)' for daemon process '\(g.name)': \(String(cString: strerror(e))) (errno \(e))."
                )
            }
        } else if g.user != nil {
            _ = chdir(user.home)
        }
        if let lang = g.lang { setenv("LANG", lang, 1) }
        if let loc = g.locale {
            setenv("LC_ALL", loc, 1)
            if setlocale(LC_ALL, loc) == nil {
                Log.server(
                    APLOG_WARNING, .daemonLocale,
                    "Unsupported locale setting '\(loc)' specified for daemon process group '\(g.name)'; using 'C.UTF-8' instead."
                )
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
        let argc = Int(s.pointee.process.pointee.argc)
        guard argc > 0, let argv = s.pointee.process.pointee.argv, let first = argv[0] else { return }
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
                    guard let app = a.target.applicationGroup, !app.hasPrefix("%{") || app == "%{GLOBAL}" else {
                        continue
                    }
                    if !out.contains(where: { $0.path == a.target.path && ($0.applicationGroup ?? "%{GLOBAL}") == app })
                    {
                        out.append(ScriptTarget(path: a.target.path, processGroup: g.name, applicationGroup: app))
                    }
                }
            }
            s = cur.pointee.next
        }
        return out
    }
}
