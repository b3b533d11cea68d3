import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// What setting up the server root did, for the banner.
public struct SetupResult {
    public var notes: [String] = []
}

enum Preflight {
    /// Fails when the port is taken, so that the user reads one line instead of Apache's log.
    static func checkPort(_ c: ResolvedConfig) throws {
        for (port, option) in [(c.port, "--port")] + (c.https.map { [($0.port, "--https-port")] } ?? []) {
            guard let conflict = PortCheck.conflict(host: c.listenerHost, port: port) else { continue }
            let address = c.listenerHost == nil ? "all interfaces (\(conflict.address))" : conflict.address
            if conflict.errno == EACCES {
                throw ExpressError.portForbidden(port: port, address: address, option: option)
            }
            throw ExpressError.portInUse(port: port, address: address, listeners: conflict.listeners, option: option)
        }
    }

    /// As root, Apache's children run as another user: what they must read has to be readable
    /// by that user. Names the first directory (or file) in the way.
    static func checkReadable(_ c: ResolvedConfig, context: RunContext) throws {
        guard context.uid == 0, c.account.uid != 0 else { return }
        let gids = Users.groups(of: c.account.user, primary: c.account.gid)
        func check(_ path: String, isDirectory: Bool, what: String) throws {
            if let blocked = AccessCheck.firstBlocked(path, account: c.account, gids: gids, isDirectory: isDirectory) {
                throw ExpressError.unreadable(
                    path: blocked.path, user: c.account.user, mode: UInt32(blocked.mode), what: what)
            }
        }
        if c.applicationType == "script" && !c.isDefaultApplication {
            try check(Path.dirname(c.entryPoint), isDirectory: true, what: "the WSGI script's directory")
            try check(c.entryPoint, isDirectory: false, what: "the WSGI script")
        }
        try check(c.pythonHome, isDirectory: true, what: "the Python home")
        if let base = PythonHome.base(ofVenv: c.pythonHome) {
            try check(
                base, isDirectory: true, what: "the Python the virtual environment '\(c.pythonHome)' is made from")
        }
        try check(c.serverRoot, isDirectory: true, what: "the server root")
        if c.applicationType == "static" {
            try check(c.documentRoot, isDirectory: true, what: "the document root")
        }
    }
}

public enum ServerRoot {
    /// Creates the server root and writes every generated file into it.
    @discardableResult
    public static func write(_ c: ResolvedConfig, context: RunContext) throws -> SetupResult {
        var result = SetupResult()
        let parent = Path.dirname(c.serverRoot)
        guard Sys.isDirectory(parent) else {
            throw ExpressError.serverRootParentMissing(root: c.serverRoot, parent: parent)
        }
        try Preflight.checkReadable(c, context: context)
        let templates = try Templates.directory(environment: context.environment, executable: context.executable)

        do {
            let root = try SafeDirectory.open(c.serverRoot)
            let runUser: [uid_t] = context.uid == 0 && c.account.uid != 0 ? [c.account.uid] : []
            // What lies in the server root is made through its descriptor; what the user put
            // elsewhere (--document-root, --log-directory, --python-eggs) is the user's choice.
            func directory(_ path: String, owners: [uid_t] = []) throws -> SafeDirectory? {
                if path == c.serverRoot { return root }
                if Path.dirname(path) == c.serverRoot {
                    return try root.subdirectory(Path.basename(path), owners: owners)
                }
                try Sys.makeDirectory(path)
                return nil
            }
            var documentRoot = try directory(c.documentRoot)
            // Sub-directories for the mount point so the fall-back rewrite rule matches.
            if c.mountPoint != "/" {
                var dir = c.documentRoot
                for part in c.mountPoint.split(separator: "/") {
                    dir = Path.join(dir, String(part))
                    if let parent = documentRoot {
                        documentRoot = try parent.subdirectory(String(part))
                    } else {
                        try Sys.makeDirectory(dir)
                    }
                }
            }
            _ = try directory(c.logDirectory)
            let eggs = try directory(c.pythonEggs, owners: runUser)
            if let uid = runUser.first, c.pythonEggs != c.serverRoot {
                // The application's processes write eggs here; nothing else in the root is theirs.
                if let eggs {
                    try eggs.chown(uid: uid, gid: c.account.gid)
                } else {
                    try Sys.chown(c.pythonEggs, uid: uid, gid: c.account.gid)
                }
            }

            try root.write(
                "httpd.conf", try Templates.render("httpd.conf", in: templates, context: c.httpdConfContext()))
            try root.write(
                "apachectl", try Templates.render("apachectl", in: templates, context: c.apachectlContext()),
                mode: 0o755)
            try root.write(
                "handler.wsgi", try Templates.render("handler.wsgi", in: templates, context: c.handlerContext()))
            try root.write("default.wsgi", try Templates.raw("default.wsgi", in: templates))
            if !c.handlerScripts.isEmpty {
                try root.write(
                    "resource.wsgi", try Templates.render("resource.wsgi", in: templates, context: c.resourceContext()))
            }
            // Developer options: the reloader, the debug tools and their output, service logs.
            if c.reloadOnChanges {
                try root.write("reloader.py", try Templates.raw("reloader.py", in: templates))
            }
            if c.debugTools.needsHelpers {
                try root.write("debug_tools.py", try Templates.raw("debug_tools.py", in: templates))
            }
            for d in c.debugTools.outputDirectories {
                let dir = try directory(d, owners: runUser)
                if let uid = runUser.first {
                    if let dir {
                        try dir.chown(uid: uid, gid: c.account.gid)
                    } else {
                        try Sys.chown(d, uid: uid, gid: c.account.gid)
                    }
                }
            }
            if let source = c.interpreter.serviceScriptSource(), let dir = c.interpreter.telemetryDirectory {
                // --enable-telemetry: the ingester (run user) creates its socket in a directory it owns.
                try root.write("telemetry-service.py", source)
                let d = try directory(dir, owners: runUser)
                if let uid = runUser.first {
                    if let d {
                        try d.chown(uid: uid, gid: c.account.gid)
                    } else {
                        try Sys.chown(dir, uid: uid, gid: c.account.gid)
                    }
                }
            }
            for s in c.serviceScripts {
                guard let source = s.logScriptSource(), let log = s.logFile else { continue }
                try root.write(Path.basename(s.logScript(serverRoot: c.serverRoot)), source)
                // The service's process (its --service-user) appends to its log; a log already
                // there is the service's from the last run, kept.
                let owner =
                    context.uid == 0
                    ? Users.user(named: s.user).map {
                        (uid: $0.uid, gid: Users.group(named: s.group) ?? $0.gid)
                    } : nil
                if Path.dirname(log) == c.serverRoot {
                    try root.logFile(Path.basename(log), owner: owner)
                } else {
                    if !Sys.exists(log) { try Sys.writeFile(log, "") }
                    if let owner { try Sys.chown(log, uid: owner.uid, gid: owner.gid) }
                }
            }

            if let script = c.envvarsScript {
                try root.write("envvars", ". '\(Quote.shell(script))'\n")
            } else if try !root.hasOwnFile("envvars") {
                try root.write("envvars", "")
            }
            if !c.rewriteRulesGiven, try !root.hasOwnFile("rewrite.conf") {
                try root.write("rewrite.conf", "")
            }
        } catch let e as SystemError {
            throw ExpressError.io(e)
        }
        if c.accountPicked {
            result.notes.append(
                "\(c.account.user):\(c.account.group) (picked because running as root; pass --user/--group to choose)")
        }
        return result
    }
}

