// mod_wsgi-express check: what start-server would do, without starting anything. Resolves
// the same options, renders the configuration into a temporary server root, runs Apache's
// own configuration test on it, and checks what usually goes wrong; one line per problem
// with its fix. Exit status 0 only when start-server would start.
import ArgumentParser
import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

public struct Check: ParsableCommand, ServerCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "check",
        abstract:
            "Check that start-server would start with these options: configuration test, permissions, port, socket path, locale.",
        usage: "mod_wsgi-express check [script] [options]")

    @OptionGroup public var arguments: ServerArguments

    init(options: ServerOptions) {
        self.init()
        arguments = ServerArguments(options: options)
    }

    public func run() throws { var c = self; try c.execute(context: RunContext.current(argv: CommandLine.arguments)) }

    mutating func execute(context: RunContext) throws {
        let problems = ServerCheck.problems(arguments.options, context: context)
        if problems.isEmpty {
            Output.out("mod_wsgi-express check: ok: start-server would start with these options\n")
            return
        }
        for p in problems { Output.err("mod_wsgi-express check: \(p)\n") }
        Glibc.exit(1)
    }
}

enum ServerCheck {
    /// Longest UNIX socket path (sun_path less its terminating NUL).
    static let maximumSocketPath = 107

    static func problems(_ options: ServerOptions, context: RunContext) -> [String] {
        // The configuration itself: options, Apache, the module, the Python home and its version.
        let config: ResolvedConfig
        do {
            config = try ResolvedConfig.resolve(options, command: "check", context: context)
        } catch {
            return ["\(error)"]
        }
        var problems: [String] = []
        func attempt(_ body: () throws -> Void) {
            do { try body() } catch  where !problems.contains("\(error)") { problems.append("\(error)") } catch {}
        }
        attempt { try Preflight.checkReadable(config, context: context) }
        attempt { try Preflight.checkPort(config) }

        // The daemon processes' socket: <prefix>.<pid>.u<uid>.<n>.sock must fit in sun_path.
        if !config.embeddedMode && !config.debugMode {
            let sample =
                "\(config.daemon.socketPrefix).4194304.u\(config.account.uid).\(1 + config.serviceScripts.count).sock"
            if sample.utf8.count > maximumSocketPath {
                problems.append(
                    "the daemon socket path '\(sample)' is \(sample.utf8.count) bytes, more than the \(maximumSocketPath) a UNIX socket path can hold: pass a shorter --socket-path (or --server-root)"
                )
            }
        }

        // A UTF-8 locale that is installed (else Python's file system encoding is ASCII).
        let locale = config.locale
        let lower = locale.lowercased()
        if !(lower.hasSuffix(".utf-8") || lower.hasSuffix(".utf8")) {
            problems.append(
                "locale '\(locale)' is not UTF-8: Python would read and write file names as ASCII; pass --locale C.UTF-8 (or another UTF-8 locale)"
            )
        } else if let l = newlocale(Int32(1) << LC_CTYPE, locale, nil) {
            freelocale(l)
        } else {
            problems.append(
                "locale '\(locale)' is not installed: pass --locale C.UTF-8, or generate it (dpkg-reconfigure locales)")
        }

        // Apache's own configuration test, on the configuration rendered into a temporary root.
        attempt { try configTest(options, context: context) }
        return problems
    }

    static func configTest(_ options: ServerOptions, context: RunContext) throws {
        var template = Array("/tmp/mod_wsgi-check-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ExpressError.badOption(
                "cannot create a temporary directory in /tmp: \(String(cString: strerror(errno)))")
        }
        let root = String(cString: made)
        defer { _ = removeTree(root) }
        chmod(root, 0o755)
        var o = options
        o.serverRoot = Path.join(root, "root")
        o.setupOnly = true
        let config = try ResolvedConfig.resolve(o, command: "check", context: context)
        _ = try ServerRoot.write(config, context: context)
        let (status, output) = try Capture.run([Path.join(config.serverRoot, "apachectl"), "configtest"])
        if status != 0 {
            let lines = output.split(separator: "\n").map(String.init).filter { !$0.isEmpty && $0 != "Syntax OK" }
            let detail =
                lines.first(where: { $0.contains("Syntax error") || $0.contains("Invalid") || $0.contains("Cannot") })
                ?? lines.last ?? "status \(status)"
            throw ExpressError.badOption(
                "Apache's configuration test fails: \(lines.count > 1 && detail.contains("Syntax error") ? detail + " " + lines[lines.count - 1] : detail)"
            )
        }
    }

    static func removeTree(_ path: String) -> Bool {
        let (status, _) = (try? Capture.run(["/bin/rm", "-rf", "--", path])) ?? (1, "")
        return status == 0
    }
}

/// Runs a command and captures its standard output and error together.
enum Capture {
    static func run(_ argv: [String]) throws -> (Int32, String) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ExpressError.io(SystemError("pipe", errno: errno, subject: argv[0])) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var cargs = argv.map { strdup($0) }
        cargs.append(nil)
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cargs, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw ExpressError.io(SystemError("posix_spawn", errno: rc, subject: argv[0]))
        }
        let out = (try? readAll(fds[0], subject: argv[0])) ?? []
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, String(decoding: out, as: UTF8.self))
    }
}
