// start-server and setup-server: resolve the options, write the server root, run Apache.
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

protocol ServerCommand {
    init()
    var arguments: ServerArguments { get set }
    mutating func execute(context: RunContext) throws
}

extension ServerCommand {
    init(options: ServerOptions) {
        self.init()
        arguments = ServerArguments(options: options)
    }

    /// What `run()` does: execute in the context of this process.
    func runHere() throws {
        var c = self
        try c.execute(context: RunContext.current(argv: CommandLine.arguments))
    }
}

public struct StartServer: ParsableCommand, ServerCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "start-server",
        abstract: "Set up the server root, then run Apache in the foreground serving the application.",
        usage: "mod_wsgi-express start-server [script] [options]")

    @OptionGroup public var arguments: ServerArguments

    public func run() throws { try runHere() }

    mutating func execute(context: RunContext) throws {
        let config = try ResolvedConfig.resolve(arguments.options, command: "start-server", context: context)
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

    @OptionGroup public var arguments: ServerArguments

    public func run() throws { try runHere() }

    mutating func execute(context: RunContext) throws {
        let config = try ResolvedConfig.resolve(arguments.options, command: "setup-server", context: context)
        let setup = try ServerRoot.write(config, context: context)
        Banner.print(config, setup: setup)
    }
}
