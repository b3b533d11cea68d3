import CModWSGI
import WSGICore

/// How a HEAD request reaches the application (WSGIMapHEADToGET).
enum MapHEAD: Sendable { case off, on, auto }

/// Per-directory configuration (<Directory>, <Location>, .htaccess, and the server's
/// defaults). Every field is optional: nil means "unset", and `merged(over:)` lets the
/// more specific section win field by field, as Apache's merge callbacks do.
final class DirConfig {
    var applicationGroup: String?
    var processGroup: String?
    var callableObject: String?
    var passAuthorization: Bool?
    var chunkedRequest: Bool?
    var enableSendfile: Bool?
    var mapHEADToGET: MapHEAD?
    var scriptReloading: Bool?
    var errorOverride: Bool?
    var restrictProcess: [String]?
    var handlerScripts: [String: ScriptTarget] = [:]
    // Hooks/: access, authentication, group authorisation and dispatch scripts.
    var accessScript: HookScript?
    var authUserScript: HookScript?
    var authGroupScript: HookScript?
    var dispatchScript: HookScript?
    var passApacheRequest: Bool?
    var ignoreActivity: Bool?
    var trustedProxyHeaders: [String]?
    var trustedProxies: TrustedProxyList?

    func merged(over base: DirConfig) -> DirConfig {
        let m = DirConfig()
        m.applicationGroup = applicationGroup ?? base.applicationGroup
        m.processGroup = processGroup ?? base.processGroup
        m.callableObject = callableObject ?? base.callableObject
        m.passAuthorization = passAuthorization ?? base.passAuthorization
        m.chunkedRequest = chunkedRequest ?? base.chunkedRequest
        m.enableSendfile = enableSendfile ?? base.enableSendfile
        m.mapHEADToGET = mapHEADToGET ?? base.mapHEADToGET
        m.scriptReloading = scriptReloading ?? base.scriptReloading
        m.errorOverride = errorOverride ?? base.errorOverride
        m.restrictProcess = restrictProcess ?? base.restrictProcess
        m.handlerScripts = base.handlerScripts.merging(handlerScripts) { _, new in new }
        m.accessScript = accessScript ?? base.accessScript
        m.authUserScript = authUserScript ?? base.authUserScript
        m.authGroupScript = authGroupScript ?? base.authGroupScript
        m.dispatchScript = dispatchScript ?? base.dispatchScript
        m.passApacheRequest = passApacheRequest ?? base.passApacheRequest
        m.ignoreActivity = ignoreActivity ?? base.ignoreActivity
        m.trustedProxyHeaders = trustedProxyHeaders ?? base.trustedProxyHeaders
        m.trustedProxies = trustedProxies ?? base.trustedProxies
        return m
    }
}

/// One WSGIScriptAlias / WSGIScriptAliasMatch.
final class ScriptAlias {
    let location: String
    let target: ScriptTarget
    /// Compiled pattern of WSGIScriptAliasMatch (nil for WSGIScriptAlias).
    let regex: UnsafeMutablePointer<ap_regex_t>?
    /// What translate_name needs on every request, ready in C form (Request/ScriptAliasMapping.swift).
    let mapping: ScriptAliasMapping

    init(location: String, target: ScriptTarget, regex: UnsafeMutablePointer<ap_regex_t>?) {
        // "/app/" and "/app" mount the same way; "/" mounts at the root ("").
        var loc = location
        if regex == nil { while loc.hasSuffix("/") { loc.removeLast() } }
        self.location = loc
        self.target = target
        self.regex = regex
        mapping = ScriptAliasMapping(location: loc, target: target)
    }
}

/// The configuration of one virtual host (or of the main server): Apache's per-server
/// module configuration. Not the command-line tool's ServerConfig.
final class VirtualHostConfig {
    var aliases: [ScriptAlias] = []

    func merged(over base: VirtualHostConfig) -> VirtualHostConfig {
        let m = VirtualHostConfig()
        m.aliases = aliases + base.aliases
        return m
    }
}

