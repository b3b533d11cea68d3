import CModWSGI
import SystemCalls
import WSGICore

/// A daemon process from its fork in the Apache parent until it runs as its group says: the
/// group's user, limits and environment, then either
///
/// - **the application's Python executable** (exec mode, the default where it is faster): the
///   process execs `<python-home>/bin/python3.X`, which loads the daemon runtime
///   (`libmod_wsgi-daemon.so`, beside this module) as an extension module and runs the same
///   daemon code (WSGICore's DaemonProcess) with the group's socket, the metrics board and a
///   start record kept open across the exec. The pid stays the process Apache forked, so the
///   parent supervises, restarts and stops it exactly as a forked one. Debian's and Ubuntu's
///   `python3.X` are non-PIC executables: Python runs about 19 % faster there than from
///   `libpython3.X.so` (bench/FINDINGS.md);
/// - **libpython in this process** (fork mode, as mod_wsgi): where the executable is itself
///   linked to libpython (pyenv `--enable-shared`, the official Docker images) and so gains
///   nothing, with `python-executable=off`, or when the executable cannot be used.
enum DaemonLaunch {
    /// How the processes of one group run their Python, decided once per configuration by the
    /// parent (post_config), with the reason logged.
    struct Plan {
        /// The executable to run (nil: fork mode), and the daemon runtime it loads.
        var executable: String?
        var runtime: String?
        var reason: String
    }

    nonisolated(unsafe) static var plans: [String: Plan] = [:]
    /// How Apache writes its error log (the main server's), for the daemon runtime.
    nonisolated(unsafe) static var logSettings = ErrorLogSettings()

    // MARK: the parent

    /// post_config (the real pass): a plan for every group, and the error log's settings.
    static func configure(_ global: GlobalConfig, server s: UnsafeMutablePointer<server_rec>, pool: OpaquePointer?) {
        plans = [:]
        for g in global.daemonGroups {
            let plan = self.plan(g, global: global)
            plans[g.name] = plan
            Log.server(
                APLOG_INFO, .daemonPythonPlan,
                plan.executable.map {
                    "Daemon process group '\(g.name)' runs its Python in the executable \($0): \(plan.reason)."
                }
                    ?? "Daemon process group '\(g.name)' runs its Python from libpython in the process Apache forks: \(plan.reason).",
                s)
        }
        var log = ErrorLogSettings()
        log.level = wsgi_module_loglevel(s)
        log.format = str(wsgi_error_log_format(pool))
        log.serverName = str(s.pointee.server_hostname) ?? ""
        log.syslogIdent = str(wsgi_server_argv0()) ?? "httpd"
        if s.pointee.error_log == nil, let name = str(s.pointee.error_fname), name.hasPrefix("syslog") {
            log.syslogFacility = syslogFacility(name)
        }
        logSettings = log
    }

    static func plan(_ g: DaemonGroupConfig, global: GlobalConfig) -> Plan {
        if g.pythonExecutable == "off" { return Plan(reason: "python-executable=off") }
        guard let module = str(wsgi_module_path()) else {
            return Plan(reason: "the path of this module is unknown, so is its daemon runtime")
        }
        let runtime = runtimePath(module)
        guard access(runtime, R_OK) == 0 else {
            return Plan(reason: "there is no daemon runtime \(runtime) beside the module")
        }
        let exe: String
        if let given = g.pythonExecutable {
            exe = given
        } else {
            let home = g.pythonHome ?? global.pythonHome ?? str(wsgi_python_exec_prefix()) ?? "/usr"
            let version = PythonRuntime.version
            guard
                let found = ["python" + version, "python3", "python"].map({ home + "/bin/" + $0 }).first(where: {
                    access($0, X_OK) == 0
                })
            else { return Plan(reason: "\(home)/bin has no python\(version)") }
            exe = found
        }
        guard access(exe, X_OK) == 0 else {
            return Plan(reason: "\(exe) is not an executable file (\(String(cString: strerror(wsgi_errno()))))")
        }
        switch g.pythonExecutable == nil ? ElfImage.needsLibpython(exe) : false {
        case .some(true):
            return Plan(
                reason:
                    "\(exe) is itself linked to libpython, so the executable runs Python no faster (set python-executable=\(exe) to run it anyway)"
            )
        case .none:
            return Plan(reason: "\(exe) is not an ELF executable this module can read")
        case .some(false):
            break
        }
        return Plan(
            executable: exe, runtime: runtime,
            reason: g.pythonExecutable != nil ? "python-executable=\(exe)" : "it runs Python faster than libpython")
    }

