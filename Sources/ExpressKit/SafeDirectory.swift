import SystemCalls

// The server root holds files that root later runs (apachectl), sources (envvars) or hands to
// Apache as its configuration (httpd.conf). A directory another user made, or can write to, lets
// that user swap those files — a local root exploit when the default root sits in /tmp. So the
// server root is opened without following symbolic links, checked, and everything in it is made
// through the directory's file descriptor, never by path.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a directory or file cannot be trusted; the text says what to do.
enum UnsafePath {
    static func ownerName(_ uid: uid_t) -> String { Users.userName(uid).map { "'\($0)'" } ?? "uid \(uid)" }

    static func symlink(_ p: String) -> ExpressError {
        .unsafePath(
            path: p,
            problem: "it is a symbolic link, which could lead anywhere; remove the link or use the real directory")
    }
    static func notDirectory(_ p: String) -> ExpressError {
        .unsafePath(path: p, problem: "it exists and is not a directory; remove it or choose another --server-root")
    }
    static func foreignOwner(_ p: String, owner: uid_t, me: uid_t) -> ExpressError {
        .unsafePath(
            path: p,
            problem:
                "it belongs to user \(ownerName(owner)), not to \(ownerName(me)) running this command; remove it or choose another --server-root"
        )
    }
    static func writableByOthers(_ p: String, mode: mode_t) -> ExpressError {
        .unsafePath(
            path: p,
            problem:
                "mode 0\(String(mode & 0o7777, radix: 8)) lets group or others write to it; run chmod go-w on it or choose another --server-root"
        )
    }
    static func ancestor(_ p: String, owner: uid_t, mode: mode_t) -> ExpressError {
        .unsafePath(
            path: p,
            problem:
                "this parent of the server root (owner \(ownerName(owner)), mode 0\(String(mode & 0o7777, radix: 8))) lets another user replace what is below it; choose a --server-root under a directory owned by you or root and not writable by others (or sticky, like /tmp)"
        )
    }
    static func notRegular(_ p: String) -> ExpressError {
        .unsafePath(
            path: p, problem: "it is not a regular file (a symbolic link?); remove it and run the command again")
    }
}

/// A directory held open by file descriptor, known to belong to the invoking user (or to one of
/// `owners`) and to be writable by no one else.
final class SafeDirectory {
    let fd: Int32
    let path: String
    let me: uid_t

    private init(fd: Int32, path: String, me: uid_t) {
        self.fd = fd
        self.path = path
        self.me = me
    }

    deinit { close(fd) }

