import Foundation
// swift-tools-version:6.0
//
// mod_wsgi-express in Swift.
//
// Products:
//   mod_wsgi          the Apache module (libmod_wsgi.so), loaded with `LoadModule wsgi_module`
//   mod_wsgi-daemon   the daemon runtime (libmod_wsgi-daemon.so): a Python extension module that
//                     a daemon process loads into the application's own Python executable
//                     (ARCHITECTURE.md, "Daemon processes in the application's Python")
//   mod_wsgi-express  the command-line tool that renders an Apache configuration and runs httpd
//
// The WSGI code both shared objects run (Python, the request, the daemon process, the metrics
// board, logging) is one target, WSGICore, compiled once and linked into both. Only the Apache
// module links libpython: the daemon runtime takes CPython from the executable that loads it.
//
// The Apache and Python build flags are discovered when the manifest is evaluated, the
// way apxs-based builds do it: `apxs -q INCLUDEDIR`, `apr-1-config --includes` and
// `python3-config --includes / --embed --ldflags`. Override with the environment:
//   APXS=/path/to/apxs  PYTHON_CONFIG=/path/to/python3.X-config
// MOD_WSGI_LINK_LIBPYTHON=0 (what the wheel build sets) leaves libpython out of the module's
// DT_NEEDED: the Python it embeds is then loaded first, with `LoadFile`, from wherever the
// machine that installs the wheel has it (the command writes that line), as a Python
// extension module gets Python from the interpreter that imports it. MOD_WSGI_STRIP_MODULE=1
// (set by the wheel build too) links the module without its symbol table and debug
// information (12 MB -> 7 MB; a build tree keeps them for debuggers).
// PYTHON_CONFIG defaults to the system Python (/usr/bin/python3-config) rather than the
// first one on PATH, because Apache's unprivileged user must be able to read the Python
// home (a pyenv build under /root is not readable).
import PackageDescription

func query(_ argv: [String]) -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = argv
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return "" }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return "" }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

let env = ProcessInfo.processInfo.environment
let apxs = env["APXS"] ?? "apxs"
let pythonConfig =
    env["PYTHON_CONFIG"]
    ?? (FileManager.default.fileExists(atPath: "/usr/bin/python3-config")
        ? "/usr/bin/python3-config" : "python3-config")

let apacheInclude = query([apxs, "-q", "INCLUDEDIR"])
let aprInclude = query(["apr-1-config", "--includes"])
let pyIncludes = query([pythonConfig, "--includes"])
let pyLdflags = query([pythonConfig, "--embed", "--ldflags"])
// Where the Python the module is built for has its executable (bin/python3.X): a daemon group
// without a Python home runs its Python there.
let pyExecPrefix = query([pythonConfig, "--exec-prefix"])

/// Without these flags the build would fail much later with "'httpd.h' file not found"; and
/// a manifest that evaluated without them could be cached by SwiftPM. A manifest that fails
/// is never cached: stop here with one line that says what to install.
func missing(_ what: String, _ fix: String) -> Never {
    FileHandle.standardError.write(Data("mod_wsgi-express: \(what): \(fix), then build again\n".utf8))
    exit(1)
}
if apacheInclude.isEmpty {
    missing(
        "'\(apxs) -q INCLUDEDIR' gave nothing",
        "install the Debian package apache2-dev (apt-get install apache2-dev) or set APXS=/path/to/apxs")
}
if aprInclude.isEmpty {
    missing(
        "'apr-1-config --includes' gave nothing", "install the Debian package apache2-dev (apt-get install apache2-dev)"
    )
}
if pyIncludes.isEmpty || pyLdflags.isEmpty {
    missing(
        "'\(pythonConfig) --includes / --embed --ldflags' gave nothing",
        "install the Debian package python3-dev (apt-get install python3-dev) or set PYTHON_CONFIG=/path/to/python3.X-config"
    )
}

