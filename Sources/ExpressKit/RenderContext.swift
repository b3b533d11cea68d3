// The values each template sees. Everything is decided here, in Swift; the templates only
// lay the values out. Strings are escaped for where the template puts them.

extension ResolvedConfig {
    /// Apache modules the configuration uses, loaded only when present in the modules
    /// directory (and, in the template, only when not built into httpd).
    public var modulesToLoad: [(name: String, path: String)] {
        var names = [
            "unixd", "authn_core", "authz_core", "authz_host", "mime", "rewrite", "alias", "dir",
            "env", "reqtimeout",
        ]
        if accessLog { names.append("log_config") }
        if directoryListing { names.append("autoindex") }
        if compressResponses { names += ["filter", "deflate"] }
        if serverStatus || metrics.needsStatusModule { names.append("status") }
        if http2 { names.append("http2") }
        // issue 14: each module only when its feature is used
        if https != nil { names += ["socache_shmcb", "ssl"] }
        if https?.hstsPolicy != nil || !proxy.isEmpty { names.append("headers") }
        if !proxy.isEmpty { names += ["proxy", "proxy_http"] }
        if withCGI {
            names.append(Sys.exists(Path.join(apache.modulesDirectory, "mod_cgid.so")) ? "cgid" : "cgi")
        }
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
            "pythonLibrary": pythonLibrary.map(sq) ?? "",
            "mimeTypes": sq(mimeTypes),
            "requestReadTimeout": requestReadTimeout,
            "limitRequestBody": limitRequestBody,
            "http2": http2,
            "pythonHome": sq(pythonHome),
            "pythonPath": (embeddedMode || debugMode) && !pythonPaths.isEmpty
                ? sq(pythonPaths.joined(separator: ":")) : "",
            "destroyInterpreter": orphanInterpreter ? "Off" : "On",
            "callableObject": callableObjectGiven ? sq(callableObject) : "",
            "mapHEADToGET": mapHEADToGET,
            "disableReloading": disableReloading,
            "debugMode": debugMode,
            "keepAlive": keepAliveTimeout != 0,
            "keepAliveTimeout": keepAliveTimeout,
            "nextRequestWait": nextRequestWait > 0 ? String(nextRequestWait) : "",
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
        siteContext(&ctx)
        // Access, authentication, dispatch and trusted-proxy hooks; the Digest realm is
        // mod_wsgi-express's AuthName, host:port.
        ctx["accessHooks"] = accessHooks.context(realm: "\(host):\(port)")
        ctx["metrics"] = metrics.context()
        ctx["interpreter"] = interpreter.context()
        ctx["applicationGroup"] = interpreter.applicationGroup
        ctx["importHandler"] = interpreter.context()["importHandler"]
        ctx["lifecycle"] = lifecycle.context()
        // Daemon mode (WSGIDaemonProcess), rendered only when daemon mode is selected.
        let d = daemon
        ctx["daemon"] =
            [
                "socketPrefix": sq(d.socketPrefix),
                "displayName": ov(
                    interpreter.processGroup.map { "(wsgi:\($0))" } ?? "(wsgi:\(host):\(port):\(account.uid))"),
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
                "interruptTimeout": nonZero(d.interruptTimeout),
                "pythonExecutable": d.pythonExecutable.map(ov) ?? "",
                "pythonThreads": d.pythonThreads.map(String.init) ?? "",
                "serverMetrics": metrics.serverMetrics,
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
                "responseFlushDelay": interpreter.responseFlushDelay,
                "switchInterval": interpreter.switchInterval.map { "\($0)" } ?? "",
                "ignoreActivity": d.ignoreActivity.map(sq),
            ] as [String: Any]
        // --service-script: one daemon process group per service (rendered in daemon mode only).
        ctx["serviceScripts"] = serviceScripts.map { s -> [String: Any] in
            [
                "name": s.name,
                "processGroup": ov("service:\(s.name)"),
                "script": sq(s.script),
                "user": ov(s.user),
                "group": ov(s.group),
                "home": ov(workingDirectory),
                "pythonPath": ov(pythonPaths.joined(separator: ":")),
                "pythonEggs": ov(pythonEggs),
                "locale": ov(locale),
                "logScript": s.logFile != nil ? sq(s.logScript(serverRoot: serverRoot)) : "",
            ]
        }
        return ctx
    }

