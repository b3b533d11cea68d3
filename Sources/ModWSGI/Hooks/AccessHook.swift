import CModWSGI
import WSGICore

/// WSGIAccessScript: `allow_access(environ, host)` in Apache's access_checker phase
/// (after mod_ssl, before mod_authz_host). True → allowed, False → 403, None → left to
/// the other modules; anything else, or an exception, → logged and 403.
enum AccessHook {
    static func check(_ r: UnsafeMutablePointer<request_rec>) -> Int32 {
        guard let dir = ConfigStore.dir(r), let script = dir.accessScript else { return DECLINED }
        // The client's host name when HostnameLookups resolves it, else its address.
        let host =
            ap_get_remote_host(
                r.pointee.connection, UnsafeMutableRawPointer(r.pointee.per_dir_config), REMOTE_HOST, nil)
            ?? UnsafePointer(r.pointee.useragent_ip) ?? UnsafePointer(r.pointee.connection.pointee.client_ip)
        let kind = "host access"
        let allow: Int = HookRunner.call(
            r, script, kind: kind, function: "allow_access",
            args: host.map { [$0] } ?? [], dir: dir
        ) { outcome in
            guard case .returned(let result) = outcome else { return 0 }
            if result == wsgi_py_none() { return -1 }
            if result == wsgi_py_true() { return 1 }
            if result == wsgi_py_false() { return 0 }
            Log.request(
                APLOG_ERR, .hookBadResult,
                "Indicator of host accessibility returned from '\(script.path)' must be a boolean or None, not \(String(cString: wsgi_type_name(result))).",
                r)
            return 0
        }
        if allow < 0 { return DECLINED }
        if allow > 0 { return OK }
        if ap_satisfies(r) != SATISFY_ANY || ap_some_auth_required(r) == 0 {
            Log.request(
                APLOG_ERR, .accessDenied,
                "Client denied by server configuration: '\(str(r.pointee.filename) ?? str(r.pointee.uri) ?? "")'.", r)
        }
        return HTTP_FORBIDDEN
    }
}

@_cdecl("wsgi_swift_access_checker")
func wsgi_swift_access_checker(_ r: UnsafeMutablePointer<request_rec>?) -> Int32 {
    AccessHook.check(r!)
}