    /// The descriptor of each server's own ErrorLog by its index in Apache's list (-1: the main
    /// server's, which the process has as its standard error).
    static func serverLogs() -> [Int32] {
        func fd(_ s: UnsafePointer<server_rec>?) -> Int32 {
            guard let file = s?.pointee.error_log else { return -1 }
            var fd: apr_os_file_t = -1
            return apr_os_file_get(&fd, file) == APR_SUCCESS ? fd : -1
        }
        let mainFD = fd(UnsafePointer(ModuleState.mainServer))
        var out: [Int32] = []
        var cur = UnsafePointer(ModuleState.mainServer)
        while let c = cur {
            let f = fd(c)
            out.append(f == mainFD || f == 2 ? -1 : f)
            cur = UnsafePointer(c.pointee.next)
        }
        return out
    }

    /// The daemon runtime beside a module: `-daemon` before the first dot of its file name
    /// (libmod_wsgi.so → libmod_wsgi-daemon.so, mod_wsgi-py311.so → mod_wsgi-py311-daemon.so).
    static func runtimePath(_ module: String) -> String {
        let slash = module.lastIndex(of: "/").map { module.index(after: $0) } ?? module.startIndex
        let name = module[slash...]
        guard let dot = name.firstIndex(of: ".") else { return module + "-daemon" }
        return String(module[..<dot]) + "-daemon" + String(module[dot...])
    }

    static func syslogFacility(_ spec: String) -> Int32 {
        let name = spec.split(separator: ":", maxSplits: 1).dropFirst().first.map(String.init) ?? "local7"
        let table: [String: Int32] = [
            "auth": LOG_AUTH, "authpriv": LOG_AUTHPRIV, "cron": LOG_CRON, "daemon": LOG_DAEMON, "ftp": LOG_FTP,
            "kern": LOG_KERN, "lpr": LOG_LPR, "mail": LOG_MAIL, "news": LOG_NEWS, "syslog": LOG_SYSLOG,
            "user": LOG_USER, "uucp": LOG_UUCP, "local0": LOG_LOCAL0, "local1": LOG_LOCAL1, "local2": LOG_LOCAL2,
            "local3": LOG_LOCAL3, "local4": LOG_LOCAL4, "local5": LOG_LOCAL5, "local6": LOG_LOCAL6,
            "local7": LOG_LOCAL7,
        ]
        return table[name.lowercased()] ?? LOG_LOCAL7
    }

    // MARK: the process Apache forked

