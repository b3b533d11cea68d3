import Mustache
import XCTest

@testable import ExpressKit

/// Rendered files compared with Tests/ExpressKitTests/Golden/. After an intended change,
/// regenerate with: UPDATE_GOLDEN=1 swift test --filter GoldenTests  (and review the diff).
final class GoldenTests: XCTestCase {
    static let dir = Path.join(Path.dirname(#filePath), "Golden")

    func check(_ name: String, _ text: String) throws {
        let path = Path.join(Self.dir, name)
        if Sys.getenv("UPDATE_GOLDEN") == "1" {
            try Sys.writeFile(path, text)
            return
        }
        guard let expected = Sys.readText(path) else { return XCTFail("missing golden file \(path)") }
        if expected != text {
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let t = text.split(separator: "\n", omittingEmptySubsequences: false)
            let i = (0..<min(e.count, t.count)).first { e[$0] != t[$0] } ?? min(e.count, t.count)
            XCTFail(
                "\(name) differs at line \(i + 1):\n  golden: \(i < e.count ? String(e[i]) : "<end>")\n  actual: \(i < t.count ? String(t[i]) : "<end>")"
            )
        }
    }

    func testDefault() throws {
        let c = try Fixture.config(["hello.py"])
        try check("default.httpd.conf", try Fixture.render(c))
        try check("default.apachectl", try Fixture.render(c, "apachectl"))
        try check("default.handler.wsgi", try Fixture.render(c, "handler.wsgi"))
    }

    func testManyOptions() throws {
        let r = Fixture.root
        let c = try Fixture.config(
            [
                "hello.py", "--port", "8080", "--host", "127.0.0.1", "--server-name", "www.example.com",
                "--server-alias", "example.org", "--allow-localhost", "--processes", "3", "--threads", "4",
                "--mount-point", "/app", "--url-alias", "/static", "\(r)/static",
                "--url-alias", "/favicon.ico", "\(r)/static/favicon.ico", "--setenv", "KEY", "a 'quoted' value",
                "--passenv", "HOME", "--include-file", "extra.conf", "--access-log", "--access-log-format", "combined",
                "--log-level", "info", "--keep-alive-timeout", "0", "--limit-request-body", "1000", "--chunked-request",
                "--enable-sendfile", "--compress-responses", "--server-status", "--directory-index", "index.html",
                "--server-metrics", "--metrics-url", "/metrics", "--metrics-allow", "10.0.0.0/8", "--interrupt-timeout",
                "5",
                "--error-document", "404", "/404.html", "--map-head-to-get", "Off", "--server-mpm", "prefork",
                "--rotate-logs", "--rotatelogs-executable", "/usr/bin/rotatelogs", "--python-path", "/srv/lib",
                "--header-timeout", "20", "--body-timeout", "0", "--server-backlog", "50", "--callable-object", "app",
                "--http2",
            ].map { Argv.expandVariables($0, [:]) }.flatMap { a -> [String] in [a] })
        try check("many.httpd.conf", try Fixture.render(c))
        try check("many.handler.wsgi", try Fixture.render(c, "handler.wsgi"))
    }

    /// Behind a load balancer (issue 24): the drain, the health URL, the JSON access log.
    func testLoadBalancerOptions() throws {
        let c = try Fixture.config([
            "hello.py", "--drain-timeout", "30", "--drain-delay", "5", "--health-url", "/healthz",
            "--health-allow", "10.0.0.0/8", "--health-allow", "192.168.0.0/16", "--access-log",
            "--access-log-format", "json", "--log-to-terminal",
        ])
        try check("lb.httpd.conf", try Fixture.render(c))
    }

    func testDebugMode() throws {
        let c = try Fixture.config(["hello.py", "--debug-mode", "--enable-debugger", "--log-to-terminal"])
        try check("debug.httpd.conf", try Fixture.render(c))
        try check("debug.apachectl", try Fixture.render(c, "apachectl"))
    }

    func testStatic() throws {
        let c = try Fixture.config(["--application-type", "static", "\(Fixture.root)/static", "--directory-listing"])
        try check("static.httpd.conf", try Fixture.render(c))
    }

    /// The daemon-mode branch, as it renders once Features.daemonModeAvailable is true.
    func testDaemonBranch() throws {
        var c = try Fixture.config(["hello.py"])
        c.embeddedMode = false
        c.account = Account(user: "www-data", uid: 33, group: "www-data", gid: 33)
        c.mpm = "event"
        c.mpmSizing = MPMSizing.compute(
            processes: 1, threads: 5, maxClients: nil, initial: nil, minSpare: nil,
            maxSpare: nil, embedded: false)
        c.pythonPaths = []
        try check("daemon.httpd.conf", try Fixture.render(c))
    }

    /// Rendering in pieces (the start-up optimisation) gives what one whole render gives.
    func testPiecewiseRenderingEqualsWholeRendering() throws {
        let dir = try Templates.directory(environment: [:], executable: nil)
        var configs = [
            try Fixture.config(["hello.py"]),
            try Fixture.config([
                "hello.py", "--server-name", "www.example.com", "--access-log", "--setenv", "A", "B",
                "--url-alias", "/s", "/tmp", "--include-file", "x.conf", "--server-status",
                "--compress-responses", "--access-log-format", "%h %r", "--server-mpm", "prefork",
            ]),
            try Fixture.config(["hello.py", "--debug-mode", "--keep-alive-timeout", "0", "--directory-index", "i.html"]
            ),
            try Fixture.config(["--application-type", "static", "\(Fixture.root)/static", "--directory-listing"]),
        ]
        var daemon = configs[0]
        daemon.embeddedMode = false
        configs.append(daemon)
        for c in configs {
            for (name, ctx) in [
                ("httpd.conf", c.httpdConfContext()), ("apachectl", c.apachectlContext()),
                ("handler.wsgi", c.handlerContext()),
            ] {
                let text = Sys.readText(Path.join(dir, name + ".mustache"))!
                let whole = try MustacheRender.whole(text, Templates.pruned(ctx))
                XCTAssertEqual(try Templates.render(name, in: dir, context: ctx), whole, name)
            }
        }
    }

    func testPiecesKeepEveryByte() {
        let text = "{{% CONTENT_TYPE: TEXT}}\na\n{{#x}}\n{{y}}\n{{/x}}\nb {{z}}\n{{#w}}\n  {{#v}}\n{{/v}}\n{{/w}}\nc"
        let pieces = Templates.pieces(text)
        XCTAssertEqual(
            pieces,
            [
                .literal("a\n"),
                .section(name: "x", template: "{{% CONTENT_TYPE: TEXT}}\n{{#x}}\n{{y}}\n{{/x}}\n"),
                .template("{{% CONTENT_TYPE: TEXT}}\nb {{z}}\n"),
                .section(name: "w", template: "{{% CONTENT_TYPE: TEXT}}\n{{#w}}\n  {{#v}}\n{{/v}}\n{{/w}}\n"),
                .literal("c"),
            ])
    }
}

enum MustacheRender {
    static func whole(_ text: String, _ ctx: [String: Any]) throws -> String {
        try MustacheTemplate(string: text).render(ctx)
    }
}
