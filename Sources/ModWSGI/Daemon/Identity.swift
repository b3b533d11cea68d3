import CModWSGI
import SystemCalls
import WSGICore

/// Users and groups of a daemon process (user=, group=, supplementary-groups=), and
/// dropping root: a daemon never runs as root.
enum Identity {
    struct User { let name: String; let uid: uid_t; let gid: gid_t; let home: String }

    /// A user by name or '#uid'.
    static func lookupUser(_ spec: String) -> User? {
        var pw: UnsafeMutablePointer<passwd>?
        if spec.hasPrefix("#"), let n = UInt32(spec.dropFirst()) { pw = getpwuid(n) } else { pw = getpwnam(spec) }
        guard let pw else {
            if spec.hasPrefix("#"), let n = UInt32(spec.dropFirst()) {
                return User(name: spec, uid: n, gid: gid_t.max, home: "/")
            }
            return nil
        }
        return User(
            name: String(cString: pw.pointee.pw_name), uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid,
            home: String(cString: pw.pointee.pw_dir))
    }

    static func lookupGroup(_ spec: String) -> gid_t? {
        if spec.hasPrefix("#"), let n = UInt32(spec.dropFirst()) { return n }
        guard let gr = getgrnam(spec) else { return nil }
        return gr.pointee.gr_gid
    }

    /// Switches to the group's user and groups (Apache's User/Group by default) and returns
    /// the user; throws what to put in the error log (a DaemonStartError or SystemError).
    static func drop(_ g: DaemonGroupConfig) throws -> User {
        let apacheUser = str(wsgi_apache_user_name()) ?? "#\(wsgi_apache_uid())"
        let userSpec = g.user ?? apacheUser
        guard
            var user = lookupUser(userSpec)
                ?? (g.user == nil
                    ? User(name: apacheUser, uid: wsgi_apache_uid(), gid: wsgi_apache_gid(), home: "/") : nil)
        else {
            throw DaemonStartError("user '\(userSpec)' of daemon process group '\(g.name)' does not exist")
        }
        var gid = g.user == nil ? wsgi_apache_gid() : user.gid
        if let gs = g.group {
            guard let found = lookupGroup(gs) else {
                throw DaemonStartError("group '\(gs)' of daemon process group '\(g.name)' does not exist")
            }
            gid = found
        }
        if getuid() != 0 {
            // Not root: no switch is possible (nor needed); say so if one was asked for.
            if (g.user != nil && user.uid != getuid()) || (g.group != nil && gid != getgid()) {
                Log.server(
                    APLOG_WARNING, .daemonIdentity,
                    "Daemon process group '\(g.name)' runs as uid=\(getuid()): Apache is not running as root, so user=/group= cannot be applied."
                )
            }
            return lookupUser("#\(getuid())") ?? user
        }
        if user.uid == 0 || user.uid == uid_t.max {
            throw DaemonStartError(
                "daemon process group '\(g.name)' would run as root (or as no user): set Apache's User/Group, or user= and group= on WSGIDaemonProcess"
            )
        }
        try syscall("setgid(\(gid))") { setgid(gid) }
        if initgroups(user.name, gid) != 0 {
            var one = gid
            _ = setgroups(1, &one)
        }
        if !g.supplementaryGroups.isEmpty {
            var list = [gid_t](repeating: 0, count: 256)
            var n = Int(getgroups(Int32(list.count), &list))
            if n < 0 { n = 0 }
            list = Array(list[0..<n])
            for name in g.supplementaryGroups {
                guard let extra = lookupGroup(name) else {
                    throw DaemonStartError(
                        "supplementary group '\(name)' of daemon process group '\(g.name)' does not exist")
                }
                list.append(extra)
            }
            try syscall("setgroups") { setgroups(list.count, list) }
        }
        try syscall("setuid(\(user.uid))") { setuid(user.uid) }
        if geteuid() == 0 || getuid() == 0 {
            throw DaemonStartError(
                "daemon process group '\(g.name)' is still root after switching user: refusing to run")
        }
        if user.gid == gid_t.max { user = User(name: user.name, uid: user.uid, gid: gid, home: user.home) }
        return user
    }
}

struct DaemonStartError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
