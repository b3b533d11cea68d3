#if canImport(Glibc)
import Glibc
#endif

extension ResolvedConfig {
    /// Resolves the parsed options into a complete configuration, or throws the first problem
    /// (checked in mod_wsgi-express's order, so the same command line reports the same error).
    public static func resolve(_ o: ServerOptions, command: String, context ctx: RunContext) throws -> ResolvedConfig {
        try refuseUnsupported(o)
        let env = ctx.environment
        let cwd = ctx.cwd
        func abs(_ p: String) -> String { Path.absolute(p, cwd: cwd) }

        let appType = o.applicationType
        guard ["script", "module", "static", "paste"].contains(appType) else {
            throw ExpressError.badOption("--application-type must be script, module, paste or static, not '\(appType)'")
        }

        // Host, port and server root.
        let port = o.port
        guard (1...65535).contains(port) else {
            throw ExpressError.badOption("--port must be between 1 and 65535, not \(port)")
        }
        let listenerHost = o.host.flatMap { $0.isEmpty ? nil : $0 }
        let host = listenerHost ?? "localhost"
        let serverRoot = o.serverRoot.map(abs) ?? defaultServerRoot(host: host, port: port, ctx: ctx)
        let workingDirectory = abs(o.workingDirectory ?? cwd)
        let app = try EntryPoint.resolve(o, serverRoot: serverRoot, cwd: cwd)

        // Mode.
        let debugTools = try DebugTools.resolve(o, serverRoot: serverRoot, environment: env, cwd: cwd)
        let debugMode = o.debugMode || debugTools.any
        let embedded = o.embeddedMode
        let processes = o.processes
        let threads = o.threads
        guard processes >= 1 else { throw ExpressError.badOption("--processes must be 1 or more, not \(processes)") }
        guard threads >= 1 else { throw ExpressError.badOption("--threads must be 1 or more, not \(threads)") }
        if let exe = o.pythonExecutable, exe != "auto", exe != "off", !exe.hasPrefix("/") {
            throw ExpressError.badOption(
                "--python-executable must be auto, off or the absolute path of a Python executable, not '\(exe)'")
        }
        if let n = o.pythonThreads, n < 0 || n > 1000 {
            throw ExpressError.badOption("--python-threads must be from 0 (every thread) to 1000, not \(n)")
        }
        for (name, v) in [
            ("--initial-workers", o.initialWorkers),
            ("--minimum-spare-workers", o.minimumSpareWorkers),
            ("--maximum-spare-workers", o.maximumSpareWorkers),
        ] {
            if let v, v < 0 || v > 1 {
                throw ExpressError.badOption("\(name) value needs to be within the range 0 to 1")
            }
        }

        // --reload-on-changes (developer options): daemon processes only.
        if o.reloadOnChanges && embedded {
            throw ExpressError.badOption(
                "--reload-on-changes needs daemon mode: it restarts daemon processes, and --embedded-mode runs none (leave one of them out)"
            )
        }
        if o.reloadOnChanges && debugMode {
            throw ExpressError.badOption(
                "--reload-on-changes needs daemon mode: debug mode runs the application in a single Apache process (leave one of them out)"
            )
        }

        guard (0...1000).contains(o.nextRequestWait) else {
            throw ExpressError.badOption(
                "--next-request-wait must be a number of milliseconds from 0 (off) to 1000, not \(o.nextRequestWait)")
        }

        var mountPoint = o.mountPoint
        if !mountPoint.hasPrefix("/") { mountPoint = Path.normalize("/" + mountPoint) }

        let mapHead = o.mapHEADToGET
        guard ["off", "on", "auto"].contains(mapHead.lowercased()) else {
            throw ExpressError.badOption("--map-head-to-get must be Off, On or Auto, not '\(mapHead)'")
        }

        // Apache, the module and Python.
        let apache = try ApacheInstall.discover(
            httpdOption: o.httpdExecutable, modulesOption: o.modulesDirectory,
            rotatelogsOption: o.rotatelogsExecutable.map(abs),
            environment: env, cwd: cwd)
        let (mpm, preference) = try chooseMPM(
            o.serverMPMs, debugMode: debugMode, embedded: embedded,
            modulesDirectory: apache.modulesDirectory)
        let module = try ModuleInfo.locate(environment: env, executable: ctx.executable)
        let pythonHome = try PythonHome.resolve(option: o.pythonHome, environment: env, module: module, cwd: cwd)

        // Who Apache's children run as.
        let (account, picked) = try runAccount(user: o.user, group: o.group, ctx: ctx)

        // Access, authentication, dispatch and trusted-proxy hooks: scripts Apache's user can read.
        let accessHooks = try AccessHooks.resolve(o, account: account, ctx: ctx)

        let logs = try LogSettings(o, serverRoot: serverRoot, cwd: cwd, canReopen: ctx.canReopen)
        let services = try ServiceScript.resolve(
            o, account: account, logDirectory: logs.directory,
            debugMode: debugMode, cwd: cwd)

        var pythonPaths = o.pythonPaths.map(abs)
        if (debugMode || embedded) && !pythonPaths.contains(workingDirectory) {
            pythonPaths.insert(workingDirectory, at: 0)
        }

        var defines: [String] = []
        if embedded { defines.append("-DEMBEDDED_MODE") }
        if debugMode { defines.append("-DONE_PROCESS") }
        if let s = logs.startupLogFile { defines += ["-E", s] }

        let displayHost = o.serverName ?? host
        let url = port == 80 ? "http://\(displayHost)/" : "http://\(displayHost):\(port)/"
        let shell =
            o.shellExecutable.map(abs)
            ?? ["/usr/bin/bash", "/bin/bash"].first(where: Sys.isExecutable) ?? "/bin/sh"

        var config = ResolvedConfig(
            command: command,
            commandLine: ctx.argv.map(shellQuoteIfNeeded).joined(separator: " "),
            applicationType: appType, entryPoint: app.entryPoint, isDefaultApplication: app.isDefault,
            callableObject: o.callableObject,
            callableObjectGiven: o.callableObject != "application",
            mountPoint: mountPoint, workingDirectory: workingDirectory, pythonPaths: pythonPaths,
            pythonHome: pythonHome,
            pythonEggs: o.pythonEggs.map(abs) ?? Path.join(serverRoot, "python-eggs"),
            documentRoot: app.documentRoot ?? Path.join(serverRoot, "htdocs"),
            directoryIndex: o.directoryIndex, directoryListing: o.directoryListing,
            allowOverride: o.allowOverrides.isEmpty ? "None" : o.allowOverrides.joined(separator: " "),
            urlAliases: urlAliases(o.urlAliases, cwd: cwd),
            errorDocuments: o.errorDocuments.map { (status: $0.first, document: $0.second) },
            mapHEADToGET: mapHead, chunkedRequest: o.chunkedRequest, enableSendfile: o.enableSendfile,
            setenv: o.setenv.map { (name: $0.first, value: $0.second) },
            passenv: o.passenv,
            locale: resolveLocale(o.locale ?? o.lang, env: env),
            disableReloading: o.disableReloading || embedded || debugMode,
            reloadOnChanges: o.reloadOnChanges,
            host: host, listenerHost: listenerHost, port: port,
            serverName: o.serverName, serverAliases: o.serverAliases,
            allowLocalhost: o.allowLocalhost, http2: o.http2,
            serverRoot: serverRoot,
            pidFile: o.pidFile.map(abs) ?? Path.join(serverRoot, "httpd.pid"),
            account: account, accountPicked: picked,
            includeFiles: o.includeFiles.map(abs),
            rewriteRules: o.rewriteRules.map(abs) ?? Path.join(serverRoot, "rewrite.conf"),
            rewriteRulesGiven: o.rewriteRules != nil,
            envvarsScript: o.envvarsScript.map(abs),
            keepAliveTimeout: o.keepAliveTimeout,
            nextRequestWait: o.nextRequestWait,
            limitRequestBody: o.limitRequestBody,
            requestReadTimeout: requestReadTimeout(o), serverBacklog: o.serverBacklog,
            compressResponses: o.compressResponses, serverStatus: o.serverStatus,
            accessHooks: accessHooks,
            embeddedMode: embedded, processes: processes, threads: threads,
            multiprocess: o.isGiven("--processes"),
            mpm: mpm, mpmPreference: preference.isEmpty ? MPM.all : preference,
            mpmSizing: MPMSizing.compute(
                processes: processes, threads: threads, maxClients: o.maxClients,
                initial: o.initialWorkers, minSpare: o.minimumSpareWorkers,
                maxSpare: o.maximumSpareWorkers, embedded: embedded),
            daemon: DaemonSettings(o, socketPrefix: o.socketPrefix.map(abs) ?? Path.join(serverRoot, "wsgi")),
            orphanInterpreter: o.orphanInterpreter,
            serviceScripts: services,
            logDirectory: logs.directory, logLevel: logs.level, logToTerminal: logs.toTerminal,
            errorLogFile: logs.errorLogFile, accessLog: o.accessLog, accessLogFile: logs.accessLogFile,
            accessLogFormat: logs.accessLogFormat, logFormatNickname: logs.formatNickname,
            errorLogFormat: o.errorLogFormat, startupLogFile: logs.startupLogFile,
            rotateLogs: logs.rotate, maxLogSize: o.maxLogSize, rotatelogs: apache.rotatelogs,
            errorLogName: o.errorLogName, accessLogName: o.accessLogName,
            apache: apache, mimeTypes: abs(o.mimeTypes), shell: shell,
            processName: o.processName ?? (Path.basename(apache.httpd) + " (mod_wsgi-express)"),
            setupOnly: o.setupOnly, assumeTerminal: o.isatty, module: module, httpdDefines: defines,
            debugMode: debugMode, enableDebugger: debugTools.debugger, debugTools: debugTools,
            url: url)
        try config.resolveSite(o, cwd: cwd)
        config.metrics = try MetricsSettings.resolve(o)
        config.pythonLibrary = try PythonLibrary.locate(module: module, pythonHome: pythonHome)
        config.interpreter = try InterpreterTelemetrySettings.resolve(
            o, serverRoot: serverRoot, services: services, debugMode: debugMode, module: module,
            pythonHome: config.pythonHome, pythonPaths: pythonPaths)
        if let socket = config.interpreter.telemetrySocket {
            config.serviceScripts.append(
                ServiceScript(
                    name: InterpreterTelemetrySettings.serviceName,
                    script: Path.join(Path.dirname(Path.dirname(socket)), "telemetry-service.py"),
                    user: account.user, group: account.group))
        }
        config.lifecycle = try LifecycleSettings.resolve(o, debugMode: debugMode, metrics: config.metrics)
        return config
    }

