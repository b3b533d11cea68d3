import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// The options shared by start-server and setup-server (mod_wsgi-express's option_list).
public struct ServerArguments: ParsableArguments {
    public init() {}

    @Argument(help: ArgumentHelp(
        "The WSGI script file; a module name with --application-type module, or a directory with --application-type static. Without it, a welcome page is served.",
        valueName: "script"))
    public var script: String?

    @OptionGroup(title: "Application") public var app: ApplicationOptions
    @OptionGroup(title: "Server") public var server: ServerOptions
    @OptionGroup(title: "Processes") public var processes: ProcessOptions
    @OptionGroup(title: "Logging") public var logging: LoggingOptions
    @OptionGroup(title: "Apache") public var apache: ApacheOptions
    @OptionGroup(title: "Debugging") public var debug: DebugOptions

    /// The same parse as swift-argument-parser's for the common case, without its cost:
    /// ArgumentParser reflects over all 144 options several times (6 ms, a third of
    /// setup-server's budget). Only plain `--name value`/`--name=value`/flags/positional
    /// forms are taken; anything else (help, `--`, short options, unknown names, malformed
    /// numbers, values that look like options) returns nil so ArgumentParser parses it and
    /// reports errors its usual way. The tests check both parsers agree.
    public static func fastParse(_ args: [String]) -> ServerArguments? {
        var script: String?
        var app = ApplicationOptions(), server = ServerOptions(), processes = ProcessOptions()
        var logging = LoggingOptions(), apache = ApacheOptions(), debug = DebugOptions()
        app.fastReset()
        server.fastReset()
        processes.fastReset()
        logging.fastReset()
        apache.fastReset()
        debug.fastReset()
        let kinds = OptionTable.kinds
        var i = 0
        while i < args.count {
            let arg = args[i]
            i += 1
            guard arg.hasPrefix("-") else {
                if script != nil { return nil }
                script = arg
                continue
            }
            guard arg.hasPrefix("--"), arg.count > 2 else { return nil }
            var name = arg
            var value: String?
            if let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                value = String(arg[arg.index(after: eq)...])
            }
            guard let kind = kinds[name] else { return nil }
            if kind == .flag {
                if value != nil { return nil }
                value = ""
            } else if value == nil {
                guard i < args.count, !args[i].hasPrefix("-") || args[i] == "-" else { return nil }
                value = args[i]
                i += 1
            }
            let v = value!
            guard app.fastSet(name, v) || server.fastSet(name, v) || processes.fastSet(name, v)
                || logging.fastSet(name, v) || apache.fastSet(name, v) || debug.fastSet(name, v)
            else { return nil }
        }
        var a = ServerArguments()
        a.script = script
        a.app = app
        a.server = server
        a.processes = processes
        a.logging = logging
        a.apache = apache
        a.debug = debug
        return a
    }

    /// Every option given on the command line.
    public var given: [String] {
        app.given + server.given + processes.given + logging.given + apache.given + debug.given
    }
}

public struct Express: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "mod_wsgi-express",
        abstract: "Run a Python WSGI application with Apache and mod_wsgi, configured from the command line.",
        discussion: "A drop-in for mod_wsgi-express \(Features.version): same commands, options and generated server root.",
        version: Features.version,
        subcommands: [StartServer.self, SetupServer.self, ModuleConfig.self, ModuleLocation.self, InstallModule.self])

    /// Parses and runs a command line; prints errors on one line. Never returns.
    public static func run(arguments: [String]) -> Never {
        if arguments.isEmpty {
            printError("no command given: use start-server, setup-server, module-config, module-location or install-module (see 'mod_wsgi-express --help')")
            Glibc.exit(2)
        }
        let ctx = RunContext.current(argv: ["mod_wsgi-express"] + arguments)
        let args: [String]
        do {
            args = try Argv.normalize(arguments, environment: ctx.environment)
        } catch {
            fail(error)
        }
        var command: ParsableCommand
        do {
            if args.first == "setup-server", let fast = ServerArguments.fastParse(Array(args.dropFirst())) {
                var c = SetupServer()
                c.options = fast
                command = c
            } else if args.first == "start-server", let fast = ServerArguments.fastParse(Array(args.dropFirst())) {
                var c = StartServer()
                c.options = fast
                command = c
            } else {
                command = try parseAsRoot(args)
            }
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) } // --help, --version
            let text = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            let sub = args.first.map { ["start-server", "setup-server", "module-config", "module-location", "install-module"].contains($0) ? " \($0)" : "" } ?? ""
            printError("\(text) (see 'mod_wsgi-express\(sub) --help')")
            Glibc.exit(2)
        }
        do {
            if var server = command as? ServerCommand {
                try server.execute(context: ctx)
            } else {
                try command.run()
            }
            Glibc.exit(0)
        } catch {
            fail(error)
        }
    }

    static func fail(_ error: Error) -> Never {
        if let e = error as? ExpressError {
            printError(e.description)
        } else if let e = error as? SystemError {
            printError(e.description)
        } else if exitCode(for: error) == .success {
            exit(withError: error)
        } else {
            printError(message(for: error))
        }
        Glibc.exit(1)
    }
}

func printError(_ s: String) {
    Output.err("mod_wsgi-express: error: \(s)\n")
}

