import CModWSGI
import WSGICore

/// WSGITrustedProxies: the addresses (IP or network/bits) of front-end proxies whose
/// headers are believed. The subnets live in the configuration pool.
final class TrustedProxyList {
    let subnets: [OpaquePointer]  // apr_ipsubnet_t*

    init(_ subnets: [OpaquePointer]) { self.subnets = subnets }

    static func parse(_ args: [String], pool: OpaquePointer?, fail: (String) -> DirectiveError) throws
        -> TrustedProxyList
    {
        var subnets: [OpaquePointer] = []
        for arg in args {
            let parts = arg.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            var sub: OpaquePointer? = nil
            let rv =
                parts.count == 2
                ? apr_ipsubnet_create(&sub, parts[0], parts[1], pool)
                : apr_ipsubnet_create(&sub, parts[0], nil, pool)
            guard rv == APR_SUCCESS, let sub else {
                throw fail("'\(arg)' is not an IP address or network (address/bits)")
            }
            subnets.append(sub)
        }
        return TrustedProxyList(subnets)
    }

    func contains(_ ip: String, pool: OpaquePointer?) -> Bool? {
        var sa: UnsafeMutablePointer<apr_sockaddr_t>? = nil
        guard apr_sockaddr_info_get(&sa, ip, APR_UNSPEC, 0, 0, pool) == APR_SUCCESS, let sa else { return nil }
        return subnets.contains { apr_ipsubnet_test($0, sa) != 0 }
    }
}

/// WSGITrustedProxyHeaders: what a trusted front-end proxy tells about the original
/// request, applied to the CGI variables as mod_wsgi does. Headers of a category named
/// in the directive are always removed from the environ unless they were the one used,
/// so a client talking to Apache directly (or through an untrusted hop) cannot fake
/// its address, host, scheme or mount point.
enum TrustedProxies {
    static let clientHeaders = ["HTTP_X_FORWARDED_FOR", "HTTP_X_CLIENT_IP", "HTTP_X_REAL_IP"]
    static let hostHeaders = ["HTTP_X_FORWARDED_HOST", "HTTP_X_HOST"]
    static let scriptNameHeaders = ["HTTP_X_SCRIPT_NAME", "HTTP_X_FORWARDED_SCRIPT_NAME"]
    static let schemeHeaders = ["HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_SCHEME", "HTTP_X_SCHEME"]
    static let sslHeaders = ["HTTP_X_FORWARDED_HTTPS", "HTTP_X_FORWARDED_SSL", "HTTP_X_HTTPS"]
    static let otherHeaders = ["HTTP_X_FORWARDED_SERVER", "HTTP_X_FORWARDED_PORT"]
    static var known: [String] {
        clientHeaders + hostHeaders + scriptNameHeaders + schemeHeaders + sslHeaders + otherHeaders
    }

    /// "X-Forwarded-For" → "HTTP_X_FORWARDED_FOR", refusing headers this cannot use.
    static func environName(header: String, fail: (String) -> DirectiveError) throws -> String {
        let name = "HTTP_" + String(header.uppercased().map { $0 == "-" ? "_" : $0 })
        guard known.contains(name) else {
            let list = known.map {
                "X"
                    + $0.dropFirst(6).lowercased().split(separator: "_").map {
                        "-" + $0.prefix(1).uppercased() + $0.dropFirst()
                    }.joined()
            }
            throw fail(
                "'\(header)' is not a proxy header mod_wsgi understands; use one of \(list.joined(separator: ", "))")
        }
        return name
    }

