#if canImport(Glibc)
import Glibc
#endif

/// What the process runs in: the environment and identity, injectable for tests.
public struct RunContext {
    public var environment: [String: String]
    public var cwd: String
    public var uid: uid_t
    public var gid: gid_t
    public var executable: String?
    public var argv: [String]

    public init(environment: [String: String], cwd: String, uid: uid_t, gid: gid_t,
                executable: String?, argv: [String]) {
        self.environment = environment
        self.cwd = cwd
        self.uid = uid
        self.gid = gid
        self.executable = executable
        self.argv = argv
    }

    public static func current(argv: [String]) -> RunContext {
        var env: [String: String] = [:]
        var p = environ
        while let e = p.pointee {
            let s = String(cString: e)
            if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return RunContext(environment: env, cwd: Sys.cwd(), uid: getuid(), gid: getgid(),
                          executable: Sys.executablePath(), argv: argv)
    }
}

public struct URLAlias: Equatable {
    public var url: String
    public var directory: String
    public var filename: String?
}

/// The server to set up: every option of `ServerArguments` resolved to a value, paths made
/// absolute, Apache/module/Python found. Rendering the templates needs nothing else.
public struct ServerConfig {
    public var command: String
    public var commandLine: String

    // application
    public var applicationType: String
    public var entryPoint: String
    public var isDefaultApplication: Bool
    public var callableObject: String
    public var callableObjectGiven: Bool
    public var mountPoint: String
    public var workingDirectory: String
    public var pythonPaths: [String]
    public var pythonHome: String
    public var pythonEggs: String
    public var documentRoot: String
    public var directoryIndex: String?
    public var directoryListing: Bool
    public var allowOverride: String
    public var urlAliases: [URLAlias]
    public var errorDocuments: [(status: String, document: String)]
    public var mapHEADToGET: String
    public var chunkedRequest: Bool
    public var enableSendfile: Bool
    public var setenv: [(name: String, value: String)]
    public var passenv: [String]
    public var locale: String
    public var disableReloading: Bool

    // server
    public var host: String
    public var listenerHost: String?
    public var port: Int
    public var serverName: String?
    public var serverAliases: [String]
    public var allowLocalhost: Bool
    public var http2: Bool
    public var serverRoot: String
    public var pidFile: String
    public var account: Account
    public var accountPicked: Bool
    public var includeFiles: [String]
    public var rewriteRules: String
    public var rewriteRulesGiven: Bool
    public var envvarsScript: String?
    public var keepAliveTimeout: Int
    public var limitRequestBody: Int
    public var requestReadTimeout: String
    public var serverBacklog: Int
    public var compressResponses: Bool
    public var serverStatus: Bool

    // processes
    public var embeddedMode: Bool
    public var processes: Int
    public var threads: Int
    public var multiprocess: Bool
    public var mpm: String
    public var mpmPreference: [String]
    public var mpmSizing: MPMSizing
    public var daemon: DaemonSettings
    public var orphanInterpreter: Bool

    // logging
    public var logDirectory: String
    public var logLevel: String
    public var logToTerminal: Bool
    public var errorLogFile: String
    public var accessLog: Bool
    public var accessLogFile: String
    public var accessLogFormat: String?
    public var logFormatNickname: String
    public var errorLogFormat: String?
    public var startupLogFile: String?
    public var rotateLogs: Bool
    public var maxLogSize: Int
    public var rotatelogs: String
    public var errorLogName: String
    public var accessLogName: String

    // apache
    public var apache: ApacheInstall
    public var mimeTypes: String
    public var shell: String
    public var processName: String
    public var setupOnly: Bool
    public var module: ModuleInfo
    public var httpdDefines: [String]

    // debugging
    public var debugMode: Bool
    public var enableDebugger: Bool

    public var url: String
    public var httpdConf: String { Path.join(serverRoot, "httpd.conf") }
    public var daemonGroup: String { "\(host):\(port)" }
    public var operatingMode: String { debugMode ? "debug" : (embeddedMode ? "embedded" : "daemon") }
}

/// Apache's process/thread limits for the chosen MPM, computed as mod_wsgi-express 4.9 does.
public struct MPMSizing: Equatable {
    public var preforkMaxClients: Int
    public var preforkServerLimit: Int
    public var preforkStartServers: Int
    public var preforkMinSpare: Int
    public var preforkMaxSpare: Int
    public var workerMaxClients: Int
    public var workerServerLimit: Int
    public var workerThreadLimit: Int
    public var workerThreadsPerChild: Int
    public var workerStartServers: Int
    public var workerMinSpareThreads: Int
    public var workerMaxSpareThreads: Int

