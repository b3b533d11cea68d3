import ArgumentParser
import SystemCalls
import XCTest

@testable import ExpressKit

#if canImport(Glibc)
import Glibc
#endif

/// A fixed, fake installation so rendered files are the same on every machine:
/// /tmp/mwe-golden/{modules,httpd,libmod_wsgi.so,python,app/hello.py,static}.
enum Fixture {
    static let root = "/tmp/mwe-golden"

    static func make() throws {
        for d in ["", "/modules", "/python", "/app", "/static", "/root"] {
            mkdir(root + d, 0o755)
        }
        for m in [
            "mpm_event", "mpm_worker", "mpm_prefork", "rewrite", "alias", "mime", "dir", "env", "authz_core",
            "authn_core", "authz_host", "reqtimeout", "log_config", "status", "deflate", "filter", "autoindex",
        ] {
            try Sys.writeFile("\(root)/modules/mod_\(m).so", "")
        }
        try Sys.writeFile("\(root)/httpd", "#!/bin/sh\n", mode: 0o755)
        try Sys.writeFile("\(root)/libmod_wsgi.so", "")
        try Sys.writeFile("\(root)/app/hello.py", "def application(e, s):\n    s('200 OK', [])\n    return [b'hi']\n")
        try Sys.writeFile("\(root)/static/favicon.ico", "")
    }

    static var context: RunContext {
        var ctx = RunContext(
            environment: ["MOD_WSGI_MODULE": "\(root)/libmod_wsgi.so", "PATH": "/usr/bin:/bin"],
            cwd: "\(root)/app", uid: getuid(), gid: getgid(), executable: "\(root)/bin/mod_wsgi-express",
            argv: ["mod_wsgi-express", "setup-server"])
        ctx.canReopen = { _ in true }  // whatever the test runner's stdout is
        return ctx
    }

    static let base = [
        "--httpd-executable", "\(root)/httpd", "--modules-directory", "\(root)/modules",
        "--python-home", "\(root)/python", "--server-root", "\(root)/root", "--locale", "C.UTF-8",
        "--user", "root", "--group", "root",
    ]

    static func config(_ args: [String], command: String = "setup-server") throws -> ResolvedConfig {
        try make()
        return try ResolvedConfig.resolve(try parse(base + args), command: command, context: context)
    }

    static func render(_ c: ResolvedConfig, _ name: String = "httpd.conf") throws -> String {
        let dir = try Templates.directory(environment: [:], executable: nil)
        switch name {
        case "apachectl": return try Templates.render(name, in: dir, context: c.apachectlContext())
        case "handler.wsgi": return try Templates.render(name, in: dir, context: c.handlerContext())
        default: return try Templates.render(name, in: dir, context: c.httpdConfContext())
        }
    }
}

final class ConfigTests: XCTestCase {
    func testDefaults() throws {
        let c = try Fixture.config(["hello.py"])
        XCTAssertEqual(c.port, 8000)
        XCTAssertEqual(c.host, "localhost")
        XCTAssertNil(c.listenerHost)
        XCTAssertEqual(c.threads, 5)
        XCTAssertEqual(c.processes, 1)
        XCTAssertEqual(c.entryPoint, "\(Fixture.root)/app/hello.py")
        XCTAssertEqual(c.mountPoint, "/")
        XCTAssertEqual(c.documentRoot, "\(Fixture.root)/root/htdocs")
        XCTAssertEqual(c.errorLogFile, "\(Fixture.root)/root/error_log")
        XCTAssertEqual(c.url, "http://localhost:8000/")
        XCTAssertEqual(c.limitRequestBody, 10_485_760)
        XCTAssertEqual(c.requestReadTimeout, "header=15-30,MinRate=500 body=15,MinRate=500")
        // mod_wsgi-express 4.9's WSGIDaemonProcess defaults.
        XCTAssertEqual(
            c.daemon,
            DaemonSettings(
                maximumRequests: 0, startupTimeout: 15, shutdownTimeout: 5, restartInterval: 0, cpuTimeLimit: 0,
                gracefulTimeout: 15, evictionTimeout: 0, deadlockTimeout: 60, inactivityTimeout: 0, requestTimeout: 60,
                connectTimeout: 15, socketTimeout: 60, queueTimeout: 45, listenBacklog: 100, sendBufferSize: 0,
                receiveBufferSize: 0, headerBufferSize: 0, responseBufferSize: 0, responseSocketTimeout: 0,
                socketPrefix: "\(Fixture.root)/root/wsgi", ignoreActivity: []))
        XCTAssertEqual(c.daemon.requestTimeout, 60)
        XCTAssertEqual(c.daemon.interruptTimeout, 0)  // mod_wsgi 6.0's default: off
        XCTAssertEqual(c.daemon.queueTimeout, 45)
        XCTAssertEqual(c.daemon.listenBacklog, 100)
        // Daemon mode is the default, as in mod_wsgi-express.
        XCTAssertFalse(c.embeddedMode)
    }

