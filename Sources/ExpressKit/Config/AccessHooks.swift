#if canImport(Glibc)
import Glibc
#endif

/// The Python hooks Apache's children run around each request, as mod_wsgi-express 4.9
/// renders them: `--host-access-script` (WSGIAccessScript), `--auth-user-script` with
/// `--auth-type` (the `wsgi` Basic/Digest provider), `--auth-group-script` with `--auth-group`
/// (`Require wsgi-group`), and the trusted front-end proxy (WSGITrustedProxyHeaders and
/// WSGITrustedProxies); plus `--dispatch-script` (WSGIDispatchScript), which mod_wsgi-express
/// lacks. Everything a script or header needs is checked here, so a mistake is one line
/// before Apache starts instead of a 500 on every request or a configuration Apache refuses.
public struct AccessHooks: Equatable {
    public var hostAccessScript: String?
    public var authUserScript: String?
    /// "Basic" or "Digest".
    public var authType: String = "Basic"
    public var authGroupScript: String?
    public var authGroup: String = "wsgi"
    public var dispatchScript: String?
    public var trustedProxyHeaders: [String] = []
    public var trustedProxies: [String] = []

    public init() {}

    /// The proxy headers the module applies (any other name stops Apache at start-up).
    static let proxyHeaders = [
        "X-Forwarded-For", "X-Client-IP", "X-Real-IP",
        "X-Forwarded-Host", "X-Host",
        "X-Script-Name", "X-Forwarded-Script-Name",
        "X-Forwarded-Proto", "X-Forwarded-Scheme", "X-Scheme",
        "X-Forwarded-HTTPS", "X-Forwarded-SSL", "X-HTTPS",
        "X-Forwarded-Server", "X-Forwarded-Port",
    ]

    static func resolve(_ o: ServerOptions, account: Account, ctx: RunContext) throws -> AccessHooks {
        var h = AccessHooks()
        func script(_ path: String?, _ option: String) throws -> String? {
            guard let path else { return nil }
            return try checkedScript(Path.absolute(path, cwd: ctx.cwd), option: option, account: account, ctx: ctx)
        }
        h.hostAccessScript = try script(o.hostAccessScript, "--host-access-script")
        h.authUserScript = try script(o.authUserScript, "--auth-user-script")
        h.authGroupScript = try script(o.authGroupScript, "--auth-group-script")
        h.dispatchScript = try script(o.dispatchScript, "--dispatch-script")

        // What mod_wsgi-express would silently drop is refused instead.
        switch o.authType.lowercased() {
        case "basic": h.authType = "Basic"
        case "digest": h.authType = "Digest"
        default: throw ExpressError.badOption("--auth-type must be Basic or Digest, not '\(o.authType)'")
        }
        if h.authUserScript == nil {
            for name in ["--auth-type", "--auth-group-script"] where o.isGiven(name) {
                throw ExpressError.badOption("\(name) needs --auth-user-script (the script that authenticates users)")
            }
        }
        if o.isGiven("--auth-group") && h.authGroupScript == nil {
            throw ExpressError.badOption(
                "--auth-group needs --auth-group-script (the script that lists a user's groups)")
        }
        h.authGroup = o.authGroup
        guard !h.authGroup.isEmpty else { throw ExpressError.badOption("--auth-group must not be empty") }

        for header in o.trustProxyHeaders {
            guard proxyHeaders.contains(where: { $0.lowercased() == header.lowercased() }) else {
                throw ExpressError.badOption(
                    "--trust-proxy-header '\(header)' is not a proxy header mod_wsgi uses; use one of \(proxyHeaders.joined(separator: ", "))"
                )
            }
        }
        for proxy in o.trustProxies where !isAddressOrSubnet(proxy) {
            throw ExpressError.badOption(
                "--trust-proxy '\(proxy)' is not an IP address or subnet (e.g. 10.0.0.1 or 10.0.0.0/8)")
        }
        if !o.trustProxies.isEmpty && o.trustProxyHeaders.isEmpty {
            throw ExpressError.badOption(
                "--trust-proxy needs --trust-proxy-header (the headers the proxy sets, e.g. X-Forwarded-For)")
        }
        h.trustedProxyHeaders = o.trustProxyHeaders
        h.trustedProxies = o.trustProxies
        return h
    }

    /// The absolute path of a hook script that exists and that Apache's user can read.
    static func checkedScript(_ path: String, option: String, account: Account, ctx: RunContext) throws -> String {
        guard Sys.exists(path) else {
            throw ExpressError.badOption("\(option) '\(path)' does not exist: check the path")
        }
        guard Sys.isFile(path) else {
            throw ExpressError.badOption("\(option) '\(path)' is not a file: give the path of a Python script")
        }
        if ctx.uid == 0 && account.uid != 0 {
            let gids = Users.groups(of: account.user, primary: account.gid)
            if let blocked = AccessCheck.firstBlocked(path, account: account, gids: gids, isDirectory: false) {
                throw ExpressError.unreadable(
                    path: blocked.path, user: account.user, mode: UInt32(blocked.mode),
                    what: "the \(option) script")
            }
        } else if access(path, R_OK) != 0 {
            let mode = Sys.stat(path).map { UInt32($0.st_mode & 0o7777) } ?? 0
            throw ExpressError.unreadable(path: path, user: account.user, mode: mode, what: "the \(option) script")
        }
        return path
    }

    /// An IPv4/IPv6 address, optionally /bits, as WSGITrustedProxies (apr_ipsubnet_create) takes it.
    static func isAddressOrSubnet(_ s: String) -> Bool {
        let parts = s.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        var buffer = [UInt8](repeating: 0, count: 16)
        let v4 = inet_pton(AF_INET, parts[0], &buffer) == 1
        let v6 = !v4 && inet_pton(AF_INET6, parts[0], &buffer) == 1
        guard v4 || v6 else { return false }
        guard parts.count == 2 else { return true }
        guard let bits = Int(parts[1]), parts[1].allSatisfy(\.isNumber) else { return false }
        return (1...(v4 ? 32 : 128)).contains(bits)
    }

    /// Apache modules the hooks need: the authentication scheme's and `Require valid-user`'s.
    var modules: [String] {
        guard authUserScript != nil else { return [] }
        return [authType == "Digest" ? "auth_digest" : "auth_basic", "authz_user"]
    }

    /// The values httpd.conf.mustache's hooks block lays out; nil when no hook is used.
    func context(realm: String) -> [String: Any]? {
        guard
            hostAccessScript != nil || authUserScript != nil || dispatchScript != nil
                || !trustedProxyHeaders.isEmpty
        else { return nil }
        func sq(_ s: String) -> String { Quote.apache(s) }
        return [
            "hostAccessScript": hostAccessScript.map(sq) ?? "",
            "authUserScript": authUserScript.map(sq) ?? "",
            "authType": authType,
            "authName": sq(realm),
            "authGroupScript": authGroupScript.map(sq) ?? "",
            "authGroup": sq(authGroup),
            "dispatchScript": dispatchScript.map(sq) ?? "",
            "trustedProxyHeaders": trustedProxyHeaders.joined(separator: " "),
            "trustedProxies": trustedProxies.joined(separator: " "),
        ]
    }
}

extension AccessHooks {
    /// Whether Python code runs in Apache's children (host access, auth and dispatch scripts
    /// do, in daemon mode too), so their threads need a Python-sized stack.
    var runPythonInChildren: Bool {
        hostAccessScript != nil || authUserScript != nil || authGroupScript != nil || dispatchScript != nil
    }
}