    /// HTTPS, proxying and the site-facing flags of issue 14.
    mutating func resolveSite(_ o: ServerOptions, cwd: String) throws {
        https = try HTTPSSettings.resolve(o, httpPort: port, cwd: cwd)
        proxy = try ProxySettings.resolve(o)
        errorOverride = o.errorOverride
        withCGI = o.withCGI
        handlerScripts = try o.handlerScripts.map { p in
            guard p.first.hasPrefix("."), p.first.count > 1 else {
                throw ExpressError.badOption("--add-handler takes a file extension starting with '.', not '\(p.first)'")
            }
            let script = Path.absolute(p.second, cwd: cwd)
            guard Sys.isFile(script) else {
                throw ExpressError.badOption("--add-handler \(p.first): WSGI script '\(script)' does not exist")
            }
            return (extension: p.first, script: script)
        }
        if let s = serverName, s.isEmpty || s.contains("/") || s.contains(" ") {
            throw ExpressError.badOption("--server-name takes a host name, not '\(s)'")
        }
    }

    /// The first option given that the table marks as refused.
    static func refuseUnsupported(_ o: ServerOptions) throws {
        for name in o.given {
            switch OptionTable.row(name)?.status {
            case .refused(let reason)?: throw ExpressError.notSupportedYet(option: name, reason: reason)
            case .withdrawn(let reason)?: throw ExpressError.notSupported(option: name, reason: reason)
            default: break
            }
        }
    }

