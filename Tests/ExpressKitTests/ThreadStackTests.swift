import XCTest

@testable import ExpressKit

/// ThreadStackSize: 256 KB where Apache's threads only relay to the daemon, Python's 8 MB where
/// they run Python (embedded mode, access/auth/dispatch scripts): a recursing __iter__ killed
/// the child on 256 KB (issue 9, hostile apps).
final class ThreadStackTests: XCTestCase {
    func render(_ args: [String]) throws -> String {
        try Fixture.make()
        try Sys.writeFile("\(AccessHooksTests.app)/access.py", "")
        try Sys.writeFile("\(AccessHooksTests.app)/dispatch.py", "")
        return try Fixture.render(
            try ResolvedConfig.resolve(
                try parse(Fixture.base + ["hello.py"] + args),
                command: "setup-server", context: Fixture.context))
    }

    func testStackFollowsWherePythonRuns() throws {
        let hooks = self
        XCTAssertTrue(try hooks.render([]).contains("ThreadStackSize 262144\n"))
        XCTAssertTrue(try hooks.render(["--embedded-mode"]).contains("ThreadStackSize 8388608\n"))
        XCTAssertTrue(try hooks.render(["--host-access-script", "access.py"]).contains("ThreadStackSize 8388608\n"))
        XCTAssertTrue(try hooks.render(["--dispatch-script", "dispatch.py"]).contains("ThreadStackSize 8388608\n"))
    }
}
