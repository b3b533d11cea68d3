import SystemCalls

// Thin, typed wrappers over the POSIX calls the CLI needs. Glibc rather than Foundation:
// exact errno, no hidden threads, and nothing that slows start-up.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

private func statPath(_ path: String) -> stat? {
    var st = stat()
    return stat(path, &st) == 0 ? st : nil
}

/// Unbuffered output straight to a file descriptor (no stdio globals, no flushing order issues).
enum Output {
    static func write(_ fd: Int32, _ s: String) {
        try? writeAll(fd, s.utf8)
    }
    static func out(_ s: String) { write(1, s) }
    static func err(_ s: String) { write(2, s) }
}

enum Sys {
    static func getenv(_ name: String) -> String? {
        guard let p = Glibc.getenv(name) else { return nil }
        return String(cString: p)
    }

    static func stat(_ path: String) -> stat? { statPath(path) }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func isDirectory(_ path: String) -> Bool {
        guard let st = stat(path) else { return false }
        return (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func isFile(_ path: String) -> Bool {
        guard let st = stat(path) else { return false }
        return (st.st_mode & S_IFMT) == S_IFREG
    }

    static func isExecutable(_ path: String) -> Bool { isFile(path) && access(path, X_OK) == 0 }

    static func cwd() -> String {
        if let p = Glibc.getenv("PWD"), let s = stat(String(cString: p)), let d = stat("."),
            s.st_ino == d.st_ino, s.st_dev == d.st_dev
        {
            return String(cString: p)
        }
        guard let p = getcwd(nil, 0) else { return "/" }
        defer { free(p) }
        return String(cString: p)
    }

    static func realpath(_ path: String) -> String? {
        guard let p = Glibc.realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    static func readLink(_ path: String) -> String? {
        var buf = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = buf.withUnsafeMutableBytes { readlink(path, $0.baseAddress!, $0.count - 1) }
        guard n > 0 else { return nil }
        return String(decoding: buf[..<n], as: UTF8.self)
    }

    /// The absolute path of the running executable, symlinks resolved.
    static func executablePath() -> String? { readLink("/proc/self/exe") }

    /// The file's bytes (at most `limit`).
    static func readFile(_ path: String, limit: Int = Int.max) -> [UInt8]? {
        SystemCalls.readFile(path, limit: limit)
    }

    static func readText(_ path: String) -> String? {
        guard let b = readFile(path) else { return nil }
        return String(decoding: b, as: UTF8.self)
    }

    /// Writes a whole file (truncating), with the given mode.
    static func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
        let fd = try syscall("open", path) { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        defer { close(fd) }
        try writeAll(fd, text.utf8, subject: path)
        _ = try syscall("fchmod", path) { fchmod(fd, mode) }
    }

    /// mkdir that accepts an existing directory.
    static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        // chmod too: the umask must not make the server root unreadable to Apache's user.
        if mkdir(path, mode) == 0 { _ = chmod(path, mode); return }
        let e = errno
        if e == EEXIST && isDirectory(path) { return }
        throw SystemError("mkdir", errno: e, subject: path)
    }

    static func chown(_ path: String, uid: uid_t, gid: gid_t) throws(SystemError) {
        _ = try syscall("chown", path) { Glibc.chown(path, uid, gid) }
    }
}

// MARK: - paths

enum Path {
    static func join(_ a: String, _ b: String) -> String {
        if b.hasPrefix("/") { return b }
        if a.hasSuffix("/") { return a + b }
        return a + "/" + b
    }

    /// Like Python's posixpath.normpath.
    static func normalize(_ path: String) -> String {
        guard !path.isEmpty else { return "." }
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for c in path.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." {
                if let last = parts.last, last != ".." { parts.removeLast(); continue }
                if absolute { continue }
            }
            parts.append(c)
        }
        let body = parts.joined(separator: "/")
        if absolute { return "/" + body }
        return body.isEmpty ? "." : body
    }

    static func absolute(_ path: String, cwd: String) -> String {
        normalize(path.hasPrefix("/") ? path : join(cwd, path))
    }

    static func dirname(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "." }
        if i == path.startIndex { return "/" }
        return String(path[..<i])
    }

    static func basename(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: i)...])
    }
}

// MARK: - users and groups

public struct Account: Equatable {
    public var user: String
    public var uid: uid_t
    public var group: String
    public var gid: gid_t
}

enum Users {
    static func user(named name: String) -> (uid: uid_t, gid: gid_t)? {
        if name.hasPrefix("#"), let n = UInt32(name.dropFirst()) { return (n, getpwuid(n)?.pointee.pw_gid ?? n) }
        guard let p = getpwnam(name) else { return nil }
        return (p.pointee.pw_uid, p.pointee.pw_gid)
    }

    static func group(named name: String) -> gid_t? {
        if name.hasPrefix("#"), let n = UInt32(name.dropFirst()) { return n }
        return getgrnam(name)?.pointee.gr_gid
    }

    static func userName(_ uid: uid_t) -> String? {
        guard let p = getpwuid(uid) else { return nil }
        return String(cString: p.pointee.pw_name)
    }

    static func groupName(_ gid: gid_t) -> String? {
        guard let g = getgrgid(gid) else { return nil }
        return String(cString: g.pointee.gr_name)
    }

    /// All groups of a user: its primary group and the supplementary ones.
    static func groups(of user: String, primary: gid_t) -> [gid_t] {
        var n: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(n))
        if getgrouplist(user, primary, &list, &n) == -1 {
            list = [gid_t](repeating: 0, count: Int(n))
            _ = getgrouplist(user, primary, &list, &n)
        }
        return Array(list.prefix(Int(max(n, 0))))
    }
}

// MARK: - access checks for another user

enum AccessCheck {
    /// Whether `uid` (member of `gids`) has all of `want` (bits of 4=read, 2=write, 1=search/exec)
    /// on `path`, judging by the mode bits (what Apache's user will meet).
    static func allows(_ st: stat, uid: uid_t, gids: [gid_t], want: mode_t) -> Bool {
        if uid == 0 { return true }
        let mode = st.st_mode
        let bits: mode_t
        if st.st_uid == uid {
            bits = (mode >> 6) & 7
        } else if gids.contains(st.st_gid) {
            bits = (mode >> 3) & 7
        } else {
            bits = mode & 7
        }
        return bits & want == want
    }

    /// The first path (an ancestor directory, or the path itself) that `account` cannot reach
    /// or read, with what is missing; nil when everything is accessible.
    static func firstBlocked(_ path: String, account: Account, gids: [gid_t], isDirectory: Bool)
        -> (path: String, mode: mode_t)?
    {
        var prefix = ""
        let comps = path.split(separator: "/").map(String.init)
        for (i, c) in comps.enumerated() {
            prefix += "/" + c
            guard let st = Sys.stat(prefix) else { return nil }  // missing: reported elsewhere
            let last = i == comps.count - 1
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR
            let want: mode_t = last ? (isDir ? 5 : 4) : 1
            if !allows(st, uid: account.uid, gids: gids, want: want) {
                return (prefix, st.st_mode & 0o7777)
            }
        }
        return nil
    }
}