    static func compute(processes: Int, threads: Int, maxClients: Int?, initial: Double?, minSpare: Double?,
                        maxSpare: Double?, embedded: Bool) -> MPMSizing {
        if embedded {
            let m = processes * threads
            return MPMSizing(preforkMaxClients: m, preforkServerLimit: m, preforkStartServers: m,
                             preforkMinSpare: m, preforkMaxSpare: m,
                             workerMaxClients: m, workerServerLimit: processes, workerThreadLimit: threads,
                             workerThreadsPerChild: threads, workerStartServers: processes,
                             workerMinSpareThreads: m, workerMaxSpareThreads: m)
        }
        var m = processes * threads
        if let given = maxClients { m = max(given, m) } else { m = 10 + max(10, Int(1.5 * Double(m))) }
        let pInitial = initial ?? 0.05
        let pMin = minSpare ?? pInitial
        let pMax = maxSpare ?? 0.1
        let wInitial = initial ?? 0.2
        let wMin = minSpare ?? wInitial
        let wMax = maxSpare ?? 0.6
        let perChild = m > 20 ? m / (m / 20 + 1) : 10
        var serverLimit = m / perChild
        if serverLimit * perChild != m { serverLimit += 1 }
        return MPMSizing(
            preforkMaxClients: m, preforkServerLimit: m,
            preforkStartServers: max(1, Int(pInitial * Double(m))),
            preforkMinSpare: max(1, Int(pMin * Double(m))),
            preforkMaxSpare: max(1, Int(pMax * Double(m))),
            workerMaxClients: serverLimit * perChild, workerServerLimit: serverLimit,
            workerThreadLimit: perChild, workerThreadsPerChild: perChild,
            workerStartServers: max(1, Int(wInitial * Double(serverLimit))),
            workerMinSpareThreads: max(perChild, Int(wMin * Double(serverLimit)) * perChild),
            workerMaxSpareThreads: max(perChild, Int(wMax * Double(serverLimit)) * perChild))
    }
}

/// WSGIDaemonProcess settings (used once daemon mode is available), with 4.9's defaults.
public struct DaemonSettings: Equatable {
    public var maximumRequests = 0
    public var startupTimeout = 15
    public var shutdownTimeout = 5
    public var restartInterval = 0
    public var cpuTimeLimit = 0
    public var gracefulTimeout = 15
    public var evictionTimeout = 0
    public var deadlockTimeout = 60
    public var inactivityTimeout = 0
    public var requestTimeout = 60
    public var connectTimeout = 15
    public var socketTimeout = 60
    public var queueTimeout = 45
    public var listenBacklog = 100
    public var sendBufferSize = 0
    public var receiveBufferSize = 0
    public var headerBufferSize = 0
    public var responseBufferSize = 0
    public var responseSocketTimeout = 0
    public var socketPrefix = ""
    public var ignoreActivity: [String] = []
}

extension ServerConfig {
    /// Resolves parsed arguments into a complete configuration, or throws the first problem.
    public static func resolve(_ a: ServerArguments, command: String, context ctx: RunContext) throws -> ServerConfig {
        try refuseUnsupported(a)
        let env = ctx.environment
        let cwd = ctx.cwd
        func abs(_ p: String) -> String { Path.absolute(p, cwd: cwd) }

        // The entry point and its type.
        let appType = a.app.applicationType ?? "script"
        guard ["script", "module", "static", "paste"].contains(appType) else {
            throw ExpressError.badOption("--application-type must be script, module or static, not '\(appType)'")
        }
        if appType == "paste" {
            throw ExpressError.notSupportedYet(option: "--application-type paste", reason: "")
        }

        // Host, port and server root.
        let port = a.server.port ?? 8000
        guard (1...65535).contains(port) else { throw ExpressError.badOption("--port must be between 1 and 65535, not \(port)") }
        let listenerHost = a.server.host.flatMap { $0.isEmpty ? nil : $0 }
        let host = listenerHost ?? "localhost"
        var serverRoot: String
        if let r = a.server.serverRoot {
            serverRoot = abs(r)
        } else {
            var tmp = env["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
            while tmp.count > 1 && tmp.hasSuffix("/") { tmp.removeLast() }
            serverRoot = "\(tmp)/mod_wsgi-\(host):\(port):\(ctx.uid)"
        }

        let workingDirectory = abs(a.app.workingDirectory ?? cwd)

        var entryPoint: String
        var isDefault = false
        var documentRoot = a.app.documentRoot.map(abs)
        let positional = a.app.entryPoint ?? a.script
        if let p = positional {
            switch appType {
            case "script": entryPoint = abs(p)
            case "static":
                if documentRoot == nil { documentRoot = abs(p) }
                entryPoint = "(static)"
            default: entryPoint = p
            }
        } else if appType == "static" {
            if documentRoot == nil { documentRoot = cwd }
            entryPoint = "(static)"
        } else {
            entryPoint = Path.join(serverRoot, "default.wsgi")
            isDefault = true
        }
        if appType == "script" && !isDefault && !Sys.isFile(entryPoint) {
            throw ExpressError.scriptMissing(entryPoint)
        }
        if appType == "module" {
            guard entryPoint.split(separator: ".").allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber } }) else {
                throw ExpressError.badOption("'\(entryPoint)' is not a Python module name (with --application-type module give e.g. mypackage.wsgi)")
            }
        }

