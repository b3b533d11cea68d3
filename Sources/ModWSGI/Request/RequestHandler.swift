import CModWSGI
import WSGICore

/// The Apache side of a request: URL mapping (translate_name) and the content handler.
/// In embedded mode the application runs right here; with a process group the request
/// goes to a daemon process (Daemon/DaemonClient.swift).
enum RequestHandler {
    static let scriptHandler = "wsgi-script"
    static let scriptMimeType = "application/x-httpd-wsgi"

    /// WSGIScriptAlias / WSGIScriptAliasMatch: map the URL to the script and note the
    /// alias's options for the handler. Apache's directory walk then splits PATH_INFO off,
    /// unless the alias names a regular file: then it is split here (ScriptAliasMapping).
    static func translate(_ r: UnsafeMutablePointer<request_rec>) -> Int32 {
        guard let uriPtr = r.pointee.uri, uriPtr.pointee == 47 /* "/" */ else { return DECLINED }
        guard let config = ConfigStore.server(r.pointee.server), !config.aliases.isEmpty else { return DECLINED }
        let pool = r.pointee.pool
        for alias in config.aliases {
            let m = alias.mapping
            if let regex = alias.regex {
                var match = [ap_regmatch_t](repeating: ap_regmatch_t(), count: Int(AP_MAX_REG_MATCH))
                guard ap_regexec(regex, uriPtr, Int(AP_MAX_REG_MATCH), &match, 0) == 0 else { continue }
                guard let sub = ap_pregsub(pool, m.path, uriPtr, Int(AP_MAX_REG_MATCH), &match) else { continue }
                r.pointee.filename = wsgi_pstrcat2(pool, sub, uriPtr + Int(match[0].rm_eo))
            } else {
                guard let matched = m.matches(uriPtr) else { continue }
                let rest = uriPtr + matched
                // Apache's walk collapses "//" in what becomes PATH_INFO; such URLs keep its walk.
                var info = m.scriptInfo(pool)
                if info.filetype == APR_REG && strstr(rest, "//") == nil {
                    // The script is a file: the rest of the URL is PATH_INFO.
                    r.pointee.filename = apr_pstrmemdup(pool, m.path, m.pathLength)
                    if rest.pointee != 0 { r.pointee.path_info = apr_pstrdup(pool, rest) }
                    if m.daemonBound {
                        info.pool = pool
                        info.fname = UnsafePointer(r.pointee.filename)
                        r.pointee.finfo = info
                    }
                } else {
                    r.pointee.filename = wsgi_pstrcat2(pool, m.path, rest)
                }
            }
            r.pointee.handler = UnsafePointer(NoteKey.handler)
            // The notes' keys and values live as long as the configuration: no copies.
            let notes = r.pointee.notes
            apr_table_setn(notes, NoteKey.aliasMatched, NoteKey.one)
            if let g = m.processGroup { apr_table_setn(notes, NoteKey.processGroup, g) }
            if let g = m.applicationGroup { apr_table_setn(notes, NoteKey.applicationGroup, g) }
            if let c = m.callableObject { apr_table_setn(notes, NoteKey.callableObject, c) }
            if let p = m.passAuthorization { apr_table_setn(notes, NoteKey.passAuthorization, p) }
            return OK
        }
        return DECLINED
    }

    /// C strings that live as long as the module, for apr_table_setn.
    enum NoteKey {
        static let handler = strdup(RequestHandler.scriptHandler)!
        static let aliasMatched = strdup("mod_wsgi.alias_matched")!
        static let processGroup = strdup("mod_wsgi.process_group")!
        static let applicationGroup = strdup("mod_wsgi.application_group")!
        static let callableObject = strdup("mod_wsgi.callable_object")!
        static let passAuthorization = strdup("mod_wsgi.pass_authorization")!
        static let one = strdup("1")!
    }

