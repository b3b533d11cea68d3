/// --service-script NAME SCRIPT (with --service-user/-group/-log-file NAME ...): a Python script
/// run as a managed service, each in a daemon process group 'service:NAME' of its own
/// (threads=0: the script runs in the process's main thread; when it ends the process is
/// replaced), loaded with WSGIImportScript, as mod_wsgi-express 4.9 renders it.
public struct ServiceScript: Equatable {
    public var name: String
    public var script: String
    public var user: String
    public var group: String
    /// The service's own log (a file in the log directory) for its Python output, else the
    /// server's error log.
    public var logFile: String?
}

extension ServiceScript {
    /// --service-log-file: a script imported before the service's, in the same interpreter,
    /// that sends sys.stdout and sys.stderr to the file. (mod_wsgi-express 4.9 puts the
    /// service's WSGIDaemonProcess in a <VirtualHost> with its own ErrorLog; this module
    /// accepts WSGIDaemonProcess at server level only.)
    public func logScript(serverRoot: String) -> String { Path.join(serverRoot, "service-\(name)-log.py") }

    public func logScriptSource() -> String? {
        guard let logFile else { return nil }
        return """
            # --service-log-file for service '\(Quote.python(name))': its Python output goes to its own file.
            import sys
            sys.stdout = sys.stderr = open('\(Quote.python(logFile))', 'a', buffering=1)

            """
    }
}

extension ServiceScript {
    static func resolve(
        _ o: ServerOptions, account: Account, logDirectory: String, debugMode: Bool,
        cwd: String
    ) throws -> [ServiceScript] {
        guard !o.serviceScripts.isEmpty else {
            for (option, pairs) in [
                ("--service-user", o.serviceUsers), ("--service-group", o.serviceGroups),
                ("--service-log-file", o.serviceLogFiles),
            ] where !pairs.isEmpty {
                throw ExpressError.badOption(
                    "\(option) \(pairs[0].first): there is no --service-script \(pairs[0].first) (give the service's script with --service-script NAME SCRIPT-PATH)"
                )
            }
            return []
        }
        if debugMode {
            throw ExpressError.badOption(
                "--service-script needs daemon processes, which debug mode does not run (leave out --debug-mode or the service)"
            )
        }
        var services: [ServiceScript] = []
        for s in o.serviceScripts {
            guard !s.first.isEmpty,
                s.first.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." })
            else {
                throw ExpressError.badOption(
                    "--service-script name '\(s.first)' must be letters, digits, '_', '-' or '.'")
            }
            let path = Path.absolute(s.second, cwd: cwd)
            guard Sys.isFile(path) else {
                throw ExpressError.badOption("--service-script \(s.first): script '\(path)' does not exist")
            }
            services.removeAll { $0.name == s.first }
            services.append(ServiceScript(name: s.first, script: path, user: account.user, group: account.group))
        }
        func apply(_ option: String, _ pairs: [OptionPair], _ set: (inout ServiceScript, String) throws -> Void) throws
        {
            for p in pairs {
                guard let i = services.firstIndex(where: { $0.name == p.first }) else {
                    throw ExpressError.badOption(
                        "\(option) \(p.first): there is no --service-script \(p.first) (names given: \(services.map(\.name).joined(separator: ", ")))"
                    )
                }
                try set(&services[i], p.second)
            }
        }
        try apply("--service-user", o.serviceUsers) { s, v in
            guard Users.user(named: v) != nil else { throw ExpressError.unknownUser(v) }
            s.user = v
        }
        try apply("--service-group", o.serviceGroups) { s, v in
            guard Users.group(named: v) != nil else { throw ExpressError.unknownGroup(v) }
            s.group = v
        }
        try apply("--service-log-file", o.serviceLogFiles) { s, v in
            s.logFile = Path.join(logDirectory, v)
        }
        return services
    }
}