    /// Opens `path`, creating it (0700, then `mode` once it is known to be ours) when missing.
    /// Refuses a symbolic link, a directory of another user or one writable by group/others, and
    /// a path whose parents let another user rename or replace it.
    static func open(_ path: String, mode: mode_t = 0o755, me: uid_t = geteuid()) throws -> SafeDirectory {
        try checkParents(of: path, me: me)
        let created = mkdir(path, 0o700) == 0
        if !created && errno != EEXIST { throw ExpressError.io(SystemError("mkdir", errno: errno, subject: path)) }
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw failure(opening: path, errno: errno, at: AT_FDCWD, name: path) }
        let dir = SafeDirectory(fd: fd, path: path, me: me)
        try dir.verify(owners: [me], created: created, mode: mode)
        return dir
    }

    /// A sub-directory `name`, made like the root; `owners` are the users it may belong to
    /// (python-eggs is handed to Apache's user).
    func subdirectory(_ name: String, mode: mode_t = 0o755, owners: [uid_t] = []) throws -> SafeDirectory {
        let full = Path.join(path, name)
        let created = mkdirat(fd, name, 0o700) == 0
        if !created && errno != EEXIST { throw ExpressError.io(SystemError("mkdir", errno: errno, subject: full)) }
        let sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard sub >= 0 else { throw SafeDirectory.failure(opening: full, errno: errno, at: fd, name: name) }
        let dir = SafeDirectory(fd: sub, path: full, me: me)
        try dir.verify(owners: [me] + owners, created: created, mode: mode)
        return dir
    }

    /// Hands the directory to another account (without following links: it is our descriptor).
    func chown(uid: uid_t, gid: gid_t) throws {
        if fchown(fd, uid, gid) != 0 { throw ExpressError.io(SystemError("chown", errno: errno, subject: path)) }
    }

    /// Writes `name` whole: into a new file (O_EXCL, O_NOFOLLOW) renamed over the old one, so a
    /// link planted under that name is replaced, never followed.
    func write(_ name: String, _ text: String, mode: mode_t = 0o644) throws {
        let full = Path.join(path, name)
        let temporary = ".\(name).\(getpid()).tmp"
        _ = unlinkat(fd, temporary, 0)
        let file = openat(fd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard file >= 0 else { throw ExpressError.io(SystemError("open", errno: errno, subject: full)) }
        do {
            defer { close(file) }
            try writeAll(file, text.utf8, subject: full)
            _ = try syscall("fchmod", full) { fchmod(file, mode) }
            _ = try syscall("rename", full) { renameat(fd, temporary, fd, name) }
        } catch {
            _ = unlinkat(fd, temporary, 0)
            throw ExpressError.io(error)
        }
    }

    /// A log file `name` another account appends to (a --service-log-file): kept when it is
    /// already there, made otherwise, and handed to `owner`. Opened without following a link
    /// (and without blocking on a FIFO); anything but a regular file is refused.
    func logFile(_ name: String, owner: (uid: uid_t, gid: gid_t)?) throws {
        let full = Path.join(path, name)
        let file = openat(fd, name, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        guard file >= 0 else {
            if errno == ELOOP { throw UnsafePath.notRegular(full) }
            throw ExpressError.io(SystemError("open", errno: errno, subject: full))
        }
        defer { close(file) }
        var st = stat()
        if fstat(file, &st) != 0 { throw ExpressError.io(SystemError("stat", errno: errno, subject: full)) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw UnsafePath.notRegular(full) }
        if let owner, fchown(file, owner.uid, owner.gid) != 0 {
            throw ExpressError.io(SystemError("chown", errno: errno, subject: full))
        }
    }

    /// Whether the user's own file `name` (envvars, rewrite.conf) is there to be kept. Anything but
    /// a regular file of ours that only we can write is refused: root would source or include it.
    func hasOwnFile(_ name: String) throws -> Bool {
        var st = stat()
        if fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 {
            if errno == ENOENT { return false }
            throw ExpressError.io(SystemError("stat", errno: errno, subject: Path.join(path, name)))
        }
        let full = Path.join(path, name)
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw UnsafePath.notRegular(full) }
        if st.st_uid != me { throw UnsafePath.foreignOwner(full, owner: st.st_uid, me: me) }
        if st.st_mode & 0o022 != 0 { throw UnsafePath.writableByOthers(full, mode: st.st_mode) }
        return true
    }

    private func verify(owners: [uid_t], created: Bool, mode: mode_t) throws {
        var st = stat()
        if fstat(fd, &st) != 0 { throw ExpressError.io(SystemError("stat", errno: errno, subject: path)) }
        if !owners.contains(st.st_uid) { throw UnsafePath.foreignOwner(path, owner: st.st_uid, me: me) }
        if st.st_mode & 0o022 != 0 { throw UnsafePath.writableByOthers(path, mode: st.st_mode) }
        // The umask must not make it unreadable to Apache's user: chmod once it is known to be ours.
        if created, fchmod(fd, mode) != 0 { throw ExpressError.io(SystemError("chmod", errno: errno, subject: path)) }
    }

    private static func failure(opening path: String, errno e: Int32, at dirfd: Int32, name: String) -> ExpressError {
        var st = stat()
        if e == ELOOP || e == ENOTDIR, fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 {
            return (st.st_mode & S_IFMT) == S_IFLNK ? UnsafePath.symlink(path) : UnsafePath.notDirectory(path)
        }
        return .io(SystemError("open", errno: e, subject: path))
    }

    /// Every parent must belong to root or to us, and be writable by no one else unless sticky.
    private static func checkParents(of path: String, me: uid_t) throws {
        var prefixes = ["/"]
        var prefix = ""
        for c in Path.dirname(path).split(separator: "/") {
            prefix += "/" + c
            prefixes.append(prefix)
        }
        for prefix in prefixes {
            guard let st = Sys.stat(prefix) else { return }  // missing: reported by the caller
            let othersWrite = st.st_mode & 0o022 != 0 && st.st_mode & mode_t(S_ISVTX) == 0
            if (st.st_uid != 0 && st.st_uid != me) || othersWrite {
                throw UnsafePath.ancestor(prefix, owner: st.st_uid, mode: st.st_mode)
            }
        }
    }
}
