import CWSGICore
import SystemCalls

/// A daemon process, from its start to its exit: Python and the preloaded scripts (here), the
/// worker threads that accept connections (DaemonThreads.swift) and serve requests
/// (DaemonServing.swift), the service scripts of threads=0 (ServiceScripts.swift), and the
/// supervisor (Monitor.swift). Never returns. What comes before, from the fork in the Apache
/// parent (user, limits, environment, and the choice of running in the application's Python
/// executable), is the Apache module's: ModWSGI, Daemon/DaemonLaunch.swift.
package enum DaemonProcess {
    nonisolated(unsafe) package static var state: DaemonState!
    nonisolated(unsafe) static var workers: [pthread_t] = []
    nonisolated(unsafe) static var lifecycleIndex = -1

    /// What this process was started with (group, listener, settings…).
    nonisolated(unsafe) package static var start: DaemonStart!

    /// Runs the daemon process from the point where it is set up as its group says (user,
    /// limits, environment: done by the Apache module before this, in the process Apache
    /// forked) to its exit. `pythonStarted`: Python already runs in this process (the
    /// application's Python executable started it, and this is its main thread with the GIL,
    /// in the daemon runtime's `run()`); otherwise it is started here, from libpython.
    package static func run(_ start: DaemonStart, pythonStarted: Bool = false) -> Never {
        self.start = start
        let g = start.group
        ModuleState.processGroup = g.name
        ModuleState.daemonHome = g.home
        ModuleState.multithread = g.threads > 1
        ModuleState.multiprocess = g.processes > 1 || g.multiprocess
        ModuleState.maximumProcesses = g.processes
        ModuleState.threadsPerProcess = g.threads
        ModuleState.totalRequests = 0
        MetricsRecorder.daemonStarted(group: g.name, instance: start.instance)
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
            try poller.addListener(start.listener)
        } catch {
            startupFailed(g, "Couldn't create the connection poller of daemon process '\(g.name)': \(error).")
        }
        state = DaemonState(
            group: g, listener: start.listener, wakeRead: pipeFDs[0], wakeWrite: pipeFDs[1], poller: poller)

        // Threads made from here on inherit a mask without our signals: only the main
        // thread takes them.
        var mask = sigset_t(), old = sigset_t()
        sigemptyset(&mask)
        for s in [SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP, SIGXCPU] { sigaddset(&mask, s) }
        pthread_sigmask(SIG_BLOCK, &mask, &old)
        // The main thread takes them once the handlers are in: a daemon that runs the
        // application's Python executable starts with them blocked (held pending across its exec).
        for s in [SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP, SIGXCPU] { sigdelset(&old, s) }
        wsgi_daemon_install_signals(pipeFDs[1], 0)

        Log.server(
            APLOG_INFO, .daemonStarted,
            "Starting process '\(g.name)' with uid=\(getuid()), gid=\(getgid()) and threads=\(g.threads).")
        PythonRuntime.settings = start.settings
        PythonRuntime.startGroup = g
        TelemetryConfig.current = start.telemetry
        if pythonStarted {
            PythonRuntime.adopt(processName: "daemon process group '\(g.name)'")
        } else {
            PythonRuntime.initialize(processName: "daemon process group '\(g.name)'")
        }

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
        ImportScripts.run(start.preload)
        for i in 0..<g.threads {
            workers.append(spawn(stackSize: g.stackSize) { worker(i) })
        }
        // The health URL counts this process from now on (LifecycleBoard).
        lifecycleIndex = start.lifecycleIndex
        if g.threads > 0 { LifecycleBoard.current?.daemonState(start.lifecycleIndex, .accepting) }
        startDeadlockWatch()
        pthread_sigmask(SIG_SETMASK, &old, nil)
        Monitor.supervise()
    }

    /// A start-up failure that the next process would hit again: log it, pause so the
    /// parent's respawns stay slow (no storm of log lines), exit.
    package static func startupFailed(_ g: DaemonGroupConfig, _ message: String, parentPid: pid_t? = nil) -> Never {
        Log.server(APLOG_ALERT, .daemonStartupFailed, message + " Retrying in 5 seconds.")
        let parent = parentPid ?? start.parentPid
        let deadline = monotonicMicros() + 5_000_000
        while monotonicMicros() < deadline && getppid() == parent { sleepMicros(100_000) }
        _exit(1)
    }
}
