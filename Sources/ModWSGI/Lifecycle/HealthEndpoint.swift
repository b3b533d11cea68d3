import CModWSGI
import WSGICore

/// WSGIHealthURL: answered by Apache's child itself, from the shared LifecycleBoard, with no
/// Python and no daemon process involved (a probe costs a few loads and one kill(pid, 0) per
/// daemon process group):
///
/// - 503 `draining` from the moment a drain (SIGTERM with WSGIDrainOnTerm, or Apache's
///   graceful stop) starts, so that a load balancer takes the server out before it goes;
/// - 503 naming the group when a daemon process group (threads > 0) has no live process
///   accepting requests (all of them starting, stopping or dead);
/// - 200 `OK` otherwise.
///
/// Local clients only unless WSGIHealthAllow names other networks (a kubelet probes from the
/// node's address); the others get 403 and one log line. GET and HEAD only.
enum HealthEndpoint {
    nonisolated(unsafe) static var allowed: [OpaquePointer] = []

    /// post_config, in the parent.
    static func postConfig(pconf: OpaquePointer?) {
        let global = GlobalConfig.current
        wsgi_set_health_url(global.healthURL.map { UnsafePointer($0.pooled(pconf)) })
        allowed = global.healthAllow?.subnets ?? localhost(pconf)
    }

    static func localhost(_ pool: OpaquePointer?) -> [OpaquePointer] {
        [("127.0.0.0", "8"), ("::1", nil)].compactMap { (address: String, bits: String?) in
            var sub: OpaquePointer? = nil
            let rv =
                bits.map { apr_ipsubnet_create(&sub, address, $0, pool) }
                ?? apr_ipsubnet_create(&sub, address, nil, pool)
            return rv == APR_SUCCESS ? sub : nil
        }
    }

    /// Why the server is not ready, or nil when it is.
    static func problem() -> String? {
        guard let board = LifecycleBoard.current else { return "unavailable (no shared memory)" }
        if board.isDraining { return "draining" }
        let groups = GlobalConfig.current.daemonGroups
        var i = 0
        for g in groups {
            let count = max(g.processes, 1)
            defer { i += count }
            guard g.threads > 0 else { continue }  // service scripts accept no requests
            let ready = (i..<i + count).contains { n in
                let (pid, state) = board.read(n)
                return state == LifecycleBoard.State.accepting.rawValue && pid > 0
                    && (kill(pid, 0) == 0 || wsgi_errno() == EPERM)
            }
            if !ready { return "daemon process group '\(g.name)' has no process accepting requests" }
        }
        return nil
    }

    static func handle(_ r: UnsafeMutablePointer<request_rec>) -> Int32 {
        guard let addr = r.pointee.useragent_addr, allowed.contains(where: { apr_ipsubnet_test($0, addr) != 0 }) else {
            let ip = r.pointee.useragent_ip.map { String(cString: $0) } ?? "?"
            let url = GlobalConfig.current.healthURL ?? ""
            Log.request(
                APLOG_ERR, .healthDenied,
                "Client \(ip) denied access to the health URL '\(url)': only local clients may ask, unless WSGIHealthAllow (mod_wsgi-express: --health-allow) names its network.",
                r)
            return HTTP_FORBIDDEN
        }
        guard r.pointee.method_number == M_GET else {
            r.pointee.allowed = Int64(1) << Int64(M_GET)
            return HTTP_METHOD_NOT_ALLOWED
        }
        let why = problem()
        r.pointee.status = why == nil ? HTTP_OK : HTTP_SERVICE_UNAVAILABLE
        ap_set_content_type(r, "text/plain; charset=utf-8".pooled(r.pointee.pool))
        apr_table_set(r.pointee.headers_out, "Cache-Control", "no-store")
        if r.pointee.header_only != 0 { return OK }
        var bytes = Array(((why ?? "OK") + "\n").utf8)
        _ = bytes.withUnsafeMutableBufferPointer { b in ap_rwrite(b.baseAddress, Int32(b.count), r) }
        return OK
    }
}

@_cdecl("wsgi_swift_health_handler")
func wsgi_swift_health_handler(_ r: UnsafeMutablePointer<request_rec>?) -> Int32 {
    HealthEndpoint.handle(r!)
}
