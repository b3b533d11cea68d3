// module-config, module-location, install-module: the module for a system Apache.
import ArgumentParser
import SystemCalls

#if canImport(Glibc)
import Glibc
#endif

/// --python-home of module-config and install-module.
struct PythonHomeOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The Python installation or virtualenv to use. Defaults to $VIRTUAL_ENV when set, else the Python the module was built for.",
            valueName: "DIRECTORY-PATH"))
    var pythonHome: String?

    func resolve(_ ctx: RunContext, module: ModuleInfo) throws -> String {
        try PythonHome.resolve(option: pythonHome, environment: ctx.environment, module: module, cwd: ctx.cwd)
    }
}

public struct ModuleConfig: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "module-config",
        abstract:
            "Print the lines that load this module into a system Apache (LoadFile of libpython for a wheel's module, LoadModule, WSGIPythonHome)."
    )

    @OptionGroup var python: PythonHomeOption

    public func run() throws {
        let ctx = RunContext.current(argv: CommandLine.arguments)
        let module = try ModuleInfo.locate(environment: ctx.environment, executable: ctx.executable)
        let home = try python.resolve(ctx, module: module)
        if let library = try PythonLibrary.locate(module: module, pythonHome: home) {
            Output.out("LoadFile \"\(library)\"\n")
        }
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

    @Option(
        help: ArgumentHelp(
            "Apache's modules directory. Defaults to what apxs reports (Debian: /usr/lib/apache2/modules).",
            valueName: "DIRECTORY"))
    var modulesDirectory: String?

    @OptionGroup var python: PythonHomeOption

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
        let home = try python.resolve(ctx, module: module)
        let name =
            module.pythonVersion.map { "mod_wsgi-py\($0.replacingAll(".", with: "")).so" } ?? "mod_wsgi-express.so"
        let target = Path.join(dir, name)
        guard let bytes = Sys.readFile(module.path) else { throw ExpressError.moduleNotBuilt(looked: module.path) }
        let library = try PythonLibrary.locate(module: module, pythonHome: home)
        try FileCopy.write(bytes, to: target)
        // The daemon runtime beside it, named as the module finds it: -daemon before the first dot.
        if let runtime = Sys.readFile(DaemonRuntimeFile.beside(module.path)) {
            try FileCopy.write(runtime, to: DaemonRuntimeFile.beside(target))
        }
        if let library { Output.out("LoadFile \"\(library)\"\n") }
        Output.out("LoadModule wsgi_module \"\(target)\"\n")
        Output.out("WSGIPythonHome \"\(home)\"\n")
    }
}

enum FileCopy {
    /// Writes to a temporary name then renames, so a running Apache never maps a half-written file.
    static func write(_ bytes: [UInt8], to target: String) throws {
        let tmp = target + ".tmp-\(getpid())"
        let fd = try syscall("open", tmp) { open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        do {
            try writeAll(fd, bytes, subject: tmp)
            close(fd)
            _ = try syscall("rename", target) { rename(tmp, target) }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
    }
}

/// The daemon runtime (libmod_wsgi-daemon.so) of a module file: beside it, the module's name
/// with `-daemon` before its first dot (ModWSGI's DaemonLaunch.runtimePath finds it so).
enum DaemonRuntimeFile {
    static func beside(_ module: String) -> String {
        let slash = module.lastIndex(of: "/").map { module.index(after: $0) } ?? module.startIndex
        guard let dot = module[slash...].firstIndex(of: ".") else { return module + "-daemon" }
        return String(module[..<dot]) + "-daemon" + String(module[dot...])
    }
}