protocol ServerCommand {
    mutating func execute(context: RunContext) throws
}

public struct StartServer: ParsableCommand, ServerCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "start-server",
        abstract: "Set up the server root, then run Apache in the foreground serving the application.",
        usage: "mod_wsgi-express start-server [script] [options]")

    @OptionGroup public var options: ServerArguments

    public func run() throws { var c = self; try c.execute(context: RunContext.current(argv: CommandLine.arguments)) }

    mutating func execute(context: RunContext) throws {
        let config = try ServerConfig.resolve(options, command: "start-server", context: context)
        if !config.setupOnly {
            try Preflight.checkPort(config)
        }
        let setup = try ServerRoot.write(config, context: context)
        Banner.print(config, setup: setup)
        if config.setupOnly { return }
        try Launcher.run(config)
    }
}

public struct SetupServer: ParsableCommand, ServerCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "setup-server",
        abstract: "Write the server root (httpd.conf, apachectl, handler.wsgi ...) to start later with its apachectl.",
        usage: "mod_wsgi-express setup-server [script] [options]")

    @OptionGroup public var options: ServerArguments

    public func run() throws { var c = self; try c.execute(context: RunContext.current(argv: CommandLine.arguments)) }

    mutating func execute(context: RunContext) throws {
        let config = try ServerConfig.resolve(options, command: "setup-server", context: context)
        let setup = try ServerRoot.write(config, context: context)
        Banner.print(config, setup: setup)
    }
}

public struct ModuleConfig: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "module-config",
        abstract: "Print the LoadModule and WSGIPythonHome lines that load this module into a system Apache.")

    @Option(help: ArgumentHelp("The Python installation or virtualenv to use. Defaults to $VIRTUAL_ENV when set, else the Python the module was built for.", valueName: "DIRECTORY-PATH"))
    var pythonHome: String?

    public func run() throws {
        let ctx = RunContext.current(argv: CommandLine.arguments)
        let module = try ModuleInfo.locate(environment: ctx.environment, executable: ctx.executable)
        let home = try PythonHome.resolve(option: pythonHome, environment: ctx.environment, module: module, cwd: ctx.cwd)
        Output.out("LoadModule wsgi_module \"\(module.path)\"\n")
        Output.out("WSGIPythonHome \"\(home)\"\n")
    }
}

public struct ModuleLocation: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "module-location",
        abstract: "Print the absolute path of the mod_wsgi Apache module (libmod_wsgi.so).")

    public func run() throws {
        let ctx = RunContext.current(argv: CommandLine.arguments)
        let module = try ModuleInfo.locate(environment: ctx.environment, executable: ctx.executable)
        Output.out((Sys.realpath(module.path) ?? module.path) + "\n")
    }
}

public struct InstallModule: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "install-module",
        abstract: "Copy the module into Apache's modules directory and print the lines that load it.")

    @Option(help: ArgumentHelp("Apache's modules directory. Defaults to what apxs reports (Debian: /usr/lib/apache2/modules).", valueName: "DIRECTORY"))
    var modulesDirectory: String?

    @Option(help: ArgumentHelp("The Python installation or virtualenv to use. Defaults to $VIRTUAL_ENV when set, else the Python the module was built for.", valueName: "DIRECTORY-PATH"))
    var pythonHome: String?

    public func run() throws {
        let ctx = RunContext.current(argv: CommandLine.arguments)
        let module = try ModuleInfo.locate(environment: ctx.environment, executable: ctx.executable)
        let dir: String
        if let d = modulesDirectory {
            dir = Path.absolute(d, cwd: ctx.cwd)
        } else {
            guard let apxs = ApxsConfig.find(environment: ctx.environment) else { throw ExpressError.apxsNotFound }
            guard let d = apxs.libexecdir, Sys.isDirectory(d) else { throw ExpressError.modulesDirectoryNotFound }
            dir = d
        }
        let home = try PythonHome.resolve(option: pythonHome, environment: ctx.environment, module: module, cwd: ctx.cwd)
        let name = module.pythonVersion.map { "mod_wsgi-py\($0.replacingAll(".", with: "")).so" } ?? "mod_wsgi-express.so"
        let target = Path.join(dir, name)
        guard let bytes = Sys.readFile(module.path) else { throw ExpressError.moduleNotBuilt(looked: module.path) }
        try FileCopy.write(bytes, to: target)
        Output.out("LoadModule wsgi_module \"\(target)\"\n")
        Output.out("WSGIPythonHome \"\(home)\"\n")
    }
}

enum FileCopy {
    /// Writes to a temporary name then renames, so a running Apache never maps a half-written file.
    static func write(_ bytes: [UInt8], to target: String) throws {
        let tmp = target + ".tmp-\(getpid())"
        let fd = try retryingSyscall("open", tmp) { open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        var off = 0
        do {
            while off < bytes.count {
                off += try bytes.withUnsafeBytes { (p) throws(SystemError) -> Int in
                    try retryingSyscall("write", tmp) { Glibc.write(fd, p.baseAddress! + off, p.count - off) }
                }
            }
            close(fd)
            _ = try retryingSyscall("rename", target) { rename(tmp, target) }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
    }
}
