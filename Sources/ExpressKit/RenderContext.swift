// The values each template sees. Everything is decided here, in Swift; the templates only
// lay the values out. Strings are escaped for where the template puts them.

extension ResolvedConfig {
    /// Apache modules the configuration uses, loaded only when present in the modules
    /// directory (and, in the template, only when not built into httpd).
    public var modulesToLoad: [(name: String, path: String)] {
        var names = ["unixd", "authn_core", "authz_core", "authz_host", "mime", "rewrite", "alias", "dir",
                     "env", "reqtimeout"]
        if accessLog { names.append("log_config") }
        if directoryListing { names.append("autoindex") }
        if compressResponses { names += ["filter", "deflate"] }
        if serverStatus { names.append("status") }
        if http2 { names.append("http2") }
        names += accessHooks.modules
        return names.compactMap { n in
            let p = Path.join(apache.modulesDirectory, "mod_\(n).so")
            return Sys.exists(p) ? (n, p) : nil
        }
    }

    var listenAddress: String {
        guard let h = listenerHost else { return String(port) }
        return h.contains(":") && !h.hasPrefix("[") ? "[\(h)]:\(port)" : "\(h):\(port)"
    }

    func logTarget(_ file: String, name: String) -> String {
        rotateLogs ? "|\(rotatelogs) \(Path.join(logDirectory, name)).%Y-%m-%d-%H_%M_%S \(maxLogSize)M" : file
    }

    public func httpdConfContext() -> [String: Any] {
        func sq(_ s: String) -> String { Quote.apache(s) }
        /// A WSGIDaemonProcess/WSGI*Script option value (name=value): quoted only when it must be.
        func ov(_ s: String) -> String { Quote.optionValue(s) }
        func dq(_ s: String) -> String { Quote.apache(s, quote: "\"") }
        let sizing = mpmSizing
        let www = serverName.map { $0.lowercased().hasPrefix("www.") } ?? false
        var ctx: [String: Any] = [
            "version": Features.version,
            "commandLine": commandLine.replacingAll("\n", with: " "),
            "serverHost": serverName ?? host,
            "serverRoot": sq(serverRoot),
            "pidFile": sq(pidFile),
            "listen": listenAddress,
            "port": port,
            "serverBacklog": serverBacklog,
            "mpm": mpm,
            "mpmPreference": mpmPreference.joined(separator: ", "),
            "modulesDirectory": sq(apache.modulesDirectory),
            "modules": modulesToLoad.map { ["name": $0.name, "path": sq($0.path)] },
            "modulePath": sq(module.path),
            "mimeTypes": sq(mimeTypes),
            "requestReadTimeout": requestReadTimeout,
            "limitRequestBody": limitRequestBody,
            "http2": http2,
            "pythonHome": sq(pythonHome),
            "pythonPath": (embeddedMode || debugMode) && !pythonPaths.isEmpty ? sq(pythonPaths.joined(separator: ":")) : "",
            "destroyInterpreter": orphanInterpreter ? "Off" : "On",
            "callableObject": callableObjectGiven ? sq(callableObject) : "",
            "mapHEADToGET": mapHEADToGET,
            "disableReloading": disableReloading,
            "debugMode": debugMode,
            "keepAlive": keepAliveTimeout != 0,
            "keepAliveTimeout": keepAliveTimeout,
            "enableSendfile": enableSendfile,
            "compressResponses": compressResponses,
            "chunkedRequest": chunkedRequest,
            "serverStatus": serverStatus,
            "errorLog": dq(logTarget(errorLogFile, name: errorLogName)),
            "logLevel": logLevel,
            "errorLogFormat": errorLogFormat.map(dq) ?? "",
            "accessLog": accessLog,
            "accessLogTarget": dq(logTarget(accessLogFile, name: accessLogName)),
            "accessLogFormat": accessLogFormat.map(dq) ?? "",
            "logFormatNickname": logFormatNickname,
            "documentRoot": sq(documentRoot),
            "allowOverride": allowOverride,
            "directoryIndex": directoryIndex.map(sq) ?? "",
            "directoryListing": directoryListing,
            "rewriteRules": sq(rewriteRules),
            "staticOnly": applicationType == "static",
            "mountDirectory": sq(documentRoot + mountPoint),
            "handlerScript": sq(Path.join(serverRoot, "handler.wsgi")),
            "embedded": embeddedMode || debugMode,
            "daemonMode": !(embeddedMode || debugMode),
            "daemonGroup": sq(daemonGroup),
            "processGroup": (embeddedMode || debugMode) ? "%{GLOBAL}" : ov(daemonGroup),
            "urlAliases": urlAliases.map { a -> [String: Any] in
                var d: [String: Any] = ["url": sq(a.url), "directory": sq(a.directory), "allowOverride": allowOverride]
                if let f = a.filename { d["filename"] = sq(f) }
                return d
            },
            "errorDocuments": errorDocuments.map { ["status": sq($0.status), "document": sq($0.document)] },
            "setenv": setenv.map { ["name": sq($0.name), "value": sq($0.value)] },
            "passenv": passenv.map(sq),
            "includeFiles": includeFiles.map(sq),
            "serverName": serverName ?? "",
            "serverAliases": serverAliases.joined(separator: " "),
            "allowLocalhost": allowLocalhost,
            "redirectWWW": www,
            "parentDomain": www ? String(serverName!.dropFirst(4)) : "",
            "mpmEvent": mpm == "event",
            "mpmWorker": mpm == "worker",
            "mpmPrefork": mpm == "prefork",
            "prefork": [
                "serverLimit": debugMode ? 1 : sizing.preforkServerLimit,
                "startServers": debugMode ? 1 : sizing.preforkStartServers,
                "maxClients": debugMode ? 1 : sizing.preforkMaxClients,
                "minSpare": debugMode ? 1 : sizing.preforkMinSpare,
                "maxSpare": debugMode ? 1 : sizing.preforkMaxSpare,
            ],
            "worker": [
                "serverLimit": debugMode ? 1 : sizing.workerServerLimit,
                "threadLimit": debugMode ? 1 : sizing.workerThreadLimit,
                "startServers": debugMode ? 1 : sizing.workerStartServers,
                "maxClients": debugMode ? 1 : sizing.workerMaxClients,
                "minSpareThreads": debugMode ? 1 : sizing.workerMinSpareThreads,
                "maxSpareThreads": debugMode ? 1 : sizing.workerMaxSpareThreads,
                "threadsPerChild": debugMode ? 1 : sizing.workerThreadsPerChild,
                "threadStackSize": debugMode || accessHooks.runPythonInChildren
                    ? MPMSizing.pythonStackSize : sizing.workerThreadStackSize,
            ],
        ]
        // Access, authentication, dispatch and trusted-proxy hooks; the Digest realm is
        // mod_wsgi-express's AuthName, host:port.
        ctx["accessHooks"] = accessHooks.context(realm: "\(host):\(port)")
        // Daemon mode (WSGIDaemonProcess), rendered only when daemon mode is selected.
        let d = daemon
        ctx["daemon"] = [
            "socketPrefix": sq(d.socketPrefix),
            "displayName": ov("(wsgi:\(host):\(port):\(account.uid))"),
            "home": ov(workingDirectory),
            "multiprocess": multiprocess,
            "processes": processes,
            "threads": threads,
            "maximumRequests": d.maximumRequests,
            "pythonPath": ov(pythonPaths.joined(separator: ":")),
            "pythonEggs": ov(pythonEggs),
            "locale": ov(locale),
            "listenBacklog": d.listenBacklog,
            "queueTimeout": d.queueTimeout,
            "socketTimeout": d.socketTimeout,
            "connectTimeout": d.connectTimeout,
            "requestTimeout": d.requestTimeout,
            "inactivityTimeout": d.inactivityTimeout,
            "startupTimeout": d.startupTimeout,
            "deadlockTimeout": d.deadlockTimeout,
            "gracefulTimeout": d.gracefulTimeout,
            "evictionTimeout": d.evictionTimeout,
            "restartInterval": d.restartInterval,
            "cpuTimeLimit": d.cpuTimeLimit,
            "shutdownTimeout": d.shutdownTimeout,
            "sendBufferSize": nonZero(d.sendBufferSize),
            "receiveBufferSize": nonZero(d.receiveBufferSize),
            "headerBufferSize": nonZero(d.headerBufferSize),
            "responseBufferSize": nonZero(d.responseBufferSize),
            "responseSocketTimeout": nonZero(d.responseSocketTimeout),
            "ignoreActivity": d.ignoreActivity.map(sq),
        ] as [String: Any]
        return ctx
    }