var includeFlags = ["-I" + apacheInclude]
for f in (aprInclude + " " + pyIncludes).split(separator: " ") where f.hasPrefix("-I") {
    if !includeFlags.contains(String(f)) { includeFlags.append(String(f)) }
}
let linkLibpython = env["MOD_WSGI_LINK_LIBPYTHON"] != "0"
let stripModule = env["MOD_WSGI_STRIP_MODULE"] == "1" ? ["-Xlinker", "--strip-all"] : []
// Without libpython (a wheel's module), none of the libraries it needs either (-lcrypt, -lutil
// … of a pyenv build), and no run path: the command loads it with LoadFile.
var linkFlags =
    linkLibpython
    ? pyLdflags.split(separator: " ").map(String.init).filter { $0.hasPrefix("-L") || $0.hasPrefix("-l") } : []
// A Python installed outside the system's library directories (a pyenv or /opt build with
// --enable-shared): Apache must find its libpython when it loads the module, without an
// LD_LIBRARY_PATH, so the directory goes in the module's run path (as mod_wsgi's setup.py does).
for f in linkFlags where f.hasPrefix("-L") {
    let dir = String(f.dropFirst(2))
    guard !dir.hasPrefix("/usr/lib"), !dir.hasPrefix("/lib"),
        (try? FileManager.default.contentsOfDirectory(atPath: dir))?.contains(where: { $0.hasPrefix("libpython") })
            == true
    else { continue }
    linkFlags += ["-Xlinker", "-rpath", "-Xlinker", dir]
}

// The Swift flags of the module's targets (WSGICore, ModWSGI, WSGIDaemon).
// _FILE_OFFSET_BITS=64: Python.h defines it before the system headers it includes; the Glibc
// module SystemCalls brings in must be built the same way, or Clang finds two definitions of
// struct dirent, flock...
// Only the Swift core library in every process, not the regex and concurrency runtimes nobody
// here uses. -package-cmo: the Apache module's calls into WSGICore (a module boundary) can be
// inlined and specialised as calls within one module are.
let moduleSwiftSettings: [SwiftSetting] = [
    .unsafeFlags(
        includeFlags.flatMap { ["-Xcc", $0] } + [
            "-Xcc", "-DLINUX", "-Xcc", "-D_GNU_SOURCE",
            "-Xcc", "-D_FILE_OFFSET_BITS=64",
            // The C modules' Clang module (Python.h inside) is cached by a hash of the flags that,
            // by default, leaves out the include paths: a build directory reused for another Python
            // would import the first one's headers (its struct layouts, its functions). The strict
            // hash keeps one per Python.
            "-Xcc", "-Xclang", "-Xcc", "-fmodules-strict-context-hash",
            "-Xfrontend", "-disable-implicit-string-processing-module-import",
            "-Xfrontend", "-disable-implicit-concurrency-module-import",
            "-package-cmo",
            // No run-time exclusivity checks: each access to a class's stored property or a global
            // called into the runtime (swift_beginAccess and its thread-local access set), about
            // 6 % of a daemon's instructions per request (bench/request_profile.py).
            "-enforce-exclusivity=unchecked",
        ]),
    .swiftLanguageMode(.v5),
]

