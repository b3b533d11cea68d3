import CModWSGI

/// The CGI variables of a WSGI request, as mod_wsgi 6.x sets them itself instead of calling
/// Apache's ap_add_common_vars() and ap_add_cgi_vars(): the same variables, without
/// PATH_TRANSLATED (Apache computes it with a sub-request that runs the translation hooks
/// again), GATEWAY_INTERFACE, SERVER_SIGNATURE, REMOTE_HOST (a reverse DNS lookup with
/// HostnameLookups On), REMOTE_IDENT (an ident lookup with IdentityCheck On), and PATH and the
/// library-path variables, which only a forked CGI process needs.
enum CGIEnvironment {
    /// The keys, made once (apr_table_addn keeps the pointer).
    private static func key(_ s: String) -> UnsafePointer<CChar> { UnsafePointer(strdup(s)!) }
    private static let contentType = key("CONTENT_TYPE"), contentLength = key("CONTENT_LENGTH")
    private static let serverSoftware = key("SERVER_SOFTWARE"), serverName = key("SERVER_NAME")
    private static let serverAddr = key("SERVER_ADDR"), serverPort = key("SERVER_PORT")
    private static let remoteAddr = key("REMOTE_ADDR"), documentRoot = key("DOCUMENT_ROOT")
    private static let requestScheme = key("REQUEST_SCHEME"), contextPrefix = key("CONTEXT_PREFIX")
    private static let contextDocumentRoot = key("CONTEXT_DOCUMENT_ROOT"), serverAdmin = key("SERVER_ADMIN")
    private static let scriptFilename = key("SCRIPT_FILENAME"), remotePort = key("REMOTE_PORT")
    private static let remoteUser = key("REMOTE_USER"), redirectRemoteUser = key("REDIRECT_REMOTE_USER")
    private static let authType = key("AUTH_TYPE"), redirectURL = key("REDIRECT_URL")
    private static let redirectQueryString = key("REDIRECT_QUERY_STRING")
    private static let serverProtocol = key("SERVER_PROTOCOL"), requestMethod = key("REQUEST_METHOD")
    private static let queryString = key("QUERY_STRING"), requestURI = key("REQUEST_URI")
    private static let scriptName = key("SCRIPT_NAME"), pathInfo = key("PATH_INFO")
    private static let empty = key("")

