import ArgumentParser
import XCTest

@testable import ExpressKit

#if canImport(Glibc)
import Glibc
#endif

/// Parses a setup-server command line the way main does when the fast parser declines
/// (normalize, then swift-argument-parser over the option table).
func parse(_ args: [String], env: [String: String] = [:]) throws -> ServerOptions {
    let normalized = try Argv.normalize(["setup-server"] + args, environment: env)
    return try ServerArguments.parse(Array(normalized.dropFirst())).options
}

final class ArgvTests: XCTestCase {
    func testPairsAreJoined() throws {
        let a = try Argv.normalize(
            [
                "start-server", "--url-alias", "/static", "/srv/static", "app.py",
                "--setenv=NAME", "value",
            ], environment: [:])
        XCTAssertEqual(
            a,
            [
                "start-server", "--url-alias", "/static\u{1F}/srv/static", "app.py",
                "--setenv", "NAME\u{1F}value",
            ])
    }

    func testPairMissingSecondValue() {
        XCTAssertThrowsError(try Argv.normalize(["setup-server", "--url-alias", "/static"], environment: [:])) {
            XCTAssertTrue("\($0)".contains("--url-alias takes two values"))
        }
    }

    func testUniquePrefixExpandsLikeOptparse() throws {
        XCTAssertEqual(
            try Argv.normalize(["setup-server", "--processe", "2", "--thr=4"], environment: [:]),
            ["setup-server", "--processes", "2", "--threads=4"])
        XCTAssertThrowsError(try Argv.normalize(["setup-server", "--server", "x"], environment: [:])) {
            XCTAssertTrue("\($0)".contains("ambiguous option --server"))
        }
    }

    func testExpandVariables() {
        let env = ["HOME": "/home/u", "P": "80"]
        XCTAssertEqual(Argv.expandVariables("$HOME/app.py", env), "/home/u/app.py")
        XCTAssertEqual(Argv.expandVariables("${P}00", env), "8000")
        XCTAssertEqual(Argv.expandVariables("$NOPE/x $", env), "$NOPE/x $")
    }

    func testOtherCommandsUntouched() throws {
        XCTAssertEqual(
            try Argv.normalize(["module-config", "--py", "x"], environment: [:]), ["module-config", "--py", "x"])
    }
}

final class ParsingTests: XCTestCase {
    func testNothingGiven() throws {
        let a = try parse([])
        XCTAssertEqual(a, ServerOptions())
        XCTAssertEqual(a.port, 8000)
        XCTAssertNil(a.script)
        XCTAssertTrue(a.given.isEmpty)
    }

    func testValues() throws {
        let a = try parse([
            "app.py", "--port", "8080", "--processes", "2", "--threads", "8", "--python-path", "/a",
            "--python-path", "/b", "--embedded-mode", "--server-mpm", "prefork", "--url-alias", "/s", "/srv",
        ])
        XCTAssertEqual(a.script, "app.py")
        XCTAssertEqual(a.port, 8080)
        XCTAssertEqual(a.processes, 2)
        XCTAssertEqual(a.pythonPaths, ["/a", "/b"])
        XCTAssertTrue(a.embeddedMode)
        XCTAssertEqual(a.serverMPMs, ["prefork"])
        XCTAssertEqual(a.urlAliases.map { [$0.first, $0.second] }, [["/s", "/srv"]])
        XCTAssertEqual(
            Set(a.given),
            [
                "--port", "--processes", "--threads", "--python-path", "--embedded-mode",
                "--server-mpm", "--url-alias",
            ])
    }

    func testMalformedNumberIsRejected() {
        XCTAssertThrowsError(try parse(["--port", "eighty"]))
        XCTAssertThrowsError(try parse(["--bogus-option"]))
    }

    /// The fast path must agree with swift-argument-parser wherever it answers.
    func testFastPathAgreesWithArgumentParser() throws {
        let lines: [[String]] = [
            [],
            ["app.py"],
            ["app.py", "--port", "8123", "--host", "127.0.0.1", "--server-root", "/tmp/x"],
            ["--port=9000", "--embedded-mode", "--threads", "3", "app.py", "--access-log", "--log-level", "info"],
            ["--python-path", "/a", "--python-path", "/b", "--setenv", "A\u{1F}B", "--server-mpm", "worker"],
            ["--url-alias", "/s\u{1F}/srv", "--include-file", "x.conf", "--limit-request-body", "100"],
        ]
        for line in lines {
            guard let fast = OptionParser.parse(line) else { return XCTFail("fast path refused \(line)") }
            let slow = try ServerArguments.parse(line).options
            XCTAssertEqual(fast.given, slow.given, "\(line)")
            XCTAssertEqual(fast.script, slow.script)
            XCTAssertEqual(fast.port, slow.port)
            XCTAssertEqual(fast.host, slow.host)
            XCTAssertEqual(fast.threads, slow.threads)
            XCTAssertEqual(fast.pythonPaths, slow.pythonPaths)
            XCTAssertEqual(fast.setenv, slow.setenv)
            XCTAssertEqual(fast.urlAliases, slow.urlAliases)
            XCTAssertEqual(fast.logLevel, slow.logLevel)
            XCTAssertEqual(fast.accessLog, slow.accessLog)
            XCTAssertEqual(fast.limitRequestBody, slow.limitRequestBody)
            XCTAssertEqual(fast, slow, "\(line)")
        }
        // What it leaves to ArgumentParser: help, errors, odd forms.
        for line in [
            ["--help"], ["-h"], ["--port", "x"], ["--bogus"], ["a.py", "b.py"], ["--", "x"],
            ["--access-log=yes"], ["--port"], ["--port", "--threads"],
        ] {
            XCTAssertNil(OptionParser.parse(line), "\(line)")
        }
    }

    func testEveryOptionIsInTheTableOnce() {
        let names = OptionTable.all.map(\.name)
        XCTAssertEqual(names.count, Set(names).count)
        for must in [
            "--port", "--host", "--server-name", "--server-alias", "--server-root", "--document-root",
            "--url-alias", "--mount-point", "--application-type", "--entry-point", "--callable-object",
            "--working-directory", "--python-path", "--processes", "--threads", "--max-clients",
            "--embedded-mode", "--server-mpm", "--user", "--group", "--log-directory", "--log-level",
            "--log-to-terminal", "--access-log", "--error-log-name", "--startup-log", "--pid-file",
            "--setenv", "--passenv", "--include-file", "--rewrite-rules", "--keep-alive-timeout",
            "--limit-request-body", "--chunked-request", "--setup-only", "--httpd-executable",
            "--modules-directory", "--debug-mode", "--enable-debugger", "--python-home",
        ] {
            XCTAssertTrue(names.contains(must), must)
        }
    }
}
