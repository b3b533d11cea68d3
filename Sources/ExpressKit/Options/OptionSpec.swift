// One row of the option table: everything about one option of start-server/setup-server.
// The fast parser, the swift-argument-parser declaration (so --help and the completion
// scripts), `Argv.normalize` and the JSON export all read these rows; nothing else declares
// an option. See `OptionTable` for the rows and ARCHITECTURE.md for how to add one.
import ArgumentParser

public struct OptionSpec: Sendable {
    /// How the option is written on the command line.
    public enum Kind: String, Sendable {
        case flag  // --name
        case value  // --name VALUE (the last one given wins)
        case repeatable  // --name VALUE, any number of times, in order
        case pair  // --name VALUE VALUE, any number of times, in order
    }

    /// What one value must parse as (flags have none).
    public enum ValueType: String, Sendable { case none, string, int, double }

    public enum Status: Sendable, Equatable {
        case implemented
        /// Parsed (so a malformed value is still reported as such), then refused with
        /// "<name> is not supported yet[ (reason)]; leave it out".
        case refused(reason: String)
        /// Deliberately not offered (removed from mod_wsgi, say): parsed, then refused with
        /// "<name> is not supported: <reason>; leave it out"; --help gives the reason.
        case withdrawn(reason: String)
    }

    /// The heading the option is listed under in --help.
    public enum Section: String, Sendable, CaseIterable {
        case application = "Application", server = "Server", processes = "Processes"
        case logging = "Logging", apache = "Apache", debugging = "Debugging"
    }

    public let name: String
    public let aliases: [String]
    public let kind: Kind
    public let valueType: ValueType
    public let metavar: String?
    public let help: String
    public let hidden: Bool
    public let status: Status
    public internal(set) var section: Section = .application

    /// Parses one value and lands it in the options model; false when the value is malformed.
    /// Refused options only parse (they land nowhere).
    let land: @Sendable (inout ServerOptions, String) -> Bool
    /// The model's default for this option, for the export (nil: none, or computed at resolve time).
    let defaultValue: @Sendable (ServerOptions) -> OptionJSON?

    public var names: [String] { [name] + aliases }

    /// The text --help shows.
    public var helpText: String {
        switch status {
        case .implemented: return help
        case .refused(let reason):
            return help + (reason.isEmpty ? " [not supported yet]" : " [not supported yet: \(reason)]")
        case .withdrawn(let reason): return help + " [not supported: \(reason)]"
        }
    }
}

/// The types a single option value can have: what ArgumentParser converts, so that both
/// parsers accept and reject the same strings.
public protocol OptionScalar: ExpressibleByArgument, Decodable, Sendable {
    static var valueType: OptionSpec.ValueType { get }
    var optionJSON: OptionJSON { get }
}

extension String: OptionScalar {
    public static var valueType: OptionSpec.ValueType { .string }
    public var optionJSON: OptionJSON { .string(self) }
}

extension Int: OptionScalar {
    public static var valueType: OptionSpec.ValueType { .int }
    public var optionJSON: OptionJSON { .int(self) }
}

extension Double: OptionScalar {
    public static var valueType: OptionSpec.ValueType { .double }
    public var optionJSON: OptionJSON { .double(self) }
}

/// The two values of a pair option (`--url-alias URL-PATH DIRECTORY-PATH`).
public struct OptionPair: Equatable, Sendable {
    public var first: String
    public var second: String

    public init(_ first: String, _ second: String) {
        self.first = first
        self.second = second
    }
}

// MARK: - building rows

public typealias OptionTarget<Value> = WritableKeyPath<ServerOptions, Value> & Sendable

extension OptionSpec {
    init(
        name: String, aliases: [String], kind: Kind, valueType: ValueType, metavar: String?, help: String,
        hidden: Bool, status: Status, land: @escaping @Sendable (inout ServerOptions, String) -> Bool,
        defaultValue: @escaping @Sendable (ServerOptions) -> OptionJSON?
    ) {
        self.name = name
        self.aliases = aliases
        self.kind = kind
        self.valueType = valueType
        self.metavar = metavar
        self.help = help
        self.hidden = hidden
        self.status = status
        self.land = land
        self.defaultValue = defaultValue
    }

    /// `--name`: sets a Bool to true.
    static func flag(
        _ name: String, _ target: OptionTarget<Bool>, aliases: [String] = [], hidden: Bool = false,
        help: String
    ) -> OptionSpec {
        OptionSpec(
            name: name, aliases: aliases, kind: .flag, valueType: .none, metavar: nil, help: help,
            hidden: hidden, status: .implemented,
            land: { o, _ in
                o[keyPath: target] = true; return true
            },
            defaultValue: { .bool($0[keyPath: target]) })
    }