    static func handle(_ r: UnsafeMutablePointer<request_rec>) -> Int32 {
        guard let handlerPtr = r.pointee.handler else { return DECLINED }
        let handler = String(cString: handlerPtr)
        guard let dir = ConfigStore.dir(r) else { return DECLINED }
        var handlerScript: ScriptTarget? = nil
        if handler != scriptHandler && handler != scriptMimeType {
            guard let h = dir.handlerScripts[handler] else { return DECLINED }
            handlerScript = h
        }
        let notes = r.pointee.notes

        // The script: the mapped file, or the WSGIHandlerScript's.
        // A handler script is stat()ed where it runs: below for embedded mode, by the daemon
        // process in daemon mode (as mod_wsgi, whose Apache side does not stat it).
        let scriptPath: String
        var mtime = 0
        if let h = handlerScript {
            scriptPath = h.path
        } else {
            guard let fn = r.pointee.filename else { return DECLINED }
            scriptPath = String(cString: fn)
            if r.pointee.finfo.filetype == APR_NOFILE {
                Log.request(
                    APLOG_ERR, .scriptNotFound, "Target WSGI script not found or unable to stat: \(scriptPath)", r)
                ScriptLoader.forgetMtime(scriptPath)
                return HTTP_NOT_FOUND
            }
            if r.pointee.finfo.filetype == APR_DIR {
                Log.request(
                    APLOG_ERR, .scriptIsDirectory, "Attempt to invoke directory as WSGI application: \(scriptPath)", r)
                return HTTP_FORBIDDEN
            }
            mtime = Int(r.pointee.finfo.mtime)  // µs, as ScriptLoader.mtime
        }

        func note(_ k: String) -> String? { str(apr_table_get(notes, k)) }
        var processGroup = resolveGroup(
            handlerScript?.processGroup ?? note("mod_wsgi.process_group") ?? dir.processGroup ?? "", r)
        var applicationGroup = applicationGroupName(
            handlerScript?.applicationGroup ?? note("mod_wsgi.application_group") ?? dir.applicationGroup
                ?? "%{RESOURCE}", r)
        // Handler scripts' object is `handle_request` unless named, as in mod_wsgi.
        var callable =
            handlerScript.map { $0.callableObject ?? "handle_request" }
            ?? note("mod_wsgi.callable_object") ?? dir.callableObject ?? "application"
        let passAuth =
            handlerScript?.passAuthorization ?? note("mod_wsgi.pass_authorization").map { $0 == "On" }
            ?? dir.passAuthorization ?? false

        // Request body: chunked bodies only with WSGIChunkedRequest On.
        if let te = apr_table_get(r.pointee.headers_in, "Transfer-Encoding"), isChunked(String(cString: te)),
            !(dir.chunkedRequest ?? false)
        {
            Log.request(
                APLOG_INFO, .chunkedRefused,
                "Chunked request body refused (411 Length Required); enable it with WSGIChunkedRequest On.", r)
            return HTTP_LENGTH_REQUIRED
        }

        // HEAD → GET (WSGIMapHEADToGET): On always; Auto when output filters may need the body.
        let mapHEAD = dir.mapHEADToGET ?? .auto
        if r.pointee.header_only != 0 && (mapHEAD == .on || (mapHEAD == .auto && hasContentFilters(r))) {
            r.pointee.method = UnsafePointer("GET".pooled(r.pointee.pool))
        }

        let env = r.pointee.subprocess_env
        CGIEnvironment.add(r)
        if passAuth, let auth = apr_table_get(r.pointee.headers_in, "Authorization") {
            apr_table_set(env, "HTTP_AUTHORIZATION", auth)
        }
        if apr_table_get(env, "PATH_INFO") == nil { apr_table_set(env, "PATH_INFO", "") }
        var scriptName = str(apr_table_get(env, "SCRIPT_NAME")) ?? ""
        // As mod_wsgi: SCRIPT_NAME without duplicate slashes (REQUEST_URI keeps them).
        if scriptName.utf8.count > 1, let collapsed = withoutDuplicateSlashes(scriptName) {
            scriptName = collapsed
            apr_table_set(env, "SCRIPT_NAME", scriptName)
        }
        let pathInfo = str(apr_table_get(env, "PATH_INFO")) ?? ""
        // WSGITrustedProxyHeaders: what a trusted front-end proxy says about the client.
        let proxySchemeApplied = TrustedProxies.apply(r, dir: dir, env: env)
        // As mod_wsgi 6.x: HTTPS ("On" or "1") says the scheme, set by a trusted scheme header
        // or else for a TLS connection (a trusted header wins over Apache's own TLS hop); it
        // then leaves the environ (below), wsgi.url_scheme says it (PEP 3333).
        if !proxySchemeApplied, let s = ap_run_http_scheme(r), strcmp(s, "https") == 0 {
            apr_table_set(env, "HTTPS", "1")
        }
        let scheme = isOn(apr_table_get(env, "HTTPS")) ? "https" : "http"
        var resolvedGroup = applicationGroup == "%{RESOURCE}" ? resourceGroup(r, scriptName) : applicationGroup
        let reloading = dir.scriptReloading ?? true
        let sendfile = dir.enableSendfile ?? false
        let ignoreActivity = dir.ignoreActivity ?? false
        if r.pointee.log_id == nil {
            _ = withUnsafeMutablePointer(to: &r.pointee.log_id) { ap_run_generate_log_id(r.pointee.connection, r, $0) }
        }
        let c = r.pointee.connection!
        apr_table_set(env, "mod_wsgi.process_group", processGroup)
        apr_table_set(env, "mod_wsgi.application_group", resolvedGroup)
        apr_table_set(env, "mod_wsgi.callable_object", callable)
        apr_table_set(env, "mod_wsgi.request_handler", handler)
        apr_table_set(env, "mod_wsgi.handler_script", handlerScript?.path ?? "")
        apr_table_set(env, "mod_wsgi.listener_host", str(c.pointee.local_ip) ?? "")
        apr_table_set(env, "mod_wsgi.listener_port", String(c.pointee.local_addr.pointee.port))
        // mod_wsgi 6.x: the Apache child's pid; the timings are floats the environ gets later
        // (WSGIApplication), and what only configures the request is not the application's.
        apr_table_setn(env, "mod_wsgi.server_pid", ModuleState.pidString)
        apr_table_set(env, "mod_wsgi.request_id", str(r.pointee.log_id) ?? String(apr_time_now(), radix: 36))
        if let cid = c.pointee.log_id { apr_table_set(env, "mod_wsgi.connection_id", cid) }
        apr_table_set(env, "mod_wsgi.script_name", scriptName)
        apr_table_set(env, "mod_wsgi.path_info", pathInfo)

        // WSGIDispatchScript may choose the process group, interpreter and callable.
        if let script = dir.dispatchScript {
            guard let choice = Dispatch.run(r, script, dir: dir, env: env) else { return HTTP_INTERNAL_SERVER_ERROR }
            if let g = choice.processGroup {
                processGroup = resolveGroup(g, r)
                apr_table_set(env, "mod_wsgi.process_group", processGroup)
            }
            if let g = choice.applicationGroup {
                applicationGroup = applicationGroupName(g, r)
                resolvedGroup = applicationGroup == "%{RESOURCE}" ? resourceGroup(r, scriptName) : applicationGroup
                apr_table_set(env, "mod_wsgi.application_group", resolvedGroup)
            }
            if let o = choice.callableObject {
                callable = resolveGroup(o, r)
                apr_table_set(env, "mod_wsgi.callable_object", callable)
            }
        }

        apr_table_unset(env, "HTTPS")

        if let allowed = dir.restrictProcess, !allowed.contains(processGroup) {
            Log.request(
                APLOG_ERR, .processGroupRestricted,
                "Daemon process called '\(processGroup)' cannot be accessed by this WSGI application: \(scriptPath)", r)
            return HTTP_INTERNAL_SERVER_ERROR
        }

        if !processGroup.isEmpty, !VirtualHostGroups.allows(processGroup, r) {
            Log.request(
                APLOG_ERR, .processGroupOtherHost,
                "Daemon process called '\(processGroup)' cannot be accessed by this WSGI application (it is defined in another virtual host): \(scriptPath)",
                r)
            return HTTP_INTERNAL_SERVER_ERROR
        }
        if !processGroup.isEmpty {
            return DaemonClient.forward(
                r, group: processGroup, scriptPath: scriptPath,
                options: .init(
                    reloading: reloading, enableSendfile: sendfile, ignoreActivity: ignoreActivity, scheme: scheme),
                errorOverride: dir.errorOverride ?? false)
        }
        if GlobalConfig.current.restrictEmbedded {
            Log.request(
                APLOG_ERR, .embeddedRestricted,
                "Embedded mode of mod_wsgi disabled by runtime configuration: \(scriptPath)", r)
            return HTTP_INTERNAL_SERVER_ERROR
        }

        if let h = handlerScript {
            guard let m = ScriptLoader.mtime(h.path) else {
                Log.request(
                    APLOG_ERR, .handlerScriptNotFound,
                    "Target WSGI handler script not found or unable to stat: \(h.path)", r)
                ScriptLoader.forgetMtime(h.path)
                return HTTP_NOT_FOUND
            }
            mtime = m
        }
        let spec = ScriptRequest(
            scriptPath: scriptPath, mtime: mtime, callableObject: callable,
            applicationGroup: resolvedGroup, reloading: reloading, enableSendfile: sendfile,
            requestStart: Int64(r.pointee.request_time), serverPid: UInt32(ModuleState.pid))
        let channel = ApacheChannel(r)
        let passApacheRequest = dir.passApacheRequest ?? false
        let status = WSGIApplication.run(spec, channel: channel) { environ in
            let keys = EnvironKeys.current
            fillFromTable(environ, env, keys: keys)
            keys.set(environ, "wsgi.url_scheme", Py.string(scheme))
            // WSGIPassApacheRequest On: the request_rec, for C extensions (embedded mode only).
            if passApacheRequest, let capsule = PyCapsule_New(UnsafeMutableRawPointer(r), nil, nil) {
                Py.setItem(environ, "apache.request_rec", capsule)
            }
        }
        ConnectionGuard.check(r, scriptPath: scriptPath)
        return status
    }