    /// Virtual hosts, HTTPS, proxying and the site-facing flags (issue 14).
    func siteContext(_ ctx: inout [String: Any]) {
        func sq(_ s: String) -> String { Quote.apache(s) }
        func dq(_ s: String) -> String { Quote.apache(s, quote: "\"") }
        func portSuffix(_ p: Int, default d: Int) -> String { p == d ? "" : ":\(p)" }
        let www = serverName.map { $0.lowercased().hasPrefix("www.") } ?? false
        let httpsOnly = https?.only ?? false
        // The name-based catch-all answers every host name the site does not have.
        ctx["catchAllName"] = "_wsgi_"
        ctx["httpPortSuffix"] = portSuffix(port, default: 80)
        ctx["redirectScheme"] = httpsOnly ? "https" : "http"
        ctx["redirectPortSuffix"] = https.map { portSuffix($0.port, default: 443) } ?? portSuffix(port, default: 80)
        ctx["httpsOnlyNamed"] = httpsOnly && serverName != nil
        ctx["httpsOnlyUnnamed"] = httpsOnly && serverName == nil
        ctx["redirectWWW"] = www
        if let h = https {
            let listen =
                listenerHost.map { $0.contains(":") && !$0.hasPrefix("[") ? "[\($0)]:\(h.port)" : "\($0):\(h.port)" }
                ?? String(h.port)
            let verifyAll = h.verifyClient.contains("/")
            ctx["https"] =
                [
                    "listen": listen,
                    "port": h.port,
                    "portSuffix": portSuffix(h.port, default: 443),
                    "sessionCache": dq("shmcb:" + Path.join(serverRoot, "ssl_scache") + "(512000)"),
                    "certificateFile": sq(h.certificateFile),
                    "keyFile": sq(h.keyFile),
                    "chainFile": h.chainFile.map(sq) ?? "",
                    "caCertificateFile": h.caCertificateFile.map(sq) ?? "",
                    "verifyClient": verifyAll ? "require" : "none",
                    "verifyAll": verifyAll,
                    "verifyPaths": verifyAll ? [] : h.verifyClient.map(sq),
                    "environment": h.environment,
                    "hstsPolicy": h.only ? (h.hstsPolicy.map(dq) ?? "") : "",
                    "http2": http2,
                ] as [String: Any]
        }
        if !proxy.isEmpty {
            ctx["proxy"] =
                [
                    "timeout": proxy.timeout.map(String.init) ?? "",
                    "mounts": proxy.mounts.map { m -> [String: Any] in
                        let path = m.redirectBare ? m.path + "/" : m.path
                        let url = m.redirectBare && !m.url.hasSuffix("/") ? m.url + "/" : m.url
                        return [
                            "path": sq(path), "url": sq(url), "redirectBare": m.redirectBare,
                            "bare": sq(m.path), "bareRegex": sq("^" + Regex.escape(m.path) + "$"),
                        ]
                    },
                    // ProxyPass / needs a URL ending in '/' too, or '/x' would become 'URLx'.
                    "hosts": proxy.hosts.map {
                        ["host": $0.host, "url": sq($0.url.hasSuffix("/") ? $0.url : $0.url + "/")]
                    },
                    // Without --server-name the first virtual host on the port would take every
                    // request: an empty one, the main server's copy, comes first.
                    "defaultHost": serverName == nil && !proxy.hosts.isEmpty,
                ] as [String: Any]
        }
        ctx["errorOverride"] = errorOverride
        ctx["withCGI"] = withCGI
        ctx["hasHandlerScripts"] = !handlerScripts.isEmpty
        ctx["handlerScripts"] = handlerScripts.map { ["extension": $0.extension] }
        ctx["resourceScript"] = sq(Path.join(serverRoot, "resource.wsgi"))
    }

    /// Context of resource.wsgi (--add-handler): the scripts by extension.
    public func resourceContext() -> [String: Any] {
        func p(_ v: String) -> String { Quote.python(v) }
        return [
            "version": Features.version,
            "resources": handlerScripts.map { ["extension": p($0.extension), "script": p($0.script)] },
        ]
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
            "gdb": debugTools.gdb.map(s) ?? "",
            "gdbCommands": s(Path.join(serverRoot, "gdb.cmds")),
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
            "reloadOnChanges": reloadOnChanges ? "True" : "False",
            "reloaderScript": p(Path.join(serverRoot, "reloader.py")),
            // The debug-mode tools (debug_tools.py beside the handler).
            "debuggerStartup": debugTools.debuggerStartup ? "True" : "False",
            "debugToolsScript": p(Path.join(serverRoot, "debug_tools.py")),
            "coverageDirectory": debugTools.coverageDirectory.map { "'" + p($0) + "'" } ?? "None",
            "profilerDirectory": debugTools.profilerDirectory.map { "'" + p($0) + "'" } ?? "None",
            "recorderDirectory": debugTools.recorderDirectory.map { "'" + p($0) + "'" } ?? "None",
        ]
    }
}