let package = Package(
    name: "mod_wsgi-express",
    products: [
        .library(name: "mod_wsgi", type: .dynamic, targets: ["ModWSGI"]),
        .library(name: "mod_wsgi-daemon", type: .dynamic, targets: ["WSGIDaemon"]),
        .executable(name: "mod_wsgi-express", targets: ["mod_wsgi-express"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // The C side of WSGICore: CPython's macros and globals, the daemons' signal handlers,
        // epoll and atomics. Apache's headers for types and constants only: no call into httpd.
        .target(
            name: "CWSGICore",
            cSettings: [.unsafeFlags(includeFlags + ["-DLINUX", "-D_REENTRANT", "-D_GNU_SOURCE"])]
        ),
        // The C shim of the Apache module: the `module` struct, the command table, hook
        // registration and wrappers for what Swift cannot call (variadic functions, macros,
        // C globals).
        .target(
            name: "CModWSGI",
            dependencies: ["CWSGICore"],
            cSettings: [
                .unsafeFlags(includeFlags + ["-DLINUX", "-D_REENTRANT", "-D_GNU_SOURCE"]),
                .define("WSGI_PYTHON_EXEC_PREFIX", to: "\"\(pyExecPrefix.isEmpty ? "/usr" : pyExecPrefix)\""),
            ]
        ),
        // The POSIX layer the module and the CLI share: the one `syscall` wrapper (EINTR
        // retried, failures typed), whole reads and writes, clocks, polls, UNIX socket
        // addresses. Glibc only, no Foundation, and no implicit concurrency or regex runtime
        // imports: it is linked into the Apache module.
        .target(
            name: "SystemCalls",
            swiftSettings: [
                .unsafeFlags([
                    "-Xfrontend", "-disable-implicit-string-processing-module-import",
                    "-Xfrontend", "-disable-implicit-concurrency-module-import",
                ])
            ]
        ),
        // The WSGI code of both shared objects: Python, the WSGI request, the daemon process,
        // the metrics board, logging. Foundation-free, and no call into httpd or APR (the daemon
        // runtime links neither).
        .target(
            name: "WSGICore",
            dependencies: ["CWSGICore", "SystemCalls"],
            swiftSettings: moduleSwiftSettings
        ),
        // The Apache module's own logic: hooks, directives, the handler, the relay to daemons,
        // the parent's daemon manager. Foundation-free: it lives in every Apache child.
        .target(
            name: "ModWSGI",
            dependencies: ["CModWSGI", "WSGICore", "SystemCalls"],
            swiftSettings: moduleSwiftSettings,
            linkerSettings: [
                // The Swift runtime is linked in statically: no libswiftCore.so to map and
                // relocate in every Apache process (about 2 MB less RSS in each, measured).
                // Apache unloads and reloads modules on start and restart; the Swift runtime
                // metadata must stay mapped, so the library is never really unloaded.
                .unsafeFlags(["-static-stdlib", "-Xlinker", "-z", "-Xlinker", "nodelete"] + linkFlags + stripModule)
            ]
        ),
        // The daemon runtime's entry point (PyInit__mod_wsgi_daemon). Not linked to libpython:
        // CPython's symbols come from the executable that loads it (or from the libpython that
        // executable is itself linked to).
        .target(
            name: "WSGIDaemon",
            dependencies: ["WSGICore"],
            swiftSettings: moduleSwiftSettings,
            linkerSettings: [.unsafeFlags(["-static-stdlib"] + stripModule)]
        ),
        .target(
            name: "ExpressKit",
            dependencies: [
                "SystemCalls",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "mod_wsgi-express",
            dependencies: [
                "ExpressKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // setup-server must start in milliseconds: a static Swift runtime halves the dynamic
            // loader's work (22 ms -> 11 ms measured). No Foundation: the command is 12 MB, not the
            // 77 MB that Foundation and ICU's data made it. swift-argument-parser imports
            // FoundationEssentials (JSONEncoder for --experimental-dump-help, LocalizedError),
            // which has no ICU; linked statically, its own static dependencies must be named
            // (what `swift build --static-swift-stdlib` does).
            linkerSettings: [
                .unsafeFlags(
                    ["-static-stdlib", "-Xlinker", "--start-group"]
                        + [
                            "FoundationEssentials", "_FoundationCShims", "_FoundationCollections",
                            "swiftSynchronization",
                        ].flatMap { ["-Xlinker", "-l" + $0] }
                        + ["-Xlinker", "--end-group"]),
                // Without its symbol table (8 MB: the names of every Swift function linked in),
                // a release build is what a wheel ships; a debug build keeps it for debuggers.
                .unsafeFlags(["-Xlinker", "--strip-all"], .when(configuration: .release)),
            ]
        ),
        // Golden/ holds the expected rendered files, read by path at test time.
        // swift-mustache renders every template in the tests too: the reference the command's own
        // Mustache renderer (ExpressKit/Support/Template.swift) is checked against.
        .testTarget(
            name: "ExpressKitTests",
            dependencies: ["ExpressKit", "SystemCalls", .product(name: "Mustache", package: "swift-mustache")],
            exclude: ["Golden"]),
        .testTarget(name: "SystemCallsTests", dependencies: ["SystemCalls"]),
    ]
)