enum Banner {
    static func print(_ c: ResolvedConfig, setup: SetupResult) {
        var lines: [(String, String)] = []
        lines.append(("Server URL", c.url))
        if let https = c.httpsURL { lines.append(("Server URL (HTTPS)", https)) }
        if c.serverStatus { lines.append(("Server Status", c.url + "server-status")) }
        if let path = c.metrics.metricsURL { lines.append(("Metrics URL", c.url + String(path.dropFirst()))) }
        if let path = c.lifecycle.healthURL { lines.append(("Health URL", c.url + String(path.dropFirst()))) }
        if let t = c.lifecycle.drainTimeout {
            let delay = c.lifecycle.drainDelay > 0 ? "\(c.lifecycle.drainDelay) s of 503, then " : ""
            lines.append(("SIGTERM", "drains (\(delay)up to \(t) s for requests in flight)"))
        }
        lines.append(("Server Root", c.serverRoot))
        lines.append(("Server Conf", c.httpdConf))
        lines.append(("Error Log File", "\(c.errorLogFile) (\(c.logLevel))"))
        if c.accessLog { lines.append(("Access Log File", c.accessLogFile)) }
        if let s = c.startupLogFile { lines.append(("Startup Log File", s)) }
        let setupish = c.command == "setup-server" || c.setupOnly
        if c.rewriteRulesGiven || setupish { lines.append(("Rewrite Rules", c.rewriteRules)) }
        if let e = c.envvarsScript {
            lines.append(("Environ Variables", e))
        } else if setupish {
            lines.append(("Environ Variables", Path.join(c.serverRoot, "envvars")))
        }
        if setupish { lines.append(("Control Script", Path.join(c.serverRoot, "apachectl"))) }
        lines.append(("Operating Mode", c.operatingMode))
        let unit = c.processes == 1 ? "process" : "processes"
        lines.append(("Request Capacity", "\(c.processes * c.threads) (\(c.processes) \(unit) * \(c.threads) threads)"))
        if !c.debugMode && !c.embeddedMode {
            lines.append(("Request Timeout", "\(c.daemon.requestTimeout) (seconds)"))
            if c.daemon.startupTimeout != 0 {
                lines.append(("Startup Timeout", "\(c.daemon.startupTimeout) (seconds)"))
            }
            lines.append(("Queue Backlog", "\(c.daemon.listenBacklog) (connections)"))
            lines.append(("Queue Timeout", "\(c.daemon.queueTimeout) (seconds)"))
            let z = c.mpmSizing
            lines.append(
                (
                    "Server Capacity",
                    "\(z.workerConnections) connections (event/worker: \(z.workerMaxClients / z.workerThreadsPerChild) "
                        + "x \(z.workerThreadsPerChild) threads), \(z.preforkMaxClients) (prefork)"
                ))
        }
        lines.append(("Server Backlog", "\(c.serverBacklog) (connections)"))
        lines.append(("Locale Setting", c.locale))
        lines.append(("Python Home", c.pythonHome))
        for n in setup.notes { lines.append(("Run User", n)) }
        var out = ""
        for (k, v) in lines {
            out += k + String(repeating: " ", count: max(1, 19 - k.count)) + ": " + v + "\n"
        }
        Output.out(out)
    }
}
