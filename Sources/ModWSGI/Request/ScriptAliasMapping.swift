import CModWSGI
import SystemCalls
import WSGICore

/// A WSGIScriptAlias's translate_name work on every request, made cheap: the location and the
/// options in C form made once (no Swift string per request), and what its script file is.
///
/// When the alias names a regular file (the usual case, and mod_wsgi-express's), the URL after
/// the alias is PATH_INFO, and translate_name says so: r->filename is the script and r->path_info
/// the rest, so Apache's directory walk finds the file with one stat instead of failing on
/// "script/rest" and stat'ing its way back up the path (six stat calls for a script four
/// directories down). For a request that goes to a daemon process (process-group= on the
/// alias) it also hands Apache the script's stat, taken at most once a second per Apache child:
/// the daemon stats the script itself before running it, so Apache's own stat of it on every
/// request found nothing the daemon would not. (Embedded mode keeps Apache's stat: its mtime
/// decides whether the script is reloaded.)
final class ScriptAliasMapping {
    let location: [UInt8]
    let path: UnsafeMutablePointer<CChar>
    let pathLength: Int
    let processGroup: UnsafeMutablePointer<CChar>?
    let applicationGroup: UnsafeMutablePointer<CChar>?
    let callableObject: UnsafeMutablePointer<CChar>?
    let passAuthorization: UnsafeMutablePointer<CChar>?
    /// The requests go to one named daemon process group (not %{…}, no WSGIProcessGroup).
    let daemonBound: Bool

    private let lock = Lock()
    private var finfo = apr_finfo_t()
    /// When `finfo` was taken (monotonic µs); nil: never.
    private var checked: Int64?

    /// How long a stat of the script is reused in one Apache child.
    static let statReuseMicros: Int64 = 1_000_000

    init(location: String, target: ScriptTarget) {
        self.location = Array(location.utf8)
        path = strdup(target.path)
        pathLength = strlen(path)
        processGroup = target.processGroup.map { strdup($0) }
        applicationGroup = target.applicationGroup.map { strdup($0) }
        callableObject = target.callableObject.map { strdup($0) }
        passAuthorization = target.passAuthorization.map { strdup($0 ? "On" : "Off") }
        daemonBound = target.processGroup.map { !$0.isEmpty && !$0.hasPrefix("%{") } ?? false
    }

    deinit {
        free(path)
        for p in [processGroup, applicationGroup, callableObject, passAuthorization] { free(p) }
    }

    /// The script's stat, at most `statReuseMicros` old (filetype APR_NOFILE when missing).
    func scriptInfo(_ pool: OpaquePointer?) -> apr_finfo_t {
        let now = monotonicMicros()
        return lock.withLock {
            if checked.map({ now - $0 >= Self.statReuseMicros }) ?? true {
                var f = apr_finfo_t()
                if apr_stat(&f, path, APR_FINFO_MIN, pool) != APR_SUCCESS { f.filetype = APR_NOFILE }
                f.pool = nil
                f.fname = nil
                finfo = f
                checked = now
            }
            return finfo
        }
    }

    /// mod_alias's matching, which mod_wsgi uses for WSGIScriptAlias: any run of slashes in the
    /// alias matches any run (at least one) in the URL; the alias must end at a path segment's
    /// end. How many bytes of the URL matched, or nil.
    func matches(_ uri: UnsafePointer<CChar>) -> Int? {
        let u = UnsafeRawPointer(uri).assumingMemoryBound(to: UInt8.self)
        var i = 0
        var j = 0
        let a = location
        while j < a.count {
            if a[j] == 47 {
                guard u[i] == 47 else { return nil }
                while j < a.count && a[j] == 47 { j += 1 }
                while u[i] == 47 { i += 1 }
            } else {
                guard u[i] != 0, u[i] == a[j] else { return nil }
                i += 1
                j += 1
            }
        }
        if let last = a.last, last != 47, u[i] != 0, u[i] != 47 { return nil }
        return i
    }
}