    func testDefaultServerRootName() throws {
        try Fixture.make()
        var ctx = Fixture.context
        ctx.environment["TMPDIR"] = "/var/tmp/"
        let args = Array(Fixture.base.prefix(6)) + ["--port", "8321"]
        let c = try ResolvedConfig.resolve(try parse(args), command: "setup-server", context: ctx)
        XCTAssertEqual(c.serverRoot, "/var/tmp/mod_wsgi-localhost:8321:\(getuid())")
    }

    func testWelcomePageWithoutScript() throws {
        let c = try Fixture.config([])
        XCTAssertTrue(c.isDefaultApplication)
        XCTAssertEqual(c.entryPoint, "\(Fixture.root)/root/default.wsgi")
    }

    func testDaemonSizingHoldsItsConnections() {
        // mod_wsgi-express 4.9 defaults (1 process x 5 threads): "Server Capacity: 20 (event/worker), 20 (prefork)".
        let s = MPMSizing.compute(
            processes: 1, threads: 5, maxClients: nil, initial: nil, minSpare: nil,
            maxSpare: nil, embedded: false)
        // Prefork keeps mod_wsgi-express's figures; event/worker holds 64 connections in 2 children
        // of 64 + 16 threads, both started and kept (issue 9: resets at 64 connections otherwise).
        XCTAssertEqual(
            [
                s.workerConnections, s.workerMaxClients, s.workerServerLimit, s.workerThreadsPerChild,
                s.workerStartServers, s.workerMinSpareThreads, s.workerMaxSpareThreads,
            ],
            [64, 160, 4, 80, 2, 80, 160])
        // --max-clients is the number of connections held; the spare-worker fractions still apply.
        let g = MPMSizing.compute(
            processes: 1, threads: 5, maxClients: 200, initial: 0.5, minSpare: nil,
            maxSpare: nil, embedded: false)
        XCTAssertEqual(
            [
                g.workerConnections, g.workerThreadsPerChild, g.workerMaxClients, g.workerStartServers,
                g.preforkMaxClients,
            ], [200, 250, 500, 1, 200])
        XCTAssertEqual(
            [s.preforkMaxClients, s.preforkStartServers, s.preforkMinSpare, s.preforkMaxSpare], [20, 1, 1, 2])
        let e = MPMSizing.compute(
            processes: 2, threads: 8, maxClients: nil, initial: nil, minSpare: nil,
            maxSpare: nil, embedded: true)
        XCTAssertEqual(
            [e.workerServerLimit, e.workerThreadsPerChild, e.workerMaxClients, e.preforkMaxClients], [2, 8, 16, 16])
    }

    func testValidationErrors() throws {
        let cases: [([String], String)] = [
            (["missing.py"], "does not exist"),
            (["--port", "0"], "--port must be between"),
            (["--application-type", "bogus"], "--application-type must be"),
            (["--map-head-to-get", "maybe"], "--map-head-to-get must be"),
            (["--log-level", "loud"], "--log-level must be"),
            (["--server-mpm", "winnt"], "--server-mpm must be"),
            (["--threads", "0"], "--threads must be"),
            (["--https-port", "8443"], "--https-port needs a certificate"),
            (["--ssl-environment"], "--ssl-environment needs --https-port"),
            (
                ["--https-port", "8443", "--ssl-certificate", "/nonexistent/site"],
                "'/nonexistent/site.crt' does not exist"
            ),
            (["--proxy-timeout", "5"], "--proxy-timeout needs --proxy-mount-point"),
            (["--proxy-mount-point", "/api", "localhost:9000"], "takes an http:// or https:// URL"),
            (["--add-handler", "res", "x.py"], "--add-handler takes a file extension"),
            (["--application-type", "paste", "x.ini"], "PasteDeploy configuration file"),
            (["--application-type", "module", "not/a/module"], "not a Python module name"),
        ]
        for (args, expected) in cases {
            XCTAssertThrowsError(try Fixture.config(args), "\(args)") {
                XCTAssertTrue("\($0)".contains(expected), "\(args): \($0)")
            }
        }
    }