    /// `--name VALUE` into an optional (nil: not given; the default is computed when resolving).
    static func value<T: OptionScalar>(
        _ name: String, _ target: OptionTarget<T?>, _ metavar: String,
        aliases: [String] = [], hidden: Bool = false, help: String
    ) -> OptionSpec {
        scalar(
            name, target, metavar, aliases: aliases, hidden: hidden, help: help,
            from: { (v: T) in v }, json: { $0?.optionJSON })
    }

    /// `--name VALUE` into a property whose initial value is the option's default.
    static func value<T: OptionScalar>(
        _ name: String, _ target: OptionTarget<T>, _ metavar: String,
        aliases: [String] = [], hidden: Bool = false, help: String
    ) -> OptionSpec {
        scalar(
            name, target, metavar, aliases: aliases, hidden: hidden, help: help,
            from: { (v: T) in v }, json: { $0.optionJSON })
    }

    /// `--name VALUE` parsed as a T into a property of type `V` (T or T?).
    private static func scalar<T: OptionScalar, V>(
        _ name: String, _ target: OptionTarget<V>, _ metavar: String, aliases: [String], hidden: Bool, help: String,
        from: @escaping @Sendable (T) -> V, json: @escaping @Sendable (V) -> OptionJSON?
    ) -> OptionSpec {
        OptionSpec(
            name: name, aliases: aliases, kind: .value, valueType: T.valueType, metavar: metavar, help: help,
            hidden: hidden, status: .implemented,
            land: { o, s in
                guard let v = T(argument: s) else { return false }
                o[keyPath: target] = from(v)
                return true
            },
            defaultValue: { json($0[keyPath: target]) })
    }

    /// `--name VALUE`, repeatable: appended in order.
    static func repeatable(
        _ name: String, _ target: OptionTarget<[String]>, _ metavar: String,
        aliases: [String] = [], hidden: Bool = false, help: String
    ) -> OptionSpec {
        OptionSpec(
            name: name, aliases: aliases, kind: .repeatable, valueType: .string, metavar: metavar, help: help,
            hidden: hidden, status: .implemented,
            land: { o, s in
                o[keyPath: target].append(s); return true
            },
            defaultValue: { .array($0[keyPath: target].map(OptionJSON.string)) })
    }

    /// `--name VALUE VALUE`, repeatable: appended in order. `Argv.normalize` has joined the
    /// two values with `Argv.pairSeparator` by the time a parser sees them.
    static func pair(
        _ name: String, _ target: OptionTarget<[OptionPair]>, _ metavar: String,
        aliases: [String] = [], hidden: Bool = false, help: String
    ) -> OptionSpec {
        OptionSpec(
            name: name, aliases: aliases, kind: .pair, valueType: .string, metavar: metavar, help: help,
            hidden: hidden, status: .implemented,
            land: { o, s in
                let (a, b) = Argv.pair(s)
                o[keyPath: target].append(OptionPair(a, b))
                return true
            },
            defaultValue: { _ in .array([]) })
    }

    /// An option of mod_wsgi-express 4.9 that is not implemented: parsed, then refused.
    static func refused(
        _ kind: Kind, _ name: String, type: ValueType = .string, metavar: String? = nil,
        aliases: [String] = [], hidden: Bool = false, reason: String = "",
        help: String
    ) -> OptionSpec {
        parsedOnly(
            kind, name, type: type, metavar: metavar, aliases: aliases, hidden: hidden,
            status: .refused(reason: reason), help: help)
    }

    /// An option of mod_wsgi-express 4.9 refused on purpose, with the reason (in --help too).
    static func withdrawn(
        _ kind: Kind, _ name: String, type: ValueType = .string, metavar: String? = nil,
        aliases: [String] = [], hidden: Bool = false, reason: String,
        help: String
    ) -> OptionSpec {
        parsedOnly(
            kind, name, type: type, metavar: metavar, aliases: aliases, hidden: hidden,
            status: .withdrawn(reason: reason), help: help)
    }

    private static func parsedOnly(
        _ kind: Kind, _ name: String, type: ValueType, metavar: String?,
        aliases: [String], hidden: Bool, status: Status, help: String
    ) -> OptionSpec {
        let valueType: ValueType = kind == .flag ? .none : type
        return OptionSpec(
            name: name, aliases: aliases, kind: kind, valueType: valueType, metavar: metavar,
            help: help, hidden: hidden, status: status,
            land: { _, s in
                switch valueType {
                case .int: return Int(argument: s) != nil
                case .double: return Double(argument: s) != nil
                case .none, .string: return true
                }
            },
            defaultValue: { _ in nil })
    }
}
