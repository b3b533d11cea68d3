import CModWSGI
import WSGICore

/// Parses one directive (called through the command table in the C shim).
@_cdecl("wsgi_swift_directive")
func wsgi_swift_directive(
    _ cmd: UnsafeMutablePointer<cmd_parms>?, _ mconfig: UnsafeMutableRawPointer?,
    _ id: Int32, _ argc: Int32,
    _ argv: UnsafePointer<UnsafeMutablePointer<CChar>?>?
) -> UnsafePointer<CChar>? {
    guard let cmd else { return nil }
    var args: [String] = []
    for i in 0..<Int(argc) { args.append(String(cString: argv![i]!)) }
    let name = String(cString: cmd.pointee.cmd.pointee.name)
    do {
        try Directives.apply(
            wsgi_cmd_id(UInt32(id)), name: name, args: args, cmd: cmd,
            dir: ConfigStore.load(mconfig, as: DirConfig.self))
        return nil
    } catch let e as DirectiveError {
        return UnsafePointer(e.message.pooled(cmd.pointee.pool))
    } catch {
        return UnsafePointer("\(name): \(error)".pooled(cmd.pointee.pool))
    }
}

enum Directives {
    nonisolated(unsafe) static var warnedInHtaccess = false

    static func apply(
        _ id: wsgi_cmd_id, name: String, args: [String],
        cmd: UnsafeMutablePointer<cmd_parms>, dir: DirConfig?
    ) throws {
        func fail(_ what: String) -> DirectiveError { DirectiveError(message: "\(name): \(what)") }
        func count(_ range: ClosedRange<Int>, _ usage: String) throws {
            guard range.contains(args.count) else { throw fail("takes \(usage)") }
        }
        func flag() throws -> Bool {
            try count(1...1, "one argument, On or Off")
            guard let v = parseFlag(args[0]) else { throw fail("must be On or Off, not '\(args[0])'") }
            return v
        }
        /// The argument as a whole number within `range` (of `unit`: "seconds", "milliseconds").
        func number(_ range: ClosedRange<Int>, _ unit: String) throws -> Int {
            guard let n = Int(args[0]), range.contains(n) else {
                throw fail(
                    "takes a number of \(unit) from \(range.lowerBound) to \(range.upperBound), not '\(args[0])'")
            }
            return n
        }
        func globalOnly() throws {
            if let err = wsgi_check_global(cmd) { throw DirectiveError(message: String(cString: err)) }
        }
        var global: GlobalConfig {
            get { GlobalConfig.current }
            set { GlobalConfig.current = newValue }
        }
        let server = ConfigStore.server(cmd.pointee.server)!
        // Inside <WSGIInterpreterOptions>: only the per-interpreter directives, into the block.
        if InterpreterOptions.open != nil {
            try InterpreterOptions.applyInBlock(id, name: name, args: args, fail: fail)
            return
        }
        // .htaccess files are read while requests are served, in many threads at once.
        let servingRequests = ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_RUN_MPM

        switch id {
        case WSGI_CMD_SCRIPT_ALIAS, WSGI_CMD_SCRIPT_ALIAS_MATCH:
            try count(2...Int.max, "a URL, a script path and options")
            let target = try scriptTarget(args[1], options: args.dropFirst(2), fail: fail)
            var regex: UnsafeMutablePointer<ap_regex_t>? = nil
            if id == WSGI_CMD_SCRIPT_ALIAS_MATCH {
                regex = ap_pregcomp(cmd.pointee.pool, args[0], Int32(AP_REG_EXTENDED))
                if regex == nil { throw fail("'\(args[0])' is not a valid regular expression") }
            }
            server.aliases.append(ScriptAlias(location: args[0], target: target, regex: regex))
        case WSGI_CMD_HANDLER_SCRIPT:
            try count(2...Int.max, "a handler name, a script path and options")
            dir?.handlerScripts[args[0]] = try scriptTarget(args[1], options: args.dropFirst(2), fail: fail)
        case WSGI_CMD_IMPORT_SCRIPT:
            try count(1...Int.max, "a script path and options")
            try globalOnly()
            let t = try scriptTarget(args[0], options: args.dropFirst(1), fail: fail)
            global.importScripts.append(t)
        case WSGI_CMD_APPLICATION_GROUP:
            try count(1...1, "one argument: %{GLOBAL}, %{RESOURCE}, %{SERVER}, %{ENV:name} or a name")
            try ApplicationGroup.validate(args[0]).map { throw fail($0) }
            dir?.applicationGroup = args[0]
        case WSGI_CMD_PROCESS_GROUP:
            try count(1...1, "one argument: a daemon process group name, %{GLOBAL} or %{ENV:name}")
            dir?.processGroup = args[0]
        case WSGI_CMD_RESTRICT_PROCESS:
            try count(1...Int.max, "one or more process group names")
            dir?.restrictProcess = args
        case WSGI_CMD_CALLABLE_OBJECT:
            try count(1...1, "one argument: the name of the application object")
            dir?.callableObject = args[0]
        case WSGI_CMD_PASS_AUTHORIZATION: dir?.passAuthorization = try flag()
        case WSGI_CMD_CHUNKED_REQUEST: dir?.chunkedRequest = try flag()
        case WSGI_CMD_ENABLE_SENDFILE: dir?.enableSendfile = try flag()
        case WSGI_CMD_SCRIPT_RELOADING: dir?.scriptReloading = try flag()
        case WSGI_CMD_ERROR_OVERRIDE: dir?.errorOverride = try flag()
        case WSGI_CMD_MAP_HEAD_TO_GET:
            try count(1...1, "one argument: On, Off or Auto")
            switch args[0].lowercased() {
            case "on": dir?.mapHEADToGET = .on
            case "off": dir?.mapHEADToGET = .off
            case "auto": dir?.mapHEADToGET = .auto
            default: throw fail("must be On, Off or Auto, not '\(args[0])'")
            }
        case WSGI_CMD_PYTHON_HOME:
            try count(1...1, "one argument: a directory"); try globalOnly()
            global.pythonHome = args[0]
        case WSGI_CMD_PYTHON_PATH:
            try count(1...1, "one argument: directories separated by ':'"); try globalOnly()
            global.pythonPath += args[0].split(separator: ":").map(String.init)
        case WSGI_CMD_PYTHON_OPTIMIZE:
            try count(1...1, "one argument: 0, 1 or 2"); try globalOnly()
            guard let v = Int(args[0]), (0...2).contains(v) else { throw fail("must be 0, 1 or 2, not '\(args[0])'") }
            global.optimize = v
        case WSGI_CMD_PYTHON_HASH_SEED:
            try count(1...1, "one argument: random, or a number from 0 to 4294967295"); try globalOnly()
            if args[0] == "random" {
                global.hashSeed = nil
            } else {
                guard let v = UInt32(args[0]) else {
                    throw fail("must be 'random' or a number from 0 to 4294967295, not '\(args[0])'")
                }
                global.hashSeed = v
            }
        case WSGI_CMD_PYTHON_WARNINGS:
            try count(1...1, "one argument: a warnings filter such as ignore::DeprecationWarning"); try globalOnly()
            global.warnings.append(args[0])
        case WSGI_CMD_DONT_WRITE_BYTECODE: try globalOnly(); global.dontWriteBytecode = try flag()
        case WSGI_CMD_RESTRICT_EMBEDDED: try globalOnly(); global.restrictEmbedded = try flag()
        case WSGI_CMD_RESTRICT_STDOUT: try globalOnly(); global.restrictStdout = try flag()
        case WSGI_CMD_RESTRICT_STDIN: try globalOnly(); global.restrictStdin = try flag()
        case WSGI_CMD_RESTRICT_SIGNAL: try globalOnly(); global.restrictSignal = try flag()
        case WSGI_CMD_DESTROY_INTERPRETER: try globalOnly(); global.destroyInterpreter = try flag()
        case WSGI_CMD_VERBOSE_DEBUGGING: try globalOnly(); global.verboseDebugging = try flag()
        // Always lazy: Python never runs in the parent.
        case WSGI_CMD_LAZY_INITIALIZATION: try globalOnly(); _ = try flag()
        case WSGI_CMD_SOCKET_ROTATION: try globalOnly(); global.socketRotation = try flag()
        case WSGI_CMD_SOCKET_PREFIX:
            try count(1...1, "one argument: a path prefix"); try globalOnly()
            global.socketPrefix =
                args[0].hasPrefix("/") ? args[0] : String(cString: ap_server_root_relative(cmd.pointee.pool, args[0]))
        case WSGI_CMD_PYTHON_EGGS:
            try count(1...1, "one argument: a directory"); try globalOnly()
            global.pythonEggs = args[0]
        case WSGI_CMD_ACCEPT_MUTEX:
            // mod_wsgi serialises accept() across daemon processes with this mutex; here
            // each daemon thread accepts under a process-local lock and the kernel spreads
            // connections over processes, so there is no cross-process mutex to choose.
            try count(1...1, "one argument: an Apache mutex mechanism such as default"); try globalOnly()
            if args[0].lowercased() != "default" {
                global.startupWarnings.append(
                    "WSGIAcceptMutex \(args[0]): daemon processes here use no cross-process accept mutex, so the mechanism is not used."
                )
            }
        case WSGI_CMD_TRUSTED_PROXY_HEADERS:
            try count(1...Int.max, "one or more header names such as X-Forwarded-For")
            dir?.trustedProxyHeaders = try args.map { try TrustedProxies.environName(header: $0, fail: fail) }
        case WSGI_CMD_TRUSTED_PROXIES:
            try count(1...Int.max, "one or more IP addresses or networks (address/bits)")
            dir?.trustedProxies = try TrustedProxyList.parse(args, pool: cmd.pointee.pool, fail: fail)
        case WSGI_CMD_ACCESS_SCRIPT, WSGI_CMD_AUTH_USER_SCRIPT, WSGI_CMD_AUTH_GROUP_SCRIPT, WSGI_CMD_DISPATCH_SCRIPT:
            try count(1...2, "a script path and optionally application-group=NAME")
            let script = try HookScript.parse(args, fail: fail)
            switch id {
            case WSGI_CMD_ACCESS_SCRIPT: dir?.accessScript = script
            case WSGI_CMD_AUTH_USER_SCRIPT: dir?.authUserScript = script
            case WSGI_CMD_AUTH_GROUP_SCRIPT: dir?.authGroupScript = script
            default: dir?.dispatchScript = script
            }
            // Not from .htaccess while serving: GlobalConfig is only written at start-up.
            if !servingRequests { global.hookScripts = true }
        case WSGI_CMD_USER_AUTHORITATIVE, WSGI_CMD_GROUP_AUTHORITATIVE:
            // Apache 2.4 (as mod_wsgi built for it): the auth providers are authoritative
            // by Apache's own rules; Off only mattered to Apache 2.2's auth hooks.
            if try !flag() {
                let instead =
                    id == WSGI_CMD_USER_AUTHORITATIVE
                    ? "list more providers in AuthBasicProvider, or use AuthBasicAuthoritative Off"
                    : "combine Require lines in <RequireAny>"
                let warning = "\(name) Off has no effect on Apache 2.4 (nor in mod_wsgi built for it): \(instead)."
                if !servingRequests {
                    global.startupWarnings.append(warning)
                } else if !warnedInHtaccess {
                    warnedInHtaccess = true  // once per process, not on every request reading .htaccess
                    Log.server(APLOG_WARNING, .directiveWithoutEffectInHtaccess, warning, cmd.pointee.server)
                }
            }
        case WSGI_CMD_PASS_APACHE_REQUEST: dir?.passApacheRequest = try flag()
        case WSGI_CMD_IGNORE_ACTIVITY: dir?.ignoreActivity = try flag()
        case WSGI_CMD_CASE_SENSITIVITY: try globalOnly(); global.caseSensitive = try flag()
        case WSGI_CMD_SERVER_METRICS:
            try globalOnly()
            global.serverMetrics = try flag()
        case WSGI_CMD_METRICS_URL:
            try count(1...1, "one argument: a URL path such as /metrics"); try globalOnly()
            guard args[0].hasPrefix("/") else { throw fail("'\(args[0])' is not a URL path: it must start with '/'") }
            global.metricsURL = args[0]
        case WSGI_CMD_METRICS_ALLOW:
            try count(1...Int.max, "one or more IP addresses or networks (address/bits)"); try globalOnly()
            let more = try TrustedProxyList.parse(args, pool: cmd.pointee.pool, fail: fail)
            global.metricsAllow = TrustedProxyList((global.metricsAllow?.subnets ?? []) + more.subnets)
        case WSGI_CMD_DRAIN_ON_TERM: try globalOnly(); global.drainOnTerm = try flag()
        case WSGI_CMD_DRAIN_DELAY:
            try count(1...1, "one argument: seconds"); try globalOnly()
            global.drainDelay = try number(0...3600, "seconds")
        case WSGI_CMD_NEXT_REQUEST_WAIT:
            try count(1...1, "one argument: milliseconds"); try globalOnly()
            global.nextRequestWait = try number(0...1000, "milliseconds")
        case WSGI_CMD_DOCUMENT_ROOT_WALK:
            try count(1...1, "one argument: Once or EveryRequest"); try globalOnly()
            switch args[0].lowercased() {
            case "once": global.documentRootWalkOnce = true
            case "everyrequest": global.documentRootWalkOnce = false
            default: throw fail("must be Once or EveryRequest, not '\(args[0])'")
            }
        case WSGI_CMD_HEALTH_URL:
            try count(1...1, "one argument: a URL path such as /healthz"); try globalOnly()
            guard args[0].hasPrefix("/") else { throw fail("'\(args[0])' is not a URL path: it must start with '/'") }
            global.healthURL = args[0]
        case WSGI_CMD_HEALTH_ALLOW:
            try count(1...Int.max, "one or more IP addresses or networks (address/bits)"); try globalOnly()
            let more = try TrustedProxyList.parse(args, pool: cmd.pointee.pool, fail: fail)
            global.healthAllow = TrustedProxyList((global.healthAllow?.subnets ?? []) + more.subnets)
        case WSGI_CMD_NEW_RELIC_CONFIG_FILE, WSGI_CMD_NEW_RELIC_ENVIRONMENT:
            try count(1...1, "one argument"); try globalOnly()
            global.startupWarnings.append(
                "\(name) does nothing (New Relic support was removed from mod_wsgi); remove it from the configuration.")
        case WSGI_CMD_SWITCH_INTERVAL:
            try count(1...1, "one argument: seconds"); try globalOnly()
            global.switchInterval = try InterpreterOptions.switchInterval(args[0], fail: fail)
        case WSGI_CMD_PER_INTERPRETER_GIL:
            try globalOnly()
            global.perInterpreterGIL = try InterpreterOptions.perInterpreterGIL(flag(), fail: fail)
        case WSGI_CMD_FREE_THREADING:
            try globalOnly()
            global.freeThreading = try InterpreterOptions.freeThreading(flag(), inAppGroup: false, fail: fail)
        case WSGI_CMD_TELEMETRY_SERVICE:
            try count(1...2, "a target unix:/path and optionally interval=N"); try globalOnly()
            if let e = global.telemetry.parseService(args) { throw DirectiveError(message: e) }
        case WSGI_CMD_SLOW_REQUESTS:
            try count(1...1, "one argument: a threshold in seconds"); try globalOnly()
            if let e = global.telemetry.parseSlowRequests(args[0]) { throw DirectiveError(message: e) }
        case WSGI_CMD_TELEMETRY_OPTIONS:
            try globalOnly()
            if let e = global.telemetry.parseOptions(args) { throw DirectiveError(message: e) }
        case WSGI_CMD_DAEMON_PROCESS:
            try count(1...Int.max, "a process group name and options")
            // In the main server or a <VirtualHost> (as Debian's site files put it), not in
            // <Directory>/<Location>; the group's name is unique across all of them.
            if let err = wsgi_check_server_context(cmd) { throw DirectiveError(message: String(cString: err)) }
            var group = try DaemonGroupConfig.parse(
                args, serverName: str(cmd.pointee.server.pointee.server_hostname) ?? ""
            )
            .get()
            if cmd.pointee.server.pointee.is_virtual != 0 {
                group.virtualHost = UInt(bitPattern: cmd.pointee.server)
            }
            if global.daemonGroups.contains(where: { $0.name == group.name }) {
                throw fail("a daemon process group named '\(group.name)' is already defined")
            }
            global.daemonGroups.append(group)
        default:
            throw fail("unknown directive")
        }
    }

