import ArgumentParser
import Foundation
import XCTest

@testable import ExpressKit

/// Every row of the option table, through both parsers and everything derived from it.
final class OptionTableTests: XCTestCase {
    /// A well-formed value for a row, as `Argv.normalize` hands it on.
    func sample(_ row: OptionSpec) -> String {
        switch (row.kind, row.valueType) {
        case (.flag, _): return ""
        case (.pair, _): return "one\u{1F}two"
        case (_, .int): return "7"
        case (_, .double): return "0.25"
        default: return "some-value"
        }
    }

    func commandLine(_ row: OptionSpec, value: String? = nil) -> [String] {
        row.kind == .flag ? [row.name] : [row.name, value ?? sample(row)]
    }

    /// One command line with every row (and alias), each value option twice (the last wins,
    /// repeatables append): ArgumentParser in a debug build takes about a second per parse.
    func testEveryRowParsesTheSameThroughBothParsers() throws {
        var line = ["app.py"]
        for row in OptionTable.all {
            for name in row.names {
                line += [name] + (row.kind == .flag ? [] : [sample(row)])
                if row.kind != .flag { line += [name, row.kind == .pair ? "three\u{1F}four" : sample(row)] }
            }
        }
        let fast = try XCTUnwrap(OptionParser.parse(line))
        let slow = try ServerArguments.parse(line).options
        XCTAssertEqual(fast, slow)
        XCTAssertEqual(fast.given, OptionTable.all.map(\.name))
        XCTAssertEqual(slow.given, OptionTable.all.map(\.name))
        XCTAssertEqual(fast.urlAliases, [OptionPair("one", "two"), OptionPair("three", "four")])
        XCTAssertEqual(fast.pythonPaths, ["some-value", "some-value"])
        XCTAssertEqual(fast.port, 7)
        XCTAssertEqual(fast.initialWorkers, 0.25)
    }

    func testEveryRowLandsItsValue() throws {
        for row in OptionTable.all where row.status == .implemented {
            var o = ServerOptions()
            XCTAssertTrue(row.land(&o, sample(row)), row.name)
            o.givenRows = []
            XCTAssertNotEqual(o, ServerOptions(), "\(row.name) does not land in ServerOptions")
        }
    }

    func testMalformedNumbersAreRejectedByBothParsers() {
        let numeric = OptionTable.all.filter { $0.valueType == .int || $0.valueType == .double }
        XCTAssertGreaterThan(numeric.count, 30)
        for row in numeric {
            XCTAssertNil(OptionParser.parse(commandLine(row, value: "not-a-number")), row.name)
        }
        // ArgumentParser's error, for one row of each value type (a second per parse in debug).
        for name in ["--port", "--initial-workers", "--https-port"] {
            let line = [name, "not-a-number"]
            XCTAssertThrowsError(try ServerArguments.parse(line), "\(line)") {
                XCTAssertEqual(
                    ServerArguments.message(for: $0).split(separator: "\n").first.map(String.init),
                    "The value 'not-a-number' is invalid for '\(name) <\(OptionTable.row(name)!.metavar!)>'")
            }
        }
    }

    func testRefusedRowsAreRefusedByName() throws {
        let refused = OptionTable.all.compactMap { row -> (OptionSpec, String)? in
            if case .refused(let reason) = row.status { return (row, reason) } else { return nil }
        }
        for (row, reason) in refused {
            // issue 15: no option is refused without saying why (in --help too).
            XCTAssertFalse(reason.isEmpty, "\(row.name) is refused without a reason")
            let o = try XCTUnwrap(OptionParser.parse(commandLine(row)))
            XCTAssertThrowsError(try ResolvedConfig.refuseUnsupported(o)) {
                XCTAssertEqual($0 as? ExpressError, .notSupportedYet(option: row.name, reason: reason))
                XCTAssertEqual(
                    "\($0)", "\(row.name) is not supported yet\(reason.isEmpty ? "" : " (\(reason))"); leave it out")
            }
        }
        for row in OptionTable.all where row.status == .implemented {
            XCTAssertNoThrow(try ResolvedConfig.refuseUnsupported(XCTUnwrap(OptionParser.parse(commandLine(row)))))
        }
    }