    /// $TMPDIR/mod_wsgi-<host>:<port>:<uid>, as mod_wsgi-express names it.
    static func defaultServerRoot(host: String, port: Int, ctx: RunContext) -> String {
        var tmp = ctx.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        while tmp.count > 1 && tmp.hasSuffix("/") { tmp.removeLast() }
        return "\(tmp)/mod_wsgi-\(host):\(port):\(ctx.uid)"
    }

    /// The MPM to load and the preference it was chosen from (debug and embedded mode avoid event).
    static func chooseMPM(
        _ given: [String], debugMode: Bool, embedded: Bool,
        modulesDirectory: String
    ) throws -> (String, [String]) {
        var preference = given
        for m in preference where !MPM.all.contains(m) {
            throw ExpressError.badOption("--server-mpm must be event, worker or prefork, not '\(m)'")
        }
        if preference.isEmpty && (debugMode || embedded) { preference = ["worker", "prefork"] }
        if debugMode {
            preference = preference.filter { $0 != "event" }
            if preference.isEmpty { preference = ["worker", "prefork"] }
        }
        guard let mpm = MPM.choose(preferred: preference, modulesDirectory: modulesDirectory) else {
            throw ExpressError.mpmNotFound(
                directory: modulesDirectory, wanted: preference.isEmpty ? MPM.all : preference)
        }
        return (mpm.chosen, preference)
    }

