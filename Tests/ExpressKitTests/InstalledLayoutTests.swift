import XCTest

@testable import ExpressKit

#if canImport(Glibc)
import Glibc
#endif

/// The layout `pip install` gives: <venv>/bin/mod_wsgi-express, <venv>/pyvenv.cfg and the
/// module in <venv>/lib/python3.X/site-packages/mod_wsgi/server/.
final class InstalledLayoutTests: XCTestCase {
    var venv = ""

    override func setUpWithError() throws {
        var template = Array("/tmp/mwe-layout-XXXXXX".utf8CString)
        venv = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        for d in [
            "bin", "lib", "lib/python3.11", "lib/python3.11/site-packages", "lib/python3.11/site-packages/mod_wsgi",
            "lib/python3.11/site-packages/mod_wsgi/server",
        ] {
            try Sys.makeDirectory("\(venv)/\(d)")
        }
        try Sys.writeFile("\(venv)/pyvenv.cfg", "home = /usr/bin\nversion = 3.11.2\n")
        try Sys.writeFile("\(venv)/bin/mod_wsgi-express", "", mode: 0o755)
    }

    override func tearDownWithError() throws {
        _ = venv.withCString { p in system("rm -rf '\(String(cString: p))'") }
    }

    var module: String {
        "\(venv)/lib/python3.11/site-packages/mod_wsgi/server/mod_wsgi-py311.cpython-311-x86_64-linux-gnu.so"
    }

    func testTheInstalledModuleAndVenvAreFound() throws {
        try Sys.writeFile(module, "")
        // The daemon runtime beside it sorts first ('-' < '.') and is not the module.
        try Sys.writeFile(
            "\(venv)/lib/python3.11/site-packages/mod_wsgi/server/mod_wsgi-py311-daemon.cpython-311-x86_64-linux-gnu.so",
            "")
        let info = try ModuleInfo.locate(environment: [:], executable: "\(venv)/bin/mod_wsgi-express")
        XCTAssertEqual(info.path, module)
        XCTAssertEqual(info.venv, venv)
        // $MOD_WSGI_MODULE still wins.
        let other = try ModuleInfo.locate(
            environment: ["MOD_WSGI_MODULE": "\(venv)/pyvenv.cfg"],
            executable: "\(venv)/bin/mod_wsgi-express")
        XCTAssertEqual(other.path, "\(venv)/pyvenv.cfg")
    }

    func testWithoutTheModuleTheErrorNamesWhereItLooked() {
        XCTAssertThrowsError(try ModuleInfo.locate(environment: [:], executable: "\(venv)/bin/mod_wsgi-express")) {
            XCTAssertTrue("\($0)".contains("\(venv)/bin/libmod_wsgi.so"), "\($0)")
        }
    }

    func testTheVenvOfTheCommandIsThePythonHomeBeforeVirtualEnv() throws {
        try Sys.writeFile(module, "")
        let info = try ModuleInfo.locate(environment: [:], executable: "\(venv)/bin/mod_wsgi-express")
        XCTAssertEqual(
            try PythonHome.resolve(option: nil, environment: ["VIRTUAL_ENV": "/usr"], module: info, cwd: "/"), venv)
        XCTAssertEqual(try PythonHome.resolve(option: "/usr", environment: [:], module: info, cwd: "/"), "/usr")
        XCTAssertEqual(PythonHome.base(ofVenv: venv), "/usr")
        XCTAssertNil(PythonHome.base(ofVenv: "/usr"))
    }
}