    func testWithdrawnRowsAreRefusedWithTheirReason() throws {
        let withdrawn = OptionTable.all.compactMap { row -> (OptionSpec, String)? in
            if case .withdrawn(let reason) = row.status { return (row, reason) } else { return nil }
        }
        XCTAssertEqual(
            Set(withdrawn.map { $0.0.name }),
            [
                "--verbose-debugging", "--with-php5", "--enable-docs", "--with-newrelic", "--with-newrelic-agent",
                "--with-newrelic-platform", "--newrelic-config-file", "--newrelic-environment",
            ])
        for (row, reason) in withdrawn {
            XCTAssertFalse(reason.isEmpty, row.name)
            let o = try XCTUnwrap(OptionParser.parse(commandLine(row)))
            XCTAssertThrowsError(try ResolvedConfig.refuseUnsupported(o)) {
                XCTAssertEqual("\($0)", "\(row.name) is not supported: \(reason); leave it out")
            }
            XCTAssertEqual(row.helpText, row.help + " [not supported: \(reason)]")
        }
    }

    func testHelpListsEveryVisibleRowWithItsMetavar() {
        let help = StartServer.helpMessage(columns: 10_000)
        for row in OptionTable.all {
            let shown = help.contains("  \(row.names.joined(separator: ", "))" + (row.metavar.map { " <\($0)>" } ?? ""))
            XCTAssertEqual(shown, !row.hidden, row.name)
            if !row.hidden, case .refused = row.status {
                XCTAssertTrue(help.contains(row.help + " [not supported yet"), row.name)
            }
            if !row.hidden, case .withdrawn(let reason) = row.status {
                XCTAssertTrue(help.contains(row.help + " [not supported: \(reason)]"), row.name)
            }
        }
        for section in OptionSpec.Section.allCases {
            XCTAssertTrue(help.contains("\n\(section.rawValue.uppercased()):\n"), section.rawValue)
        }
    }

    func testCompletionScriptsOfferEveryVisibleRow() {
        let bash = Express.completionScript(for: .bash)
        for row in OptionTable.all where !row.hidden {
            XCTAssertTrue(bash.contains(row.name), row.name)
        }
    }

    /// The default is written once, as the model's initial value; the help text says it in words.
    func testHelpStatesEachStaticDefault() {
        let defaults = ServerOptions()
        for row in OptionTable.all where row.kind == .value {
            guard let d = row.defaultValue(defaults) else { continue }
            let text: String
            switch d {
            case .int(let i): text = String(i)
            case .string(let s): text = s
            default: text = d.text
            }
            let says =
                row.help.contains(text) || row.help.contains("by default") || row.help.contains("the default")
                || row.help.contains("Defaults to --")  // 0: as another option
            XCTAssertTrue(says, "\(row.name): help does not state the default \(text)")
        }
    }

    func testJSONExport() throws {
        let data = Data(OptionExport.json().utf8)
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        XCTAssertEqual(list.map { $0["name"] as? String }, OptionTable.all.map(\.name))
        let port = try XCTUnwrap(list.first { $0["name"] as? String == "--port" })
        XCTAssertEqual(port["kind"] as? String, "value")
        XCTAssertEqual(port["type"] as? String, "int")
        XCTAssertEqual(port["default"] as? Int, 8000)
        XCTAssertEqual(port["metavar"] as? String, "NUMBER")
        XCTAssertEqual(port["status"] as? String, "implemented")
        XCTAssertEqual(port["section"] as? String, "Server")
        let alias = try XCTUnwrap(list.first { $0["name"] as? String == "--url-alias" })
        XCTAssertEqual(alias["kind"] as? String, "pair")
        XCTAssertEqual(alias["metavar"] as? String, "URL-PATH FILE-PATH|DIRECTORY-PATH")
        let https = try XCTUnwrap(list.first { $0["name"] as? String == "--https-port" })
        XCTAssertEqual(https["status"] as? String, "implemented")
        XCTAssertEqual(https["type"] as? String, "int")
        let php = try XCTUnwrap(list.first { $0["name"] as? String == "--with-php5" })
        XCTAssertEqual(php["status"] as? String, "withdrawn")
        XCTAssertEqual(
            php["reason"] as? String, "mod_wsgi 6.0 removed it (PHP 5 is end of life); load PHP with --include-file")
        let flag = try XCTUnwrap(list.first { $0["name"] as? String == "--access-log" })
        XCTAssertEqual(flag["default"] as? Bool, false)
        XCTAssertTrue(flag["type"] is NSNull)
        XCTAssertEqual(OptionJSON.quote("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"")
    }
}