    /// RequestReadTimeout's argument from the header/body timeout options.
    static func requestReadTimeout(_ o: ServerOptions) -> String {
        var rrt = ""
        if o.headerTimeout > 0 {
            rrt += "header=\(o.headerTimeout)"
            if o.headerMaxTimeout > 0 { rrt += "-\(o.headerMaxTimeout)" }
            if o.headerMinRate > 0 { rrt += ",MinRate=\(o.headerMinRate)" }
        }
        if o.bodyTimeout > 0 {
            rrt += (rrt.isEmpty ? "" : " ") + "body=\(o.bodyTimeout)"
            if o.bodyMaxTimeout > 0 { rrt += "-\(o.bodyMaxTimeout)" }
            if o.bodyMinRate > 0 { rrt += ",MinRate=\(o.bodyMinRate)" }
        }
        return rrt
    }

    /// Static aliases, longest URL first as mod_wsgi-express sorts them; a file is served by name.
    static func urlAliases(_ given: [OptionPair], cwd: String) -> [URLAlias] {
        given.sorted(by: { $0.first > $1.first }).map { v in
            let path = Path.absolute(v.second, cwd: cwd)
            if Sys.isDirectory(path) || !Sys.exists(path) {
                return URLAlias(
                    url: v.first, directory: v.second.hasSuffix("/") && path != "/" ? path + "/" : path,
                    filename: nil)
            }
            return URLAlias(url: v.first, directory: Path.dirname(path), filename: Path.basename(path))
        }
    }
}

/// The WSGI entry point and the document root it may imply.
struct EntryPoint {
    var entryPoint: String
    var isDefault: Bool
    var documentRoot: String?

