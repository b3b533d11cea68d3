// The option table declared to swift-argument-parser, for what the fast parser leaves to it:
// --help, the completion scripts, and parse errors in its usual words. ArgumentParser finds a
// command's arguments by reflecting (`Mirror`) over a value of the type and decodes them by
// key; here the mirror lists one `Option`/`Flag` built from each row, and decoding lands each
// parsed value through the same row as the fast parser does. No option is declared here.
import ArgumentParser

/// The arguments of start-server/setup-server: the script and one group per table section.
public struct ServerArguments: ParsableArguments, CustomReflectable {
    public var options = ServerOptions()

    public init() {}

    public init(options: ServerOptions) { self.options = options }

    static let scriptHelp = ArgumentHelp(
        "The WSGI script file; a module name with --application-type module, or a directory with --application-type static. Without it, a welcome page is served.",
        valueName: "script")

    public var customMirror: Mirror {
        var children: [Mirror.Child] = [(label: "script", value: Argument<String?>(help: Self.scriptHelp))]
        for section in OptionSpec.Section.allCases {
            children.append((label: section.key, value: section.optionGroup()))
        }
        return Mirror(self, children: children)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: OptionKey.self)
        options.script = try c.decode(Argument<String?>.self, forKey: OptionKey("script")).wrappedValue
        for section in OptionSpec.Section.allCases {
            for (row, value) in try section.decodeGroup(c) {
                guard OptionTable.all[row].land(&options, value) else {
                    throw ValidationError("The value '\(value)' is invalid for '\(OptionTable.all[row].name)'")
                }
                options.givenRows.insert(row)
            }
        }
    }
}

/// The options of one section, as one ArgumentParser option group (its --help heading).
struct SectionArguments<Tag: SectionTag>: ParsableArguments, CustomReflectable {
    /// (row index into `OptionTable.all`, value as written) for each value given.
    var values: [(Int, String)] = []

    init() {}

    var customMirror: Mirror {
        Mirror(self, children: Self.rows.map { (label: Self.key($0.1), value: $0.1.argumentWrapper()) })
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: OptionKey.self)
        for (index, row) in Self.rows {
            for value in try row.decodeValues(c, key: OptionKey(Self.key(row))) {
                values.append((index, value))
            }
        }
    }

    static var rows: [(Int, OptionSpec)] {
        OptionTable.all.enumerated().filter { $0.element.section == Tag.section }.map { ($0.offset, $0.element) }
    }

    static func key(_ row: OptionSpec) -> String { String(row.name.dropFirst(2)) }
}

protocol SectionTag: Sendable { static var section: OptionSpec.Section { get } }
enum ApplicationSection: SectionTag { static var section: OptionSpec.Section { .application } }
enum ServerSection: SectionTag { static var section: OptionSpec.Section { .server } }
enum ProcessesSection: SectionTag { static var section: OptionSpec.Section { .processes } }
enum LoggingSection: SectionTag { static var section: OptionSpec.Section { .logging } }
enum ApacheSection: SectionTag { static var section: OptionSpec.Section { .apache } }
enum DebuggingSection: SectionTag { static var section: OptionSpec.Section { .debugging } }

extension OptionSpec.Section {
    var key: String { rawValue.lowercased() }

    func optionGroup() -> Any {
        switch self {
        case .application: return OptionGroup<SectionArguments<ApplicationSection>>(title: rawValue)
        case .server: return OptionGroup<SectionArguments<ServerSection>>(title: rawValue)
        case .processes: return OptionGroup<SectionArguments<ProcessesSection>>(title: rawValue)
        case .logging: return OptionGroup<SectionArguments<LoggingSection>>(title: rawValue)
        case .apache: return OptionGroup<SectionArguments<ApacheSection>>(title: rawValue)
        case .debugging: return OptionGroup<SectionArguments<DebuggingSection>>(title: rawValue)
        }
    }

    func decodeGroup(_ c: KeyedDecodingContainer<OptionKey>) throws -> [(Int, String)] {
        let k = OptionKey(key)
        switch self {
        case .application:
            return try c.decode(OptionGroup<SectionArguments<ApplicationSection>>.self, forKey: k).wrappedValue.values
        case .server:
            return try c.decode(OptionGroup<SectionArguments<ServerSection>>.self, forKey: k).wrappedValue.values
        case .processes:
            return try c.decode(OptionGroup<SectionArguments<ProcessesSection>>.self, forKey: k).wrappedValue.values
        case .logging:
            return try c.decode(OptionGroup<SectionArguments<LoggingSection>>.self, forKey: k).wrappedValue.values
        case .apache:
            return try c.decode(OptionGroup<SectionArguments<ApacheSection>>.self, forKey: k).wrappedValue.values
        case .debugging:
            return try c.decode(OptionGroup<SectionArguments<DebuggingSection>>.self, forKey: k).wrappedValue.values
        }
    }
}

extension OptionSpec {
    var argumentNames: NameSpecification { NameSpecification(names.map { .customLong(String($0.dropFirst(2))) }) }

    var argumentHelp: ArgumentHelp {
        ArgumentHelp(helpText, valueName: metavar, visibility: hidden ? .hidden : .default)
    }

    /// The ArgumentParser property wrapper this row is declared as. Values are always
    /// optional/empty to ArgumentParser: defaults are ours, so its help shows none.
    func argumentWrapper() -> Any {
        switch (kind, valueType) {
        case (.flag, _): return Flag(wrappedValue: false, name: argumentNames, help: argumentHelp)
        case (.value, .int): return Option<Int?>(name: argumentNames, help: argumentHelp)
        case (.value, .double): return Option<Double?>(name: argumentNames, help: argumentHelp)
        case (.value, _): return Option<String?>(name: argumentNames, help: argumentHelp)
        case (.repeatable, _), (.pair, _):
            return Option<[String]>(wrappedValue: [], name: argumentNames, help: argumentHelp)
        }
    }

    /// The values ArgumentParser parsed for this row, as written (numbers printed back exactly).
    func decodeValues(_ c: KeyedDecodingContainer<OptionKey>, key: OptionKey) throws -> [String] {
        switch (kind, valueType) {
        case (.flag, _): return try c.decode(Flag<Bool>.self, forKey: key).wrappedValue ? [""] : []
        case (.value, .int): return try c.decode(Option<Int?>.self, forKey: key).wrappedValue.map { [String($0)] } ?? []
        case (.value, .double):
            return try c.decode(Option<Double?>.self, forKey: key).wrappedValue.map { ["\($0)"] } ?? []
        case (.value, _): return try c.decode(Option<String?>.self, forKey: key).wrappedValue.map { [$0] } ?? []
        case (.repeatable, _), (.pair, _): return try c.decode(Option<[String]>.self, forKey: key).wrappedValue
        }
    }
}

struct OptionKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