    func testEnvironmentErrors() throws {
        try Fixture.make()
        var ctx = Fixture.context
        ctx.environment["MOD_WSGI_MODULE"] = "/nonexistent/libmod_wsgi.so"
        XCTAssertThrowsError(try ResolvedConfig.resolve(try parse(Fixture.base), command: "setup-server", context: ctx))
        {
            XCTAssertTrue("\($0)".hasPrefix("module not built: run `swift build -c release`"), "\($0)")
        }
        var args = Fixture.base
        args[1] = "/nonexistent/httpd"
        XCTAssertThrowsError(
            try ResolvedConfig.resolve(try parse(args), command: "setup-server", context: Fixture.context)
        ) {
            XCTAssertTrue("\($0)".contains("install the Debian package apache2"), "\($0)")
        }
        args = Fixture.base
        args[7] = "/nonexistent/parent/root"
        let c = try ResolvedConfig.resolve(try parse(args), command: "setup-server", context: Fixture.context)
        XCTAssertThrowsError(try ServerRoot.write(c, context: Fixture.context)) {
            XCTAssertTrue("\($0)".contains("parent directory '/nonexistent/parent' does not exist"), "\($0)")
        }
    }

    func testPythonHomeVersionMismatch() throws {
        try Fixture.make()
        let venv = "\(Fixture.root)/venv312"
        mkdir(venv, 0o755)
        try Sys.writeFile("\(venv)/pyvenv.cfg", "home = /usr/bin\nversion = 3.12.1\n")
        let module = ModuleInfo(path: "x", pythonVersion: "3.11", pythonPrefix: "/usr")
        XCTAssertThrowsError(try PythonHome.resolve(option: venv, environment: [:], module: module, cwd: "/")) {
            XCTAssertTrue("\($0)".contains("is Python 3.12 but the module was built for Python 3.11"), "\($0)")
        }
        XCTAssertEqual(
            try PythonHome.resolve(option: nil, environment: ["VIRTUAL_ENV": "/usr"], module: module, cwd: "/"), "/usr")
        XCTAssertEqual(try PythonHome.resolve(option: nil, environment: [:], module: module, cwd: "/"), "/usr")
    }

    func testRootPicksAnUnprivilegedAccount() throws {
        guard Users.user(named: "www-data") != nil else { throw XCTSkip("no www-data account on this machine") }
        let ctx = RunContext(environment: [:], cwd: "/", uid: 0, gid: 0, executable: nil, argv: [])
        let (account, picked) = try ResolvedConfig.runAccount(user: nil, group: nil, ctx: ctx)
        XCTAssertEqual(account.user, "www-data")
        XCTAssertEqual(account.group, "www-data")
        XCTAssertTrue(picked)
        XCTAssertThrowsError(try ResolvedConfig.runAccount(user: "no-such-user-xyz", group: nil, ctx: ctx))
    }

    func testLocale() {
        XCTAssertEqual(ResolvedConfig.resolveLocale("de_DE.UTF-8", env: [:]), "de_DE.UTF-8")
        XCTAssertEqual(ResolvedConfig.resolveLocale(nil, env: ["LANG": "fr_FR.UTF-8"]), "fr_FR.UTF-8")
        XCTAssertTrue(["en_US.UTF-8", "C.UTF-8"].contains(ResolvedConfig.resolveLocale(nil, env: [:])))
    }
}

final class SystemTests: XCTestCase {
    func testRetryingSyscallRetriesEINTRAndTypesErrors() throws {
        var calls = 0
        let r = try syscall("fake") { () -> Int32 in
            calls += 1
            if calls < 3 { errno = EINTR; return -1 }
            return 7
        }
        XCTAssertEqual(r, 7)
        XCTAssertEqual(calls, 3)
        do {
            _ = try syscall("open", "/nonexistent") { open("/nonexistent/x", O_RDONLY) }
            XCTFail("no error")
        } catch {
            XCTAssertEqual(error.errno, ENOENT)
            XCTAssertEqual(error.description, "open /nonexistent: No such file or directory")
        }
    }

    func testExitStatus() {
        XCTAssertEqual(Launcher.exitStatus(0), 0)
        XCTAssertEqual(Launcher.exitStatus(1 << 8), 1)
        XCTAssertEqual(Launcher.exitStatus(SIGTERM), 128 + SIGTERM)
    }

    func testQuoting() {
        XCTAssertEqual(Quote.apache("it's"), "it\\'s")
        XCTAssertEqual(Quote.apache("say \"x\"", quote: "\""), "say \\\"x\\\"")
        XCTAssertEqual(Quote.shell("it's"), "it'\\''s")
        XCTAssertEqual(Quote.python("a'b\\c\n"), "a\\'b\\\\c\\n")
    }