    static func resolve(_ o: ServerOptions, serverRoot: String, cwd: String) throws -> EntryPoint {
        func abs(_ p: String) -> String { Path.absolute(p, cwd: cwd) }
        let appType = o.applicationType
        var r = EntryPoint(entryPoint: "", isDefault: false, documentRoot: o.documentRoot.map(abs))
        if let p = o.entryPoint ?? o.script {
            switch appType {
            case "script", "paste": r.entryPoint = abs(p)
            case "static":
                if r.documentRoot == nil { r.documentRoot = abs(p) }
                r.entryPoint = "(static)"
            default: r.entryPoint = p
            }
        } else if appType == "static" {
            if r.documentRoot == nil { r.documentRoot = cwd }
            r.entryPoint = "(static)"
        } else {
            r.entryPoint = Path.join(serverRoot, "default.wsgi")
            r.isDefault = true
        }
        if appType == "script" && !r.isDefault && !Sys.isFile(r.entryPoint) {
            throw ExpressError.scriptMissing(r.entryPoint)
        }
        if appType == "paste" {
            guard !r.isDefault else {
                throw ExpressError.badOption(
                    "--application-type paste needs the PasteDeploy configuration file (an .ini file) as the entry point"
                )
            }
            guard Sys.isFile(r.entryPoint) else {
                throw ExpressError.badOption(
                    "PasteDeploy configuration file '\(r.entryPoint)' does not exist: check the path")
            }
        }
        if appType == "module" {
            let isName = r.entryPoint.split(separator: ".").allSatisfy {
                !$0.isEmpty && $0.allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber }
            }
            guard isName else {
                throw ExpressError.badOption(
                    "'\(r.entryPoint)' is not a Python module name (with --application-type module give e.g. mypackage.wsgi)"
                )
            }
        }
        return r
    }
}

/// Where the logs go and in what format.
public struct LogSettings {
    var directory: String
    var level: String
    var toTerminal: Bool
    var rotate: Bool
    var errorLogFile: String
    var accessLogFile: String
    var accessLogFormat: String?
    var formatNickname: String
    var startupLogFile: String?

    /// /dev/stdout or /dev/stderr when Apache (started by this user) can open it again, as
    /// mod_wsgi-express checks; otherwise (a socket, or a pipe of another user's, as a
    /// container's output may be for a non-root user) a piped `tee`, which writes to the
    /// descriptor it inherits.
    static func terminal(_ device: String, _ canReopen: (String) -> Bool) -> String {
        if canReopen(device) { return device }
        return "|" + (["/usr/bin/tee", "/bin/tee"].first(where: Sys.isExecutable) ?? "tee")
    }

    public static func canReopen(_ device: String) -> Bool {
        let fd = open(device, O_WRONLY | O_APPEND | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    static let levels =
        ["emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"] + (1...8).map { "trace\($0)" }

    init(_ o: ServerOptions, serverRoot: String, cwd: String, canReopen: (String) -> Bool = LogSettings.canReopen)
        throws
    {
        // --log-directory overrides --log-to-terminal; rotation needs files.
        toTerminal = o.logToTerminal && o.logDirectory == nil
        directory = o.logDirectory.map { Path.absolute($0, cwd: cwd) } ?? serverRoot
        rotate = o.rotateLogs && !toTerminal
        errorLogFile = toTerminal ? Self.terminal("/dev/stderr", canReopen) : Path.join(directory, o.errorLogName)
        accessLogFile = toTerminal ? Self.terminal("/dev/stdout", canReopen) : Path.join(directory, o.accessLogName)
        accessLogFormat = o.accessLogFormat
        formatNickname = "common"
        if let f = accessLogFormat {
            if f == "common" || f == "combined" || f == "json" {
                formatNickname = f; accessLogFormat = nil
            } else {
                formatNickname = "custom"
            }
        }
        level = o.logLevel
        guard Self.levels.contains(level) else {
            throw ExpressError.badOption(
                "--log-level must be one of \(Self.levels.joined(separator: ", ")), not '\(level)'")
        }
        if o.startupLog {
            startupLogFile = toTerminal ? "/dev/stderr" : Path.join(directory, o.startupLogName)
        }
    }
}