    static func scriptTarget(
        _ path: String, options: ArraySlice<String>,
        fail: (String) -> DirectiveError
    ) throws -> ScriptTarget {
        var t = ScriptTarget(path: path)
        for opt in options {
            guard let (k, v) = splitOption(opt) else { throw fail("options are name=value, not '\(opt)'") }
            switch k {
            case "process-group": t.processGroup = v
            case "application-group":
                try ApplicationGroup.validate(v).map { throw fail($0) }
                t.applicationGroup = v
            case "callable-object": t.callableObject = v
            case "pass-authorization":
                guard let f = parseFlag(v) else { throw fail("pass-authorization must be On or Off") }
                t.passAuthorization = f
            default:
                throw fail(
                    "unknown option '\(k)'; allowed: process-group, application-group, callable-object, pass-authorization"
                )
            }
        }
        return t
    }
}

/// Application group names: which interpreter a request runs in.
enum ApplicationGroup {
    /// nil when valid, else what is wrong.
    static func validate(_ value: String) -> String? {
        if value.hasPrefix("%{") {
            let known = ["%{GLOBAL}", "%{RESOURCE}", "%{SERVER}"]
            if known.contains(value) { return nil }
            if value.hasPrefix("%{ENV:") && value.hasSuffix("}") && value.count > 7 { return nil }
            return "'\(value)' is not one of %{GLOBAL}, %{RESOURCE}, %{SERVER}, %{ENV:name} or a plain name"
        }
        return nil
    }
}
