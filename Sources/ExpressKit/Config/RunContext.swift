#if canImport(Glibc)
import Glibc
#endif

/// What the process runs in: the environment and identity, injectable for tests.
public struct RunContext {
    public var environment: [String: String]
    public var cwd: String
    public var uid: uid_t
    public var gid: gid_t
    public var executable: String?
    public var argv: [String]
    /// Whether Apache, started by this user, could open /dev/stdout or /dev/stderr again
    /// (--log-to-terminal); tests fix the answer.
    public var canReopen: (String) -> Bool = LogSettings.canReopen

    public init(
        environment: [String: String], cwd: String, uid: uid_t, gid: gid_t,
        executable: String?, argv: [String]
    ) {
        self.environment = environment
        self.cwd = cwd
        self.uid = uid
        self.gid = gid
        self.executable = executable
        self.argv = argv
    }

    public static func current(argv: [String]) -> RunContext {
        var env: [String: String] = [:]
        var p = environ
        while let e = p.pointee {
            let s = String(cString: e)
            if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return RunContext(
            environment: env, cwd: Sys.cwd(), uid: getuid(), gid: getgid(),
            executable: Sys.executablePath(), argv: argv)
    }
}