    /// HTTPS as mod_wsgi reads it: "On" (any case) or "1".
    static func isOn(_ v: UnsafePointer<CChar>?) -> Bool {
        guard let v else { return false }
        return strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0
    }

    /// The path with each run of slashes made one, or nil when it has none to collapse.
    static func withoutDuplicateSlashes(_ path: String) -> String? {
        var out: [UInt8] = []
        var changed = false
        for c in path.utf8 {
            if c == 47 && out.last == 47 { changed = true; continue }
            out.append(c)
        }
        return changed ? String(decoding: out, as: UTF8.self) : nil
    }

    /// Adds every entry of an APR table as a str (latin-1) value; with `keys`, the keys
    /// come from the interpreter's cache instead of being made anew.
    static func fillFromTable(_ environ: PyObj, _ table: OpaquePointer?, keys: EnvironKeys? = nil) {
        let n = Int(wsgi_table_count(table))
        guard n > 0, let e = wsgi_table_entries(table) else { return }
        for i in 0..<n {
            guard let k = e[i].key else { continue }
            let v = e[i].val.map { Py.latin1($0) } ?? Py.string("")
            if let keys { keys.set(environ, k, v) } else { Py.setItem(environ, k, v) }
        }
    }

    /// %{RESOURCE}: host[:port]|SCRIPT_NAME, mod_wsgi's default application group.
    static func resourceGroup(_ r: UnsafeMutablePointer<request_rec>, _ scriptName: String) -> String {
        let host = str(r.pointee.server.pointee.server_hostname) ?? ""
        let port = ap_get_server_port(r)
        if port != 80 && port != 443 { return "\(host):\(port)|\(scriptName)" }
        return "\(host)|\(scriptName)"
    }