/// Settings that only make sense once per server (outside <VirtualHost>): the Python
/// runtime's, and those of the process groups. Reset in pre_config for each generation.
struct GlobalConfig {
    var pythonHome: String?
    var pythonPath: [String] = []
    var optimize: Int = 0
    var hashSeed: UInt32?  // nil: random
    var dontWriteBytecode = false
    var warnings: [String] = []
    var restrictEmbedded = false
    var restrictStdout = false
    var restrictStdin = false
    var restrictSignal = true
    var destroyInterpreter = true
    var verboseDebugging = false
    var pythonEggs: String?
    var socketPrefix: String?
    var socketRotation = true
    var importScripts: [ScriptTarget] = []
    var daemonGroups: [DaemonGroupConfig] = []
    /// WSGICaseSensitivity Off: script paths differing only in case name one script.
    var caseSensitive = true
    /// WSGIServerMetrics: nil when absent (mod_wsgi 4.9 then still answers server_metrics()
    /// in embedded mode: its test is `!flag` on a flag that starts at -1).
    var serverMetrics: Bool? = nil
    /// WSGIMetricsURL: the path of the Prometheus endpoint (Metrics/), nil when absent.
    var metricsURL: String? = nil
    /// WSGIMetricsAllow: who may read it; nil means localhost only.
    var metricsAllow: TrustedProxyList? = nil
    /// WSGIDrainOnTerm On: SIGTERM drains (Lifecycle/); WSGIDrainDelay: seconds of 503 first.
    var drainOnTerm = false
    var drainDelay = 0
    /// WSGIHealthURL: the readiness path (Lifecycle/), nil when absent; WSGIHealthAllow: who may ask.
    var healthURL: String? = nil
    var healthAllow: TrustedProxyList? = nil
    /// WSGINextRequestWait: milliseconds an Apache worker waits for the next request on a
    /// keep-alive connection after a WSGI response (CModWSGI/wsgi_next_request.c); 0: never.
    var nextRequestWait = 0
    /// WSGIDocumentRootWalk Once: each child lstat()s the directories down to a DocumentRoot
    /// once instead of on every request's directory walk (CModWSGI/wsgi_docroot_walk.c).
    var documentRootWalkOnce = false
    /// An access, auth or dispatch script is configured: Apache's children need Python
    /// even with WSGIRestrictEmbedded On (the scripts never run in a daemon process).
    var hookScripts = false
    /// Directives accepted for old configurations but without effect here: one warning
    /// each at start-up (post_config).
    var startupWarnings: [String] = []
    // mod_wsgi 6.1 (Config/InterpreterOptions.swift, Config/TelemetryConfig.swift).
    var switchInterval: Double? = nil
    var perInterpreterGIL: Bool? = nil
    var freeThreading: Bool? = nil
    var interpreterOptions: [InterpreterOptionsBlock] = []
    var telemetry = TelemetryConfig()

    nonisolated(unsafe) static var current = GlobalConfig()
}

// MARK: - Storage of configuration objects in Apache's pools

/// A per-directory or per-server configuration: Apache merges a section's over its parent's.
protocol MergeableConfig: AnyObject {
    func merged(over base: Self) -> Self
}

extension DirConfig: MergeableConfig {}
extension VirtualHostConfig: MergeableConfig {}

/// Config objects are Swift classes kept alive by the pool they were created for.
enum ConfigStore {
    static func store<T: AnyObject>(_ object: T, in pool: OpaquePointer?) -> UnsafeMutableRawPointer {
        let raw = Unmanaged.passRetained(object).toOpaque()
        apr_pool_cleanup_register(
            pool, raw,
            { data in
                Unmanaged<AnyObject>.fromOpaque(data!).release()
                return APR_SUCCESS
            }, apr_pool_cleanup_null)
        return raw
    }

    @inline(__always)
    static func load<T: AnyObject>(_ raw: UnsafeMutableRawPointer?, as: T.Type) -> T? {
        guard let raw else { return nil }
        return Unmanaged<T>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Apache's merge callback for either kind: `add` merged over `base`, in the pool `p`.
    static func merge<T: MergeableConfig>(
        _ base: UnsafeMutableRawPointer?, _ add: UnsafeMutableRawPointer?,
        as: T.Type, in p: OpaquePointer?
    ) -> UnsafeMutableRawPointer {
        let b = load(base, as: T.self)!
        let a = load(add, as: T.self)!
        return store(a.merged(over: b), in: p)
    }

    static func server(_ s: UnsafePointer<server_rec>?) -> VirtualHostConfig? {
        load(wsgi_server_config(s), as: VirtualHostConfig.self)
    }

    static func dir(_ r: UnsafePointer<request_rec>) -> DirConfig? {
        load(wsgi_request_config(r), as: DirConfig.self)
    }
}

@_cdecl("wsgi_swift_create_server_config")
func wsgi_swift_create_server_config(_ p: OpaquePointer?, _ s: UnsafeMutablePointer<server_rec>?)
    -> UnsafeMutableRawPointer?
{
    ConfigStore.store(VirtualHostConfig(), in: p)
}

@_cdecl("wsgi_swift_merge_server_config")
func wsgi_swift_merge_server_config(
    _ p: OpaquePointer?, _ base: UnsafeMutableRawPointer?, _ add: UnsafeMutableRawPointer?
) -> UnsafeMutableRawPointer? {
    ConfigStore.merge(base, add, as: VirtualHostConfig.self, in: p)
}

@_cdecl("wsgi_swift_create_dir_config")
func wsgi_swift_create_dir_config(_ p: OpaquePointer?, _ dir: UnsafeMutablePointer<CChar>?) -> UnsafeMutableRawPointer?
{
    ConfigStore.store(DirConfig(), in: p)
}

@_cdecl("wsgi_swift_merge_dir_config")
func wsgi_swift_merge_dir_config(_ p: OpaquePointer?, _ base: UnsafeMutableRawPointer?, _ add: UnsafeMutableRawPointer?)
    -> UnsafeMutableRawPointer?
{
    ConfigStore.merge(base, add, as: DirConfig.self, in: p)
}