        // Mode.
        let debugMode = a.debug.debugMode || a.debug.enableDebugger
        let embedded = a.processes.embeddedMode || !Features.daemonModeAvailable
        let processes = a.processes.processes ?? 1
        let threads = a.processes.threads ?? 5
        guard processes >= 1 else { throw ExpressError.badOption("--processes must be 1 or more, not \(processes)") }
        guard threads >= 1 else { throw ExpressError.badOption("--threads must be 1 or more, not \(threads)") }
        for (name, v) in [("--initial-workers", a.processes.initialWorkers),
                          ("--minimum-spare-workers", a.processes.minimumSpareWorkers),
                          ("--maximum-spare-workers", a.processes.maximumSpareWorkers)] {
            if let v, v < 0 || v > 1 { throw ExpressError.badOption("\(name) value needs to be within the range 0 to 1") }
        }

        var mountPoint = a.app.mountPoint ?? "/"
        if !mountPoint.hasPrefix("/") { mountPoint = Path.normalize("/" + mountPoint) }

        let mapHead = a.app.mapHeadToGet ?? "Auto"
        guard ["off", "on", "auto"].contains(mapHead.lowercased()) else {
            throw ExpressError.badOption("--map-head-to-get must be Off, On or Auto, not '\(mapHead)'")
        }

        // Apache, the module and Python.
        let apache = try ApacheInstall.discover(httpdOption: a.apache.httpdExecutable, modulesOption: a.apache.modulesDirectory,
                                                rotatelogsOption: a.logging.rotatelogsExecutable.map(abs),
                                                environment: env, cwd: cwd)
        var preference = a.processes.serverMpm
        for m in preference where !MPM.all.contains(m) {
            throw ExpressError.badOption("--server-mpm must be event, worker or prefork, not '\(m)'")
        }
        if preference.isEmpty && (debugMode || embedded) { preference = ["worker", "prefork"] }
        if debugMode { preference = preference.filter { $0 != "event" }; if preference.isEmpty { preference = ["worker", "prefork"] } }
        guard let mpm = MPM.choose(preferred: preference, modulesDirectory: apache.modulesDirectory) else {
            throw ExpressError.mpmNotFound(directory: apache.modulesDirectory, wanted: preference.isEmpty ? MPM.all : preference)
        }
        let module = try ModuleInfo.locate(environment: env, executable: ctx.executable)
        let pythonHome = try PythonHome.resolve(option: a.app.pythonHome, environment: env, module: module, cwd: cwd)

        // Who Apache's children run as.
        let (account, picked) = try runAccount(user: a.server.user, group: a.server.group, ctx: ctx)

