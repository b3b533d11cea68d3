import XCTest

@testable import ExpressKit

/// --host-access-script, --auth-*, --trust-proxy*, --dispatch-script: what httpd.conf says.
final class AccessHooksTests: XCTestCase {
    static let app = "\(Fixture.root)/app"

    func config(_ args: [String]) throws -> ResolvedConfig {
        try Fixture.make()
        for m in ["auth_basic", "auth_digest", "authz_user"] {
            try Sys.writeFile("\(Fixture.root)/modules/mod_\(m).so", "")
        }
        for s in ["access", "users", "groups", "dispatch"] {
            try Sys.writeFile("\(Self.app)/\(s).py", "")
        }
        return try ResolvedConfig.resolve(
            try parse(Fixture.base + ["hello.py"] + args), command: "setup-server",
            context: Fixture.context)
    }

    func render(_ args: [String]) throws -> String { try Fixture.render(try config(args)) }

    func testNothingRenderedWithoutHooks() throws {
        let conf = try render([])
        for absent in [
            "auth_basic", "auth_digest", "authz_user", "WSGIAccessScript", "WSGIAuthUserScript",
            "WSGIAuthGroupScript", "WSGIDispatchScript", "WSGITrustedProxy", "AuthType",
        ] {
            XCTAssertFalse(conf.contains(absent), absent)
        }
    }

    func testHostAccessScript() throws {
        let conf = try render(["--host-access-script", "access.py"])
        XCTAssertTrue(conf.contains("<Location />\n    WSGIAccessScript '\(Self.app)/access.py'\n</Location>\n"), conf)
        XCTAssertFalse(conf.contains("auth_basic"))
    }

    func testBasicAuthAsModWSGIExpressRendersIt() throws {
        let conf = try render(["--auth-user-script", "users.py", "--port", "8123"])
        XCTAssertTrue(
            conf.contains(
                """
                <Location />
                    AuthType Basic
                    AuthName 'localhost:8123'
                    AuthBasicProvider wsgi
                    WSGIAuthUserScript '\(Self.app)/users.py'
                    <RequireAll>
                        Require valid-user
                    </RequireAll>
                </Location>

                """), conf)
        XCTAssertTrue(conf.contains("LoadModule auth_basic_module"))
        XCTAssertTrue(conf.contains("LoadModule authz_user_module"))
        XCTAssertFalse(conf.contains("auth_digest"))
    }

    func testDigestAndGroups() throws {
        let conf = try render([
            "--auth-user-script", "users.py", "--auth-type", "digest",
            "--auth-group-script", "groups.py", "--auth-group", "staff",
        ])
        XCTAssertTrue(
            conf.contains(
                """
                    AuthType Digest
                    AuthName 'localhost:8000'
                    AuthDigestProvider wsgi
                    WSGIAuthUserScript '\(Self.app)/users.py'
                    WSGIAuthGroupScript '\(Self.app)/groups.py'
                    <RequireAll>
                        Require valid-user
                        Require wsgi-group 'staff'
                    </RequireAll>

                """), conf)
        XCTAssertTrue(conf.contains("LoadModule auth_digest_module"))
        XCTAssertFalse(conf.contains("auth_basic"))
    }

    func testDefaultGroupIsWsgi() throws {
        let conf = try render(["--auth-user-script", "users.py", "--auth-group-script", "groups.py"])
        XCTAssertTrue(conf.contains("        Require wsgi-group 'wsgi'\n"), conf)
    }

    func testTrustedProxiesAreSpaceJoined() throws {
        let conf = try render([
            "--trust-proxy-header", "X-Forwarded-For", "--trust-proxy-header", "X-Forwarded-Proto",
            "--trust-proxy", "10.0.0.0/8", "--trust-proxy", "::1",
        ])
        XCTAssertTrue(
            conf.contains(
                "\nWSGITrustedProxyHeaders X-Forwarded-For X-Forwarded-Proto\nWSGITrustedProxies 10.0.0.0/8 ::1\n"),
            conf)
    }

    func testDispatchScript() throws {
        let conf = try render(["--dispatch-script", "dispatch.py"])
        XCTAssertTrue(conf.contains("\nWSGIDispatchScript '\(Self.app)/dispatch.py'\n"), conf)
    }

    func testMistakesAreOneLine() throws {
        let cases: [([String], String)] = [
            (
                ["--auth-user-script", "nope.py"],
                "--auth-user-script '\(Self.app)/nope.py' does not exist: check the path"
            ),
            (
                ["--host-access-script", Self.app],
                "--host-access-script '\(Self.app)' is not a file: give the path of a Python script"
            ),
            (
                ["--auth-user-script", "users.py", "--auth-type", "NTLM"],
                "--auth-type must be Basic or Digest, not 'NTLM'"
            ),
            (["--auth-type", "Basic"], "--auth-type needs --auth-user-script (the script that authenticates users)"),
            (
                ["--auth-group-script", "groups.py"],
                "--auth-group-script needs --auth-user-script (the script that authenticates users)"
            ),
            (
                ["--auth-user-script", "users.py", "--auth-group", "x"],
                "--auth-group needs --auth-group-script (the script that lists a user's groups)"
            ),
            (
                ["--trust-proxy", "10.0.0.1"],
                "--trust-proxy needs --trust-proxy-header (the headers the proxy sets, e.g. X-Forwarded-For)"
            ),
            (
                ["--trust-proxy-header", "X-For"],
                "--trust-proxy-header 'X-For' is not a proxy header mod_wsgi uses; use one of \(AccessHooks.proxyHeaders.joined(separator: ", "))"
            ),
            (
                ["--trust-proxy-header", "X-Real-IP", "--trust-proxy", "10.0.0"],
                "--trust-proxy '10.0.0' is not an IP address or subnet (e.g. 10.0.0.1 or 10.0.0.0/8)"
            ),
        ]
        for (args, message) in cases {
            XCTAssertThrowsError(try config(args), "\(args)") {
                XCTAssertEqual("\($0)", message)
            }
        }
    }

    func testAddresses() {
        for good in ["127.0.0.1", "10.0.0.0/8", "::1", "2001:db8::/32", "0.0.0.0/32"] {
            XCTAssertTrue(AccessHooks.isAddressOrSubnet(good), good)
        }
        for bad in ["", "10.0.0", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/+8", "host.example", "10.0.0.0/0"] {
            XCTAssertFalse(AccessHooks.isAddressOrSubnet(bad), bad)
        }
    }
}