    static func add(_ r: UnsafeMutablePointer<request_rec>) {
        let pool = r.pointee.pool
        let c = r.pointee.connection!
        let s = r.pointee.server!
        let sub = r.pointee.subprocess_env
        let headersIn = r.pointee.headers_in
        let count = Int(wsgi_table_count(headersIn))
        // Into a table of its own when something (SetEnv…) is there already, so that these
        // replace what they meet (as ap_add_common_vars does).
        let e = apr_is_empty_table(sub) != 0 ? sub : apr_table_make(pool, Int32(25 + count))
        if count > 0, let items = wsgi_table_entries(headersIn) {
            let passAuth = wsgi_core_cgi_pass_auth(r) != 0
            for i in 0..<count {
                guard let k = items[i].key, let v = items[i].val else { continue }
                if strcasecmp(k, "Content-Type") == 0 {
                    apr_table_addn(e, contentType, v)
                } else if strcasecmp(k, "Content-Length") == 0 {
                    apr_table_addn(e, contentLength, v)
                } else if strcasecmp(k, "Proxy") == 0 {
                    continue  // never HTTP_PROXY (httpoxy, CVE-2016-5388)
                } else if strcasecmp(k, "Authorization") == 0 || strcasecmp(k, "Proxy-Authorization") == 0 {
                    if passAuth, let name = httpName(pool, k) { apr_table_addn(e, name, v) }
                } else if let name = httpName(pool, k) {
                    apr_table_addn(e, name, v)
                }
            }
        }
        apr_table_addn(e, serverSoftware, ap_get_server_banner())
        apr_table_addn(e, serverName, ap_escape_html2(pool, ap_get_server_name_for_url(r), 0))
        apr_table_addn(e, serverAddr, c.pointee.local_ip)
        apr_table_addn(e, serverPort, apr_itoa(pool, Int32(ap_get_server_port(r))))
        apr_table_addn(e, remoteAddr, r.pointee.useragent_ip)
        apr_table_addn(e, documentRoot, ap_document_root(r))
        apr_table_setn(e, requestScheme, ap_run_http_scheme(r))
        apr_table_addn(e, contextPrefix, ap_context_prefix(r))
        apr_table_addn(e, contextDocumentRoot, ap_context_document_root(r))
        if let admin = s.pointee.server_admin { apr_table_addn(e, serverAdmin, admin) }
        if let filename = r.pointee.filename {
            if apr_table_get(r.pointee.notes, "proxy-noquery") != nil, let q = strchr(filename, 63 /* ? */) {
                apr_table_addn(e, scriptFilename, apr_pstrmemdup(pool, filename, filename.distance(to: q)))
            } else {
                apr_table_addn(e, scriptFilename, filename)
            }
        }
        apr_table_addn(e, remotePort, apr_itoa(pool, Int32(c.pointee.client_addr.pointee.port)))
        if let user = r.pointee.user {
            apr_table_addn(e, remoteUser, user)
        } else {
            var back = r.pointee.prev
            while let b = back {
                if let user = b.pointee.user {
                    apr_table_addn(e, redirectRemoteUser, user)
                    break
                }
                back = b.pointee.prev
            }
        }
        if let type = r.pointee.ap_auth_type { apr_table_addn(e, authType, type) }
        if let prev = r.pointee.prev {
            if wsgi_core_qualify_redirect_url(r) == 0 {
                if let uri = prev.pointee.uri { apr_table_addn(e, redirectURL, uri) }
            } else {
                var uri = prev.pointee.parsed_uri
                if uri.scheme == nil { uri.scheme = UnsafeMutablePointer(mutating: ap_run_http_scheme(prev)) }
                if uri.port == 0 {
                    uri.port = ap_get_server_port(prev)
                    uri.port_str = apr_itoa(pool, Int32(uri.port))
                }
                if uri.hostname == nil {
                    uri.hostname = UnsafeMutablePointer(mutating: ap_get_server_name_for_url(prev))
                }
                apr_table_addn(e, redirectURL, apr_uri_unparse(pool, &uri, 0))
            }
            if let args = prev.pointee.args { apr_table_addn(e, redirectQueryString, args) }
        }
        apr_table_setn(e, serverProtocol, r.pointee.protocol)
        apr_table_setn(e, requestMethod, r.pointee.method)
        apr_table_setn(e, queryString, r.pointee.args.map { UnsafePointer($0) } ?? empty)
        apr_table_setn(
            e, requestURI,
            wsgi_core_request_uri_is_current(r) != 0 ? r.pointee.uri.map { UnsafePointer($0) } : originalURI(r))
        let uri = r.pointee.uri.map { UnsafePointer($0) } ?? empty
        if let pi = r.pointee.path_info, pi.pointee != 0, strcmp(r.pointee.protocol, "INCLUDED") != 0 {
            let start = ap_find_path_info(uri, pi)
            apr_table_setn(e, scriptName, apr_pstrndup(pool, uri, Int(start)))
            apr_table_setn(e, pathInfo, pi)
        } else {
            apr_table_setn(e, scriptName, uri)
            if let pi = r.pointee.path_info, pi.pointee != 0 { apr_table_setn(e, pathInfo, pi) }
        }
        if e != sub { apr_table_overlap(sub, e, UInt32(APR_OVERLAP_TABLES_SET)) }
    }

    /// "X-Forwarded-For" → "HTTP_X_FORWARDED_FOR" (in the pool); nil for a name with a
    /// character other than a letter, a digit or '-', which Apache leaves out too (else
    /// X_Forwarded_For could pose as X-Forwarded-For).
    private static func httpName(_ pool: OpaquePointer?, _ name: UnsafePointer<CChar>) -> UnsafePointer<CChar>? {
        let n = strlen(name)
        guard let pool, let out = apr_palloc(pool, n + 6)?.assumingMemoryBound(to: UInt8.self) else { return nil }
        out[0] = 72; out[1] = 84; out[2] = 84; out[3] = 80; out[4] = 95  // HTTP_
        let src = UnsafeRawPointer(name).assumingMemoryBound(to: UInt8.self)
        for i in 0..<n {
            var ch = src[i]
            switch ch {
            case 97...122: ch -= 32
            case 65...90, 48...57: break
            case 45: ch = 95
            default: return nil
            }
            out[5 + i] = ch
        }
        out[5 + n] = 0
        return UnsafeRawPointer(out).assumingMemoryBound(to: CChar.self)
    }

    /// The URI of the request line, as the client sent it.
    private static func originalURI(_ r: UnsafeMutablePointer<request_rec>) -> UnsafePointer<CChar> {
        guard let line = r.pointee.the_request else { return empty }
        var first = line
        func space(_ c: CChar) -> Bool { c == 32 || (c >= 9 && c <= 13) }
        while first.pointee != 0 && !space(first.pointee) { first += 1 }
        while space(first.pointee) { first += 1 }
        var last = first
        while last.pointee != 0 && !space(last.pointee) { last += 1 }
        return UnsafePointer(apr_pstrmemdup(r.pointee.pool, first, first.distance(to: last)))
    }
}