        // Logs.
        var logToTerminal = a.logging.logToTerminal
        let logDirectory = a.logging.logDirectory.map(abs) ?? serverRoot
        if a.logging.logDirectory != nil { logToTerminal = false }
        var rotateLogs = a.logging.rotateLogs
        if logToTerminal { rotateLogs = false }
        let errorLogName = a.logging.errorLogName ?? "error_log"
        let accessLogName = a.logging.accessLogName ?? "access_log"
        let errorLogFile = logToTerminal ? "/dev/stderr" : Path.join(logDirectory, errorLogName)
        let accessLogFile = logToTerminal ? "/dev/stdout" : Path.join(logDirectory, accessLogName)
        var accessFormat = a.logging.accessLogFormat
        var nickname = "common"
        if let f = accessFormat {
            if f == "common" || f == "combined" { nickname = f; accessFormat = nil } else { nickname = "custom" }
        }
        let logLevel = a.logging.logLevel ?? "warn"
        let levels = ["emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"] + (1...8).map { "trace\($0)" }
        guard levels.contains(logLevel) else {
            throw ExpressError.badOption("--log-level must be one of \(levels.joined(separator: ", ")), not '\(logLevel)'")
        }
        var startupLog: String?
        if a.logging.startupLog {
            startupLog = logToTerminal ? "/dev/stderr" : Path.join(logDirectory, a.logging.startupLogName ?? "startup_log")
        }

        // Request read timeouts, as RequestReadTimeout's argument.
        var rrt = ""
        let ht = a.server.headerTimeout ?? 15, hmt = a.server.headerMaxTimeout ?? 30, hmr = a.server.headerMinRate ?? 500
        let bt = a.server.bodyTimeout ?? 15, bmt = a.server.bodyMaxTimeout ?? 0, bmr = a.server.bodyMinRate ?? 500
        if ht > 0 {
            rrt += "header=\(ht)"
            if hmt > 0 { rrt += "-\(hmt)" }
            if hmr > 0 { rrt += ",MinRate=\(hmr)" }
        }
        if bt > 0 {
            rrt += (rrt.isEmpty ? "" : " ") + "body=\(bt)"
            if bmt > 0 { rrt += "-\(bmt)" }
            if bmr > 0 { rrt += ",MinRate=\(bmr)" }
        }

        // Static aliases: sorted longest URL first, as mod_wsgi-express does.
        var aliases: [URLAlias] = []
        for v in a.app.urlAlias.map(Argv.pair).sorted(by: { $0.0 > $1.0 }) {
            let path = abs(v.1)
            if Sys.isDirectory(path) || !Sys.exists(path) {
                aliases.append(URLAlias(url: v.0, directory: v.1.hasSuffix("/") && path != "/" ? path + "/" : path, filename: nil))
            } else {
                aliases.append(URLAlias(url: v.0, directory: Path.dirname(path), filename: Path.basename(path)))
            }
        }

        var daemon = DaemonSettings()
        let p = a.processes
        daemon.maximumRequests = p.maximumRequests ?? 0
        daemon.startupTimeout = p.startupTimeout ?? 15
        daemon.shutdownTimeout = p.shutdownTimeout ?? 5
        daemon.restartInterval = p.restartInterval ?? 0
        daemon.cpuTimeLimit = p.cpuTimeLimit ?? 0
        daemon.gracefulTimeout = p.gracefulTimeout ?? 15
        daemon.evictionTimeout = p.evictionTimeout ?? 0
        daemon.deadlockTimeout = p.deadlockTimeout ?? 60
        daemon.inactivityTimeout = p.inactivityTimeout ?? 0
        daemon.requestTimeout = p.requestTimeout ?? 60
        daemon.connectTimeout = p.connectTimeout ?? 15
        daemon.socketTimeout = p.socketTimeout ?? 60
        daemon.queueTimeout = p.queueTimeout ?? 45
        daemon.listenBacklog = p.daemonBacklog ?? 100
        daemon.sendBufferSize = p.sendBufferSize ?? 0
        daemon.receiveBufferSize = p.receiveBufferSize ?? 0
        daemon.headerBufferSize = p.headerBufferSize ?? 0
        daemon.responseBufferSize = p.responseBufferSize ?? 0
        daemon.responseSocketTimeout = p.responseSocketTimeout ?? 0
        daemon.socketPrefix = p.socketPrefix.map(abs) ?? Path.join(serverRoot, "wsgi")
        daemon.ignoreActivity = p.ignoreActivity

