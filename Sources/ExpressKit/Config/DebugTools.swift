/// The debug-mode tools: --enable-debugger (+ --debugger-startup), --enable-coverage,
/// --enable-profiler, --enable-recorder (each + its directory) and --enable-gdb
/// (+ --gdb-executable). Any of them implies --debug-mode, as in mod_wsgi-express 4.9.
public struct DebugTools: Equatable {
    public var debugger = false
    /// --debugger-startup: pdb once the application is loaded, to set breakpoints.
    public var debuggerStartup = false
    public var coverageDirectory: String?
    public var profilerDirectory: String?
    public var recorderDirectory: String?
    /// --enable-gdb: the gdb that runs Apache.
    public var gdb: String?

    public var any: Bool {
        debugger || coverageDirectory != nil || profilerDirectory != nil || recorderDirectory != nil || gdb != nil
    }
    /// Directories the application's process writes to (created, owned by the run account).
    public var outputDirectories: [String] {
        [coverageDirectory, profilerDirectory, recorderDirectory].compactMap { $0 }
    }
    /// The Python helpers (templates/debug_tools.py) are needed.
    public var needsHelpers: Bool { !outputDirectories.isEmpty }
}

extension DebugTools {
    static func resolve(_ o: ServerOptions, serverRoot: String, environment: [String: String], cwd: String) throws
        -> DebugTools
    {
        func dir(_ given: String?, _ name: String) -> String {
            given.map { Path.absolute($0, cwd: cwd) } ?? Path.join(serverRoot, name)
        }
        var t = DebugTools()
        t.debugger = o.enableDebugger || o.debuggerStartup
        t.debuggerStartup = o.debuggerStartup
        if o.enableCoverage { t.coverageDirectory = dir(o.coverageDirectory, "htmlcov") }
        if o.enableProfiler { t.profilerDirectory = dir(o.profilerDirectory, "pstats") }
        if o.enableRecorder { t.recorderDirectory = dir(o.recorderDirectory, "archive") }
        for (option, given, flag, enabled) in [
            ("--coverage-directory", o.coverageDirectory, "--enable-coverage", o.enableCoverage),
            ("--profiler-directory", o.profilerDirectory, "--enable-profiler", o.enableProfiler),
            ("--recorder-directory", o.recorderDirectory, "--enable-recorder", o.enableRecorder),
        ] where given != nil {
            if !enabled {
                throw ExpressError.badOption("\(option) has no effect without \(flag): give both, or leave it out")
            }
        }
        if o.gdbExecutable != nil && !o.enableGdb {
            throw ExpressError.badOption(
                "--gdb-executable has no effect without --enable-gdb: give both, or leave it out")
        }
        if o.enableGdb {
            let name = o.gdbExecutable ?? "gdb"
            guard let gdb = findExecutable(name, environment: environment, cwd: cwd) else {
                throw ExpressError.badOption(
                    "--enable-gdb: '\(name)' not found\(name.contains("/") ? "" : " on PATH"): install the Debian package gdb or pass --gdb-executable"
                )
            }
            t.gdb = gdb
        }
        return t
    }

    static func findExecutable(_ name: String, environment: [String: String], cwd: String) -> String? {
        if name.contains("/") {
            let p = Path.absolute(name, cwd: cwd)
            return Sys.isExecutable(p) ? p : nil
        }
        return ApacheInstall.searchPath(name, environment)
    }
}
