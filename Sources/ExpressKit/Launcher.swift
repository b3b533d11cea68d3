import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// Runs Apache (through the generated apachectl, which sources envvars and execs httpd).
///
/// - On a terminal or with --isatty (and not in debug mode) httpd runs as a child in its own process group,
///   so the terminal's signals reach only us: SIGINT, SIGTERM, SIGHUP and SIGUSR1 are
///   forwarded, SIGWINCH (which Apache takes as graceful-stop) is ignored so resizing the
///   window never stops the server, and we exit with httpd's status.
/// - Otherwise (a service manager, a pipe, --debug-mode) we exec: our pid becomes httpd's,
///   and in debug mode stdin stays attached for pdb.
public enum Launcher {
    static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGUSR1]

    public static func run(_ c: ResolvedConfig) throws -> Never {
        let argv = [Path.join(c.serverRoot, "apachectl"), "start", "-DFOREGROUND"]
        if (c.assumeTerminal || isatty(STDOUT_FILENO) == 1) && !c.debugMode {
            // The error log is a file of its own (not the terminal, not piped to rotatelogs):
            // tell the user on the terminal when the application fails to load.
            let watch = c.logToTerminal || c.rotateLogs ? nil : LoadFailureWatch(path: c.errorLogFile)
            let status = try supervise(argv, watch: watch)
            exit(status)
        }
        try execute(argv)
    }

    /// execv, returning only by throwing.
    static func execute(_ argv: [String]) throws -> Never {
        var cargs = argv.map { strdup($0) }
        cargs.append(nil)
        execv(argv[0], cargs)
        let e = errno
        throw ExpressError.io(SystemError("exec", errno: e, subject: argv[0]))
    }

    /// Spawns argv in a new process group, forwards signals to it, waits for it, and
    /// returns the exit status to pass on (128+N when it was killed by signal N).
    static func supervise(_ argv: [String], watch: LoadFailureWatch? = nil) throws -> Int32 {
        // Block the signals until the handlers know the child's pid.
        var block = sigset_t()
        sigemptyset(&block)
        for s in forwarded + [SIGWINCH] { sigaddset(&block, s) }
        var old = sigset_t()
        sigprocmask(SIG_BLOCK, &block, &old)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setpgroup(&attr, 0)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in forwarded + [SIGWINCH, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var cargs = argv.map { strdup($0) }
        cargs.append(nil)
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], nil, &attr, cargs, environ)
        guard rc == 0 else {
            sigprocmask(SIG_SETMASK, &old, nil)
            throw ExpressError.io(SystemError("posix_spawn", errno: rc, subject: argv[0]))
        }

        Child.pid = pid
        for s in forwarded { signal(s, forwardSignal) }
        signal(SIGWINCH, SIG_IGN)
        sigprocmask(SIG_SETMASK, &old, nil)

        var status: Int32 = 0
        var watch = watch
        while true {
            // While watching the error log, look at it five times a second.
            let flags = watch == nil ? 0 : WNOHANG
            let exited = try syscall("waitpid") { waitpid(pid, &status, flags) }
            if exited == pid { break }
            if let lines = watch?.poll() {
                Output.err(LoadFailureWatch.report(lines, log: watch!.path))
            }
            if watch?.done == true { watch = nil } else { usleep(200_000) }
        }
        Child.pid = 0
        return exitStatus(status)
    }

    /// The shell's convention: the exit code, or 128 + the signal that killed it.
    static func exitStatus(_ status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}

enum Child {
    nonisolated(unsafe) static var pid: pid_t = 0
}

/// Async-signal-safe: reads one integer and calls kill(2).
private let forwardSignal: @convention(c) (Int32) -> Void = { sig in
    let p = Child.pid
    if p > 0 { kill(p, sig) }
}
