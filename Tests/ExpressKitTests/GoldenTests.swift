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

    /// The command's Mustache renderer gives, for every template and many configurations, what
    /// swift-mustache (the library it replaced, still the reference here) gives.
    func testEveryTemplateRendersAsSwiftMustacheRendersIt() throws {
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
            try Fixture.config([
                "hello.py", "--port", "8080", "--host", "127.0.0.1", "--server-alias", "example.org",
                "--allow-localhost", "--processes", "3", "--threads", "4", "--mount-point", "/app",
                "--error-document", "404", "/404.html", "--passenv", "HOME", "--rotate-logs",
                "--metrics-url", "/metrics", "--server-metrics", "--http2", "--python-path", "/srv/lib",
                "--add-handler", ".cgi", "\(Fixture.root)/app/hello.py",
            ]),
        ]
        var daemon = configs[0]
        daemon.embeddedMode = false
        configs.append(daemon)
        var many = configs[4]
        many.embeddedMode = false
        configs.append(many)
        for c in configs {
            for (name, ctx) in [
                ("httpd.conf", c.httpdConfContext()), ("apachectl", c.apachectlContext()),
                ("handler.wsgi", c.handlerContext()), ("resource.wsgi", c.resourceContext()),
            ] {
                let text = Sys.readText(Path.join(dir, name + ".mustache"))!
                let reference = try MustacheRender.whole(text, Templates.pruned(ctx))
                XCTAssertEqual(try Templates.render(name, in: dir, context: ctx), reference, name)
            }
        }
    }

    /// Mustache's parts, one case each, against swift-mustache.
    func testMustacheCasesRenderAsSwiftMustacheRendersThem() throws {
        let ctx: [String: Any] = [
            "name": "Ann <&> \"'", "n": "3", "yes": true, "no": false, "empty": [Any](),
            "list": [["x": "1"], ["x": "2", "y": "inner"]], "words": ["a", "b"], "y": "outer",
            "sub": ["a": ["b": "deep"], "name": "subname"], "blank": " ",
        ]
        let cases = [
            "Hello {{name}}!", "{{{name}}} {{&name}}", "{{% CONTENT_TYPE: TEXT}}\n{{name}}\n",
            "{{% CONTENT_TYPE: HTML}}\n{{name}}", "{{missing}}|{{sub.a.b}}|{{sub.missing.b}}|{{sub.name}}",
            "{{#yes}}Y{{/yes}}{{#no}}N{{/no}}{{^no}}notN{{/no}}{{^yes}}notY{{/yes}}",
            "{{#list}}[{{x}}:{{y}}]{{/list}}", "{{#words}}<{{.}}>{{/words}}", "{{^empty}}none{{/empty}}",
            "{{#empty}}never{{/empty}}", "{{#sub}}{{name}} {{a.b}} {{n}}{{/sub}}",
            "a\n  {{#yes}}\n  b\n  {{/yes}}\nc\n", "a\n{{#no}}\nb\n{{/no}}\nc", "  {{! a comment }}\nx\n",
            "{{! a\n multi-line comment }}\nx", "x {{#yes}}y{{/yes}} z\n", "|\r\n{{#yes}}\r\nin\r\n{{/yes}}\r\n|",
            "{{=<% %>=}}\n<% name %> {{name}}\n<%={{ }}=%>{{n}}", "  {{#yes}}  \n#{{/yes}}",
            "{{ name }}|{{# yes }}y{{/ yes }}",
            "{{#list}}{{#y}}{{y}}{{/y}}{{^y}}-{{/y}}{{/list}}", "{{blank}}|{{#blank}}b{{/blank}}", "{{#yes}}\n{{/yes}}",
            "{{% CONTENT_TYPE: TEXT}}\n{{#yes}}\n{{% CONTENT_TYPE: HTML}}\n{{name}}\n{{/yes}}\n{{name}}\n",
            "no tags at all\n\n", "{{n}}{{n}}\n\n{{#words}}\n{{.}}\n{{/words}}", "{{#yes}}a{{/yes}}\n{{n}}",
        ]
        for t in cases {
            XCTAssertEqual(try Template(parsing: t).render(ctx), try MustacheRender.whole(t, ctx), t)
        }
    }

    func testABrokenTemplateIsReportedWithItsLine() throws {
        for (text, message) in [
            ("a\n{{#x}}\nb\n", "line 2: {{#x}} is not closed"),
            ("a\n{{#x}}\n{{/y}}\n", "line 3: {{/y}} closes {{#x}} of line 2"),
            ("{{/y}}", "line 1: {{/y}} closes no section"),
            ("a\nb {{x", "line 2: a tag is not closed (no }})"),
            ("{{> part}}", "line 1: partials and template inheritance ({{>…}}) are not supported"),
            (
                "{{% CONTENT_TYPE: JSON}}",
                "line 1: unknown pragma ' CONTENT_TYPE: JSON' (only CONTENT_TYPE: TEXT or HTML)"
            ),
            ("{{a b}}", "line 1: 'a b' is not a name (letters, digits, '_', '-', and dots between parts)"),
        ] {
            XCTAssertThrowsError(try Template(parsing: text), text) { XCTAssertEqual("\($0)", message) }
        }
    }
}

enum MustacheRender {
    static func whole(_ text: String, _ ctx: [String: Any]) throws -> String {
        try MustacheTemplate(string: text).render(ctx)
    }
}
