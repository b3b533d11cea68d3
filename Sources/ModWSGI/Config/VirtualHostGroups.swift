import CModWSGI
import WSGICore

/// mod_wsgi's rule for daemon process groups defined inside a <VirtualHost>: a request may use
/// one only from that virtual host, or from another with the same ServerName (the site's
/// HTTPS twin on another port); groups of the main server serve every virtual host.
enum VirtualHostGroups {
    static func allows(_ name: String, _ r: UnsafeMutablePointer<request_rec>) -> Bool {
        guard let group = GlobalConfig.current.daemonGroups.first(where: { $0.name == name }),
            group.virtualHost != 0
        else { return true }  // unknown groups are reported by the client
        let here = r.pointee.server!
        if UInt(bitPattern: here) == group.virtualHost { return true }
        guard let owner = UnsafeMutablePointer<server_rec>(bitPattern: group.virtualHost) else { return true }
        return hostname(owner) == hostname(here)
    }

    private static func hostname(_ s: UnsafeMutablePointer<server_rec>) -> String? {
        s.pointee.server_hostname.map { String(cString: $0) }
    }
}