    static func run(_ slot: DaemonSlot, allSlots: [DaemonSlot]) -> Never {
        wsgi_daemon_default_signals()
        let g = slot.group
        let parent = DaemonManager.parentPid
        // Only this group's socket; not Apache's listeners nor the other groups' sockets.
        ap_close_listeners()
        for other in Set(allSlots.map { $0.listener }) where other != slot.listener { close(other) }

        var plan = plans[g.name] ?? Plan(reason: "no plan")
        // server_metrics() reads Apache's scoreboard: after an exec it is mapped again from a
        // descriptor of its shared memory, which only root can open (/proc/self/map_files).
        var scoreboard: (fd: Int32, offset: Int, length: Int)?
        if plan.executable != nil && g.serverMetrics {
            scoreboard = openScoreboard()
            if scoreboard == nil {
                plan.executable = nil
                Log.server(
                    APLOG_INFO, .daemonPythonFallback,
                    "Daemon process group '\(g.name)' has server-metrics=On and Apache's scoreboard could not be opened for its Python executable (\(String(cString: strerror(wsgi_errno())))); running Python from libpython in this process."
                )
            }
        }

        let user: Identity.User
        do {
            user = try Identity.drop(g)
        } catch {
            DaemonProcess.startupFailed(g, "Couldn't start daemon process '\(g.name)': \(error).", parentPid: parent)
        }
        // Die with the parent (cleared by setuid, so set after switching; kept by exec).
        _ = wsgi_prctl_pdeathsig(SIGTERM)
        if getppid() != parent { _exit(0) }
        applyLimits(g)
        setupEnvironment(g, user: user)

        var settings = GlobalConfig.current.pythonSettings
        if let home = g.pythonHome { settings.home = home }
        settings.pythonPath = g.pythonPath
        var start = DaemonStart(
            group: g, instance: slot.instance, listener: slot.listener, parentPid: parent, settings: settings,
            preload: preloadScripts(g), facts: ApacheHost.facts(), telemetry: GlobalConfig.current.telemetry)
        start.lifecycleIndex = slot.lifecycleIndex

        if let exe = plan.executable, let runtime = plan.runtime {
            execPython(exe, runtime: runtime, start: start, scoreboard: scoreboard)
            // Only when the exec failed (logged): go on in this process.
        }
        if let scoreboard { close(scoreboard.fd) }
        if let name = g.displayName {
            let title = name == "%{GROUP}" ? "(wsgi:\(g.name))" : name
            if let area = ProcessTitle.ownArgumentArea() { ProcessTitle.set([title], area: area, threadName: title) }
        }
        DaemonProcess.run(start)
    }

    /// Replaces this process with `exe` running the daemon runtime. Returns only when the exec
    /// failed (with a warning logged), for the caller to go on in this process.
    static func execPython(
        _ exe: String, runtime: String, start: DaemonStart, scoreboard: (fd: Int32, offset: Int, length: Int)?
    ) {
        let g = start.group
        var record = DaemonExecRecord(
            start: start, log: logSettings, title: processTitle(g), threadName: threadName(g))
        var keep: [Int32] = [start.listener]
        if let board = MetricsBoard.current, board.fd >= 0 {
            record.metricsBoard = board.fd
            keep.append(board.fd)
        }
        if let board = LifecycleBoard.current, board.fd >= 0 {
            record.lifecycleBoard = board.fd
            keep.append(board.fd)
        }
        if let scoreboard {
            record.scoreboard = scoreboard.fd
            record.scoreboardOffset = scoreboard.offset
            record.scoreboardLength = scoreboard.length
            keep.append(scoreboard.fd)
        }
        record.serverLogs = serverLogs()
        keep += record.serverLogs.filter { $0 >= 0 }
        var argv: [String] = [exe, "-s"]
        // 3.11+: no '' (the working directory) at the front of sys.path, as in embedded Python.
        if PY_MAJOR_VERSION > 3 || PY_MINOR_VERSION >= 11 { argv.append("-P") }
        if start.settings.optimize > 0 { argv.append(start.settings.optimize > 1 ? "-OO" : "-O") }
        if start.settings.dontWriteBytecode { argv.append("-B") }
        // WSGIFreeThreading On for this group, in a free-threaded build: Python starts without a GIL
        // (as PyConfig.enable_gil = 0 does in a forked daemon).
        if wsgi_python_free_threading_build() != 0
            && InterpreterOptions.freeThreading(processGroup: g.name, global: start.settings.interpreterOptions)
        {
            argv += ["-X", "gil=0"]
        }
        for w in start.settings.warnings { argv += ["-W", w] }
        if let seed = start.settings.hashSeed {
            setenv("PYTHONHASHSEED", String(seed), 1)
            record.addedEnvironment.append("PYTHONHASHSEED")
        }
        let fd: Int32
        do {
            let bytes = try RecordCoding.encode(record)
            fd = try syscall("memfd_create") { memfd_create("mod_wsgi-daemon-start", 0) }
            try writeAll(fd, bytes, subject: "the daemon start record")
            _ = lseek(fd, 0, SEEK_SET)
        } catch {
            Log.server(
                APLOG_WARNING, .daemonStartRecordFailed,
                "Couldn't write the start record of daemon process '\(g.name)' for \(exe): \(error); running Python from libpython in this process."
            )
            return
        }
        keep.append(fd)
        argv += ["-c", bootstrap(runtime: runtime, recordFD: fd)]
        // Room for the title over the arguments (ps shows what the runtime writes there).
        let title = record.title.reduce(0) { $0 + $1.utf8.count + 1 }
        let area = argv.reduce(0) { $0 + $1.utf8.count + 1 }
        if title > area { argv.append(String(repeating: " ", count: title - area)) }

        closeDescriptors(except: Set(keep))
        for k in keep { _ = wsgi_set_cloexec(k, 0) }
        // Signals sent before the runtime has its handlers stay pending until it has them.
        var mask = sigset_t()
        sigemptyset(&mask)
        for s in [SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP, SIGXCPU] { sigaddset(&mask, s) }
        var old = sigset_t()
        pthread_sigmask(SIG_BLOCK, &mask, &old)

        var cargs = argv.map { strdup($0) }
        cargs.append(nil)
        execv(exe, &cargs)
        let e = wsgi_errno()
        pthread_sigmask(SIG_SETMASK, &old, nil)
        for k in keep { _ = wsgi_set_cloexec(k, 1) }
        close(fd)
        Log.server(
            APLOG_WARNING, .daemonExecFailed,
            "Couldn't run \(exe) for daemon process '\(g.name)' as uid=\(getuid()): \(String(cString: strerror(e))); running Python from libpython in this process instead."
        )
    }

