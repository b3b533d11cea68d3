#if canImport(Glibc)
import Glibc
#endif

extension ResolvedConfig {
    /// As root without --user/--group, an unprivileged account that exists (Apache refuses to
    /// run its children as root, AH00526); otherwise the current user and group.
    static func runAccount(user: String?, group: String?, ctx: RunContext) throws -> (Account, Bool) {
        var picked = false
        let userName: String
        if let u = user {
            userName = u
        } else if ctx.uid == 0 {
            guard let u = ["www-data", "nobody", "daemon"].first(where: { Users.user(named: $0) != nil }) else {
                throw ExpressError.unknownUser("www-data")
            }
            userName = u
            picked = true
        } else {
            userName = Users.userName(ctx.uid) ?? "#\(ctx.uid)"
        }
        guard let (uid, primary) = Users.user(named: userName) ?? (userName == "#\(ctx.uid)" ? (ctx.uid, ctx.gid) : nil)
        else {
            throw ExpressError.unknownUser(userName)
        }
        let groupName: String
        if let g = group {
            groupName = g
        } else if ctx.uid == 0 {
            if userName == "www-data" || user != nil {
                groupName = Users.groupName(primary) ?? "#\(primary)"
            } else {
                groupName =
                    ["nogroup", "nobody"].first { Users.group(named: $0) != nil }
                    ?? (Users.groupName(primary) ?? "#\(primary)")
            }
            picked = picked || group == nil && user == nil
        } else {
            groupName = Users.groupName(ctx.gid) ?? "#\(ctx.gid)"
        }
        guard
            let gid = Users.group(named: groupName) ?? (groupName.hasPrefix("#") ? UInt32(groupName.dropFirst()) : nil)
        else {
            throw ExpressError.unknownGroup(groupName)
        }
        return (Account(user: userName, uid: uid, group: groupName, gid: gid), picked)
    }

    /// --locale, else the process's locale; 'C'/'POSIX' becomes en_US.UTF-8 or C.UTF-8.
    static func resolveLocale(_ given: String?, env: [String: String]) -> String {
        if let g = given { return g }
        let current = [env["LC_ALL"], env["LC_CTYPE"], env["LANG"]].compactMap { $0 }.first { !$0.isEmpty } ?? "C"
        if ["C", "POSIX"].contains(current.uppercased()) {
            for candidate in ["en_US.UTF-8", "C.UTF-8"] {
                if let l = newlocale(1 << LC_CTYPE, candidate, nil) { freelocale(l); return candidate }
            }
        }
        return current
    }
}
