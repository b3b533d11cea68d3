// The mod_wsgi-express command: its subcommands, and how a command line is parsed and run.
import ArgumentParser
import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

public struct Express: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "mod_wsgi-express",
        abstract: "Run a Python WSGI application with Apache and mod_wsgi, configured from the command line.",
        discussion:
            "A drop-in for mod_wsgi-express \(Features.version): same commands, options and generated server root.",
        version: Features.version,
        subcommands: [
            StartServer.self, SetupServer.self, Check.self, ModuleConfig.self, ModuleLocation.self, InstallModule.self,
        ])

    static let serverCommands = ["start-server", "setup-server"]

    /// Parses and runs a command line; prints errors on one line. Never returns.
    public static func run(arguments: [String]) -> Never {
        if arguments.isEmpty {
            printError(
                "no command given: use start-server, setup-server, check, module-config, module-location or install-module (see 'mod_wsgi-express --help')"
            )
            Glibc.exit(2)
        }
        let ctx = RunContext.current(argv: ["mod_wsgi-express"] + arguments)
        let args: [String]
        do {
            args = try Argv.normalize(arguments, environment: ctx.environment)
        } catch {
            fail(error)
        }
        if args.count == 2, serverCommands.contains(args[0]), args[1] == "--list-options-json" {
            Output.out(OptionExport.json())
            Glibc.exit(0)
        }
        var command: ParsableCommand
        do {
            if args.first == "setup-server", let fast = OptionParser.parse(Array(args.dropFirst())) {
                command = SetupServer(options: fast)
            } else if args.first == "start-server", let fast = OptionParser.parse(Array(args.dropFirst())) {
                command = StartServer(options: fast)
            } else if args.first == "check", let fast = OptionParser.parse(Array(args.dropFirst())) {
                command = Check(options: fast)
            } else {
                command = try parseAsRoot(args)
            }
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // --help, --version
            let text = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            let sub =
                args.first.map {
                    ["start-server", "setup-server", "check", "module-config", "module-location", "install-module"]
                        .contains($0) ? " \($0)" : ""
                } ?? ""
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