    /// 0 means "the module's default" for these: leave the option out.
    func nonZero(_ v: Int) -> String { v == 0 ? "" : String(v) }

    public func apachectlContext() -> [String: Any] {
        func s(_ v: String) -> String { Quote.shell(v) }
        return [
            "version": Features.version,
            "shell": shell,
            "commandLine": commandLine.replacingAll("\n", with: " "),
            "httpd": s(apache.httpd),
            "httpdConf": s(httpdConf),
            "defines": httpdDefines.map(s),
            "modulesDirectory": s(apache.modulesDirectory),
            "serverRoot": s(serverRoot),
            "listenerHost": s(listenerHost ?? host),
            "port": port,
            "user": s(account.user),
            "group": s(account.group),
            "workingDirectory": s(workingDirectory),
            "locale": s(locale),
            "envvars": s(Path.join(serverRoot, "envvars")),
            "processName": s(processName),
            "statusURL": s(url + "server-status"),
            "pidFile": s(pidFile),
        ]
    }

    public func handlerContext() -> [String: Any] {
        func p(_ v: String) -> String { Quote.python(v) }
        return [
            "version": Features.version,
            "workingDirectory": p(workingDirectory),
            "entryPoint": p(entryPoint),
            "applicationType": p(applicationType),
            "callableObject": p(callableObject),
            "mountPoint": p(mountPoint),
            "serverName": p(serverName ?? host),
            "serverAliases": p(serverAliases.joined(separator: " ")),
            "pythonEggs": p(pythonEggs),
            "debugMode": debugMode ? "True" : "False",
            "enableDebugger": enableDebugger ? "True" : "False",
            "reloading": disableReloading ? "False" : "True",
        ]
    }
}