    func testPaths() {
        XCTAssertEqual(Path.normalize("/a/./b/../c//"), "/a/c")
        XCTAssertEqual(Path.absolute("x/y", cwd: "/srv"), "/srv/x/y")
        XCTAssertEqual(Path.dirname("/a/b"), "/a")
        XCTAssertEqual(Path.dirname("/a"), "/")
    }

    func testELFNeeded() throws {
        guard let info = ELF.dynamicInfo("/usr/lib/apache2/modules/mod_rewrite.so") ?? ELF.dynamicInfo("/bin/ls") else {
            throw XCTSkip("no ELF file to read")
        }
        XCTAssertTrue(info.needed.contains { $0.hasPrefix("libc.so") }, "\(info.needed)")
    }

    func testApxsConfigParsing() {
        let vars = ApxsConfig.parse(
            Array(
                "prefix =\nexec_prefix = ${prefix}/usr\nsbindir = ${exec_prefix}/sbin\nprogname = apache2\nlibexecdir = $(exec_prefix)/lib/apache2/modules\n"
                    .utf8))
        let cfg = ApxsConfig(apxs: "apxs", vars: vars)
        XCTAssertEqual(cfg.sbindir, "/usr/sbin")
        XCTAssertEqual(cfg.target, "apache2")
        XCTAssertEqual(cfg.libexecdir, "/usr/lib/apache2/modules")
    }
}

final class TemplateLocationTests: XCTestCase {
    func testSearchOrder() {
        let c = Templates.candidates(
            environment: ["MOD_WSGI_EXPRESS_TEMPLATES": "/custom"],
            executable: "/repo/.build/x86_64-unknown-linux-gnu/release/mod_wsgi-express")
        XCTAssertEqual(c.first, "/custom")
        XCTAssertTrue(c.contains("/repo/templates"))
        XCTAssertTrue(c.contains("/repo/.build/x86_64-unknown-linux-gnu/share/mod_wsgi-express/templates"))
        XCTAssertTrue(c.last!.hasSuffix("/templates"))
    }

    func testExplicitDirectoryMustHoldTheTemplates() {
        XCTAssertThrowsError(
            try Templates.directory(environment: ["MOD_WSGI_EXPRESS_TEMPLATES": "/nonexistent"], executable: nil)
        ) {
            XCTAssertTrue("\($0)".contains("MOD_WSGI_EXPRESS_TEMPLATES"), "\($0)")
        }
        XCTAssertNoThrow(try Templates.directory(environment: [:], executable: nil))  // the source tree's
    }
}

/// --log-to-terminal where Apache could not open /dev/stdout or /dev/stderr again (a socket, a
/// pipe of another user's): a piped tee, as mod_wsgi-express does.
final class LogToTerminalTests: XCTestCase {
    func testDevicesOrTee() throws {
        var o = ServerOptions()
        o.logToTerminal = true
        o.accessLog = true
        let open = try LogSettings(o, serverRoot: "/srv", cwd: "/", canReopen: { _ in true })
        XCTAssertEqual(open.errorLogFile, "/dev/stderr")
        XCTAssertEqual(open.accessLogFile, "/dev/stdout")
        let closed = try LogSettings(o, serverRoot: "/srv", cwd: "/", canReopen: { $0 != "/dev/stdout" })
        XCTAssertEqual(closed.errorLogFile, "/dev/stderr")
        XCTAssertTrue(
            closed.accessLogFile.hasPrefix("|") && closed.accessLogFile.hasSuffix("tee"), closed.accessLogFile)
        o.accessLogFormat = "json"
        XCTAssertEqual(try LogSettings(o, serverRoot: "/srv", cwd: "/").formatNickname, "json")
    }

    func testLifecycleSettings() throws {
        let c = try Fixture.config(["hello.py", "--drain-timeout", "30", "--health-url", "/healthz"])
        XCTAssertEqual(c.lifecycle.drainTimeout, 30)
        XCTAssertEqual(c.lifecycle.drainDelay, 0)
        XCTAssertEqual(c.lifecycle.healthURL, "/healthz")
        let text = try Fixture.render(c)
        XCTAssertTrue(text.contains("GracefulShutdownTimeout 30\nWSGIDrainOnTerm On\n"), text)
        XCTAssertFalse(text.contains("WSGIDrainDelay"))
        let plain = try Fixture.render(try Fixture.config(["hello.py"]))
        XCTAssertFalse(plain.contains("WSGIDrainOnTerm") || plain.contains("GracefulShutdownTimeout"))
        XCTAssertFalse(plain.contains("WSGIHealthURL"))
    }
}