    /// The `-c` program: loads the daemon runtime by path and hands it the record's descriptor.
    /// It leaves no name behind in __main__ (run() takes `_m` away).
    static func bootstrap(runtime: String, recordFD: Int32) -> String {
        func literal(_ s: String) -> String {
            var out = "'"
            for c in s.unicodeScalars {
                switch c {
                case "\\": out += "\\\\"
                case "'": out += "\\'"
                case "\n": out += "\\n"
                default: out.unicodeScalars.append(c)
                }
            }
            return out + "'"
        }
        return """
            from importlib.util import spec_from_file_location as _f, module_from_spec as _n
            _s = _f('_mod_wsgi_daemon', \(literal(runtime)))
            _m = _n(_s)
            _s.loader.exec_module(_m)
            del _f, _n, _s
            _m.run(\(recordFD))
            """
    }

    /// What ps shows for the process: display-name (%{GROUP}: "(wsgi:NAME)"), else Apache's own
    /// command line as this forked process has it (/proc/self/cmdline), as a forked daemon shows it.
    static func processTitle(_ g: DaemonGroupConfig) -> [String] {
        if let name = g.displayName { return [name == "%{GROUP}" ? "(wsgi:\(g.name))" : name] }
        guard var bytes = readFile("/proc/self/cmdline", limit: 64 << 10), !bytes.isEmpty else { return ["httpd"] }
        if bytes.last == 0 { bytes.removeLast() }
        return bytes.split(separator: 0, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
    }

    /// The main thread's name: display-name's, else Apache's (what a forked daemon inherits).
    static func threadName(_ g: DaemonGroupConfig) -> String {
        if let name = g.displayName { return name == "%{GROUP}" ? "(wsgi:\(g.name))" : name }
        let comm = readSmallFile("/proc/self/comm") ?? "httpd"
        return comm.hasSuffix("\n") ? String(comm.dropLast()) : comm
    }

    /// A descriptor of the scoreboard's shared memory, through /proc/self/map_files (root
    /// only): the mapping that holds the global record, and where the record is in it.
    static func openScoreboard() -> (fd: Int32, offset: Int, length: Int)? {
        guard let sb = wsgi_scoreboard(), let global = sb.pointee.global,
            let maps = readFile("/proc/self/maps", limit: 4 << 20)
        else { return nil }
        let address = UInt(bitPattern: global)
        for line in maps.split(separator: UInt8(ascii: "\n")) {
            let range = line.prefix(while: { $0 != UInt8(ascii: " ") })
            let bounds = range.split(separator: UInt8(ascii: "-"))
            guard bounds.count == 2,
                let lo = UInt(String(decoding: bounds[0], as: UTF8.self), radix: 16),
                let hi = UInt(String(decoding: bounds[1], as: UTF8.self), radix: 16),
                address >= lo, address < hi
            else { continue }
            let path = "/proc/self/map_files/" + String(decoding: range, as: UTF8.self)
            guard let fd = try? syscall("open", path, { wsgi_open_rdonly(path) }) else { return nil }
            return (fd, Int(address - lo), Int(hi - lo))
        }
        return nil
    }

    /// Closes every descriptor but the standard ones and `keep`: the exec'd process gets only
    /// what it uses (Apache's pipes and other logs are not its business).
    static func closeDescriptors(except keep: Set<Int32>) {
        guard let dir = opendir("/proc/self/fd") else { return }
        var open: [Int32] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if let fd = Int32(name), fd > 2, !keep.contains(fd) { open.append(fd) }
        }
        let own = dirfd(dir)
        closedir(dir)
        for fd in open where fd != own { close(fd) }
    }