    /// Rewrites the CGI variables in `env` (subprocess_env). Returns whether a trusted header
    /// of the scheme category was applied (then it, not Apache's own TLS, says the scheme).
    static func apply(_ r: UnsafeMutablePointer<request_rec>, dir: DirConfig, env: OpaquePointer?) -> Bool {
        guard let headers = dir.trustedProxyHeaders else { return false }
        let pool = r.pointee.pool
        func get(_ k: String) -> String? { str(apr_table_get(env, k)) }
        var trusted = true
        if let proxies = dir.trustedProxies {
            if let addr = get("REMOTE_ADDR"), let inList = proxies.contains(addr, pool: pool) {
                trusted = inList
            } else {
                trusted = false
            }
        }
        var used: [String: String] = [:]  // category → header used
        var matched = Set<String>()
        for name in headers {
            let category = category(of: name)
            matched.insert(category)
            guard trusted, let value = get(name) else { continue }
            switch name {
            case "HTTP_X_FORWARDED_FOR":
                if let addr = forwardedFor(value, proxies: dir.trustedProxies, r: r, env: env) {
                    apr_table_set(env, "REMOTE_ADDR", addr)
                }
                used[category] = name
            case "HTTP_X_CLIENT_IP", "HTTP_X_REAL_IP":
                apr_table_set(env, "REMOTE_ADDR", value); used[category] = name
            case "HTTP_X_FORWARDED_HOST", "HTTP_X_HOST":
                apr_table_set(env, "HTTP_HOST", value); used[category] = name
            case "HTTP_X_FORWARDED_SERVER":
                apr_table_set(env, "SERVER_NAME", value); used[category] = name
            case "HTTP_X_FORWARDED_PORT":
                apr_table_set(env, "SERVER_PORT", value); used[category] = name
            case "HTTP_X_SCRIPT_NAME", "HTTP_X_FORWARDED_SCRIPT_NAME":
                apr_table_set(env, "mod_wsgi.mount_point", value)
                apr_table_set(env, "SCRIPT_NAME", value)
                used[category] = name
            case "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_SCHEME", "HTTP_X_SCHEME":
                used[category] = name
                switch value.lowercased() {
                case "https": apr_table_set(env, "HTTPS", "1")
                case "http": apr_table_unset(env, "HTTPS")
                default: break
                }
            default:  // X-Forwarded-HTTPS, X-Forwarded-SSL, X-HTTPS: a flag
                used[category] = name
                switch value.lowercased() {
                case "on", "true", "1": apr_table_set(env, "HTTPS", "1")
                case "off", "false", "0": apr_table_unset(env, "HTTPS")
                default: break
                }
            }
        }
        // Remove every header of a category asked about except the one used (mod_wsgi 6.0:
        // X-Forwarded-Server and X-Forwarded-Port too, which 4.9 left in the environ).
        let groups: [String: [String]] = [
            "client": clientHeaders, "host": hostHeaders, "server": ["HTTP_X_FORWARDED_SERVER"],
            "port": ["HTTP_X_FORWARDED_PORT"], "script": scriptNameHeaders, "scheme": schemeHeaders + sslHeaders,
        ]
        for (category, names) in groups where matched.contains(category) {
            for n in names where n != used[category] { apr_table_unset(env, n) }
        }
        return used["scheme"] != nil
    }

    private static func category(of name: String) -> String {
        if clientHeaders.contains(name) { return "client" }
        if hostHeaders.contains(name) { return "host" }
        if scriptNameHeaders.contains(name) { return "script" }
        if schemeHeaders.contains(name) || sslHeaders.contains(name) { return "scheme" }
        if name == "HTTP_X_FORWARDED_SERVER" { return "server" }
        if name == "HTTP_X_FORWARDED_PORT" { return "port" }
        return name
    }

    /// X-Forwarded-For: without a proxy list the first address is the client's; with one,
    /// walk from the right past trusted proxies: the address before the leftmost trusted
    /// one is the client, and the header keeps only the hops from it on.
    private static func forwardedFor(
        _ value: String, proxies: TrustedProxyList?,
        r: UnsafeMutablePointer<request_rec>, env: OpaquePointer?
    ) -> String? {
        let items = value.split(separator: ",").map { String(String($0).trimmingSpaces) }.filter { !$0.isEmpty }
        guard !items.isEmpty else { return nil }
        guard let proxies else { return items[0] }
        var first = -1
        var i = items.count
        while i > 0 {
            i -= 1
            guard let inList = proxies.contains(items[i], pool: r.pointee.pool) else {
                Log.request(
                    APLOG_DEBUG, .proxyHeaderIgnored, "Forwarded IP of \"\(items[i])\" is not a valid IP address.", r)
                break
            }
            if !inList { break }
            first = i
        }
        if first >= 0 {
            let start = max(first - 1, 0)
            apr_table_set(env, "HTTP_X_FORWARDED_FOR", items[start...].joined(separator: ", "))
            return items[start]
        }
        apr_table_set(env, "HTTP_X_FORWARDED_FOR", items[items.count - 1])
        return items[items.count - 1]
    }
}