        var pythonPaths = a.app.pythonPath.map(abs)
        if (debugMode || embedded) && !pythonPaths.contains(workingDirectory) {
            pythonPaths.insert(workingDirectory, at: 0)
        }

        var defines: [String] = []
        if embedded { defines.append("-DEMBEDDED_MODE") }
        if debugMode { defines.append("-DONE_PROCESS") }
        if let s = startupLog { defines += ["-E", s] }

        let displayHost = a.server.serverName ?? host
        let url = port == 80 ? "http://\(displayHost)/" : "http://\(displayHost):\(port)/"
        let shell = a.apache.shellExecutable.map(abs)
            ?? ["/usr/bin/bash", "/bin/bash"].first(where: Sys.isExecutable) ?? "/bin/sh"

        return ServerConfig(
            command: command,
            commandLine: ctx.argv.map(shellQuoteIfNeeded).joined(separator: " "),
            applicationType: appType, entryPoint: entryPoint, isDefaultApplication: isDefault,
            callableObject: a.app.callableObject ?? "application",
            callableObjectGiven: a.app.callableObject != nil && a.app.callableObject != "application",
            mountPoint: mountPoint, workingDirectory: workingDirectory, pythonPaths: pythonPaths,
            pythonHome: pythonHome,
            pythonEggs: a.app.pythonEggs.map(abs) ?? Path.join(serverRoot, "python-eggs"),
            documentRoot: documentRoot ?? Path.join(serverRoot, "htdocs"),
            directoryIndex: a.app.directoryIndex, directoryListing: a.app.directoryListing,
            allowOverride: a.app.allowOverride.isEmpty ? "None" : a.app.allowOverride.joined(separator: " "),
            urlAliases: aliases,
            errorDocuments: a.app.errorDocument.map(Argv.pair).map { (status: $0.0, document: $0.1) },
            mapHEADToGET: mapHead, chunkedRequest: a.app.chunkedRequest, enableSendfile: a.app.enableSendfile,
            setenv: a.app.setenv.map(Argv.pair).map { (name: $0.0, value: $0.1) },
            passenv: a.app.passenv,
            locale: resolveLocale(a.app.locale ?? a.app.lang, env: env),
            disableReloading: a.app.disableReloading || embedded || debugMode,
            host: host, listenerHost: listenerHost, port: port,
            serverName: a.server.serverName, serverAliases: a.server.serverAlias,
            allowLocalhost: a.server.allowLocalhost, http2: a.server.http2,
            serverRoot: serverRoot,
            pidFile: a.server.pidFile.map(abs) ?? Path.join(serverRoot, "httpd.pid"),
            account: account, accountPicked: picked,
            includeFiles: a.server.includeFile.map(abs),
            rewriteRules: a.server.rewriteRules.map(abs) ?? Path.join(serverRoot, "rewrite.conf"),
            rewriteRulesGiven: a.server.rewriteRules != nil,
            envvarsScript: a.server.envvarsScript.map(abs),
            keepAliveTimeout: a.server.keepAliveTimeout ?? 2,
            limitRequestBody: a.server.limitRequestBody ?? 10485760,
            requestReadTimeout: rrt, serverBacklog: a.server.serverBacklog ?? 500,
            compressResponses: a.server.compressResponses, serverStatus: a.server.serverStatus,
            embeddedMode: embedded, processes: processes, threads: threads,
            multiprocess: a.processes.processes != nil,
            mpm: mpm.chosen, mpmPreference: preference.isEmpty ? MPM.all : preference,
            mpmSizing: MPMSizing.compute(processes: processes, threads: threads, maxClients: p.maxClients,
                                         initial: p.initialWorkers, minSpare: p.minimumSpareWorkers,
                                         maxSpare: p.maximumSpareWorkers, embedded: embedded),
            daemon: daemon, orphanInterpreter: a.processes.orphanInterpreter,
            logDirectory: logDirectory, logLevel: logLevel, logToTerminal: logToTerminal,
            errorLogFile: errorLogFile, accessLog: a.logging.accessLog, accessLogFile: accessLogFile,
            accessLogFormat: accessFormat, logFormatNickname: nickname,
            errorLogFormat: a.logging.errorLogFormat, startupLogFile: startupLog,
            rotateLogs: rotateLogs, maxLogSize: a.logging.maxLogSize ?? 5, rotatelogs: apache.rotatelogs,
            errorLogName: errorLogName, accessLogName: accessLogName,
            apache: apache, mimeTypes: a.apache.mimeTypes.map(abs) ?? "/etc/mime.types", shell: shell,
            processName: a.apache.processName ?? (Path.basename(apache.httpd) + " (mod_wsgi-express)"),
            setupOnly: a.apache.setupOnly, module: module, httpdDefines: defines,
            debugMode: debugMode, enableDebugger: a.debug.enableDebugger,
            url: url)
    }

    static func refuseUnsupported(_ a: ServerArguments) throws {
        let status = Dictionary(uniqueKeysWithValues: OptionTable.all.map { ($0.name, $0.status) })
        for name in a.given {
            switch status[name] {
            case .notYet?:
                throw ExpressError.notSupportedYet(option: name, reason: "")
            case .daemonMode? where !Features.daemonModeAvailable:
                throw ExpressError.notSupportedYet(option: name, reason: "it needs daemon mode; this version serves in embedded mode")
            default: break
            }
        }
    }

    /// As root without --user/--group, an unprivileged account that exists (Apache refuses to
    /// run its children as root, AH00526); otherwise the current user and group.
    static func runAccount(user: String?, group: String?, ctx: RunContext) throws -> (Account, Bool) {
        var picked = false
        let userName: String
        if let u = user {
            userName = u
        } else if ctx.uid == 0 {
            guard let u = ["www-data", "nobody", "daemon"].first(where: { Users.user(named: $0) != nil }) else {
                throw ExpressError.unknownUser("www-data")
            }
            userName = u
            picked = true
        } else {
            userName = Users.userName(ctx.uid) ?? "#\(ctx.uid)"
        }
        guard let (uid, primary) = Users.user(named: userName) ?? (userName == "#\(ctx.uid)" ? (ctx.uid, ctx.gid) : nil) else {
            throw ExpressError.unknownUser(userName)
        }
        let groupName: String
        if let g = group {
            groupName = g
        } else if ctx.uid == 0 {
            if userName == "www-data" || user != nil {
                groupName = Users.groupName(primary) ?? "#\(primary)"
            } else {
                groupName = ["nogroup", "nobody"].first { Users.group(named: $0) != nil } ?? (Users.groupName(primary) ?? "#\(primary)")
            }
            picked = picked || group == nil && user == nil
        } else {
            groupName = Users.groupName(ctx.gid) ?? "#\(ctx.gid)"
        }
        guard let gid = Users.group(named: groupName) ?? (groupName.hasPrefix("#") ? UInt32(groupName.dropFirst()) : nil) else {
            throw ExpressError.unknownGroup(groupName)
        }
        return (Account(user: userName, uid: uid, group: groupName, gid: gid), picked)
    }

    /// --locale, else the process's locale; 'C'/'POSIX' becomes en_US.UTF-8 or C.UTF-8.
    static func resolveLocale(_ given: String?, env: [String: String]) -> String {
        if let g = given { return g }
        let current = [env["LC_ALL"], env["LC_CTYPE"], env["LANG"]].compactMap { $0 }.first { !$0.isEmpty } ?? "C"
        if ["C", "POSIX"].contains(current.uppercased()) {
            for candidate in ["en_US.UTF-8", "C.UTF-8"] {
                if let l = newlocale(1 << LC_CTYPE, candidate, nil) { freelocale(l); return candidate }
            }
        }
        return current
    }
}

func shellQuoteIfNeeded(_ s: String) -> String {
    let safe = s.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,@%+".contains($0) }
    return safe && !s.isEmpty ? s : "'" + s.replacingAll("'", with: "'\\''") + "'"
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        var out = ""
        var rest = self[...]
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        out += rest
        return out
    }
}