    // MARK: the group's limits and environment (both modes)

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

    /// umask, HOME/USER/LOGNAME, the working directory, lang= and locale=, the egg cache.
    static func setupEnvironment(_ g: DaemonGroupConfig, user: Identity.User) {
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

/// Reads just enough of an ELF file to tell whether it needs libpython (DT_NEEDED).
enum ElfImage {
    /// true / false, or nil when the file is not a 64-bit little-endian ELF with a dynamic section.
    static func needsLibpython(_ path: String) -> Bool? {
        guard let fd = try? syscall("open", path, { wsgi_open_rdonly(path) }) else { return nil }
        defer { close(fd) }
        func read(_ offset: Int, _ count: Int) -> [UInt8]? {
            var buf = [UInt8](repeating: 0, count: count)
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return n == count ? buf : nil
        }
        func u(_ b: [UInt8], _ at: Int, _ size: Int) -> Int {
            var v = 0
            for i in 0..<size { v |= Int(b[at + i]) << (8 * i) }
            return v
        }
        guard let h = read(0, 64), h[0] == 0x7f, h[1] == 0x45, h[2] == 0x4c, h[3] == 0x46, h[4] == 2, h[5] == 1
        else { return nil }
        let phoff = u(h, 0x20, 8), phentsize = u(h, 0x36, 2), phnum = u(h, 0x38, 2)
        guard phentsize >= 56, phnum > 0, phnum < 256, let ph = read(phoff, phentsize * phnum) else { return nil }
        var loads: [(vaddr: Int, offset: Int, size: Int)] = []
        var dynamic: (offset: Int, size: Int)?
        for i in 0..<phnum {
            let p = i * phentsize
            let type = u(ph, p, 4)
            if type == 1 { loads.append((u(ph, p + 16, 8), u(ph, p + 8, 8), u(ph, p + 32, 8))) }
            if type == 2 { dynamic = (u(ph, p + 8, 8), u(ph, p + 32, 8)) }
        }
        guard let dynamic, dynamic.size < 1 << 20, let dyn = read(dynamic.offset, dynamic.size) else {
            return false  // static: needs nothing
        }
        var needed: [Int] = []
        var strtab: Int?
        var i = 0
        while i + 16 <= dyn.count {
            let tag = u(dyn, i, 8), value = u(dyn, i + 8, 8)
            if tag == 0 { break }
            if tag == 1 { needed.append(value) }
            if tag == 5 { strtab = value }
            i += 16
        }
        guard let strtab, let seg = loads.first(where: { strtab >= $0.vaddr && strtab < $0.vaddr + $0.size }) else {
            return nil
        }
        let base = strtab - seg.vaddr + seg.offset
        for n in needed {
            guard let name = read(base + n, 64) else { continue }
            if String(decoding: name.prefix(while: { $0 != 0 }), as: UTF8.self).hasPrefix("libpython") { return true }
        }
        return false
    }
}