    static func applicationGroupName(_ value: String, _ r: UnsafeMutablePointer<request_rec>) -> String {
        switch value {
        case "%{GLOBAL}": return ""
        case "%{RESOURCE}": return value  // needs SCRIPT_NAME: resolved after the CGI variables
        case "%{SERVER}":
            let host = str(r.pointee.server.pointee.server_hostname) ?? ""
            let port = ap_get_server_port(r)
            return port != 80 && port != 443 ? "\(host):\(port)" : host
        default:
            if value.hasPrefix("%{ENV:") && value.hasSuffix("}") {
                let name = String(value.dropFirst(6).dropLast())
                // Read from the environment set by SetEnv & co., as mod_wsgi does.
                return str(apr_table_get(r.pointee.subprocess_env, name)) ?? ""
            }
            return value
        }
    }

    static func resolveGroup(_ value: String, _ r: UnsafeMutablePointer<request_rec>) -> String {
        if value == "%{GLOBAL}" { return "" }
        if value.hasPrefix("%{ENV:") && value.hasSuffix("}") {
            return str(apr_table_get(r.pointee.subprocess_env, String(value.dropFirst(6).dropLast()))) ?? ""
        }
        return value
    }

    /// Whether an output filter that may transform the body (not Apache's own protocol
    /// and network filters) is in the chain: then HEAD must produce the body.
    static func hasContentFilters(_ r: UnsafeMutablePointer<request_rec>) -> Bool {
        var f = r.pointee.output_filters
        while let cur = f {
            if let frec = cur.pointee.frec, frec.pointee.ftype.rawValue < AP_FTYPE_PROTOCOL.rawValue {
                return true
            }
            f = cur.pointee.next
        }
        return false
    }
}
