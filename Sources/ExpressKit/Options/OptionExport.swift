/// `mod_wsgi-express start-server --list-options-json` (hidden): the option table as JSON, for
/// tools that wrap the command (a Django `runmodwsgi` that forwards its options, say). One
/// object per option, in --help order:
///
///     {"name": "--port", "aliases": [], "dest": "port", "kind": "value", "type": "int",
///      "metavar": "NUMBER", "default": 8000, "help": "...", "section": "Server",
///      "hidden": false, "status": "implemented", "reason": null}
///
/// kind is flag, value, repeatable or pair (two values); type is null for flags; default is
/// null when none applies or it is computed at run time (the help says from what); status is
/// implemented or refused (refused options are parsed, then refused with the reason).
public enum OptionExport {
    public static func json() -> String {
        let defaults = ServerOptions()
        let rows = OptionTable.all.map { row -> OptionJSON in
            var reason: OptionJSON = .null
            if case .refused(let r) = row.status { reason = .string(r) }
            return .object([
                ("name", .string(row.name)),
                ("aliases", .array(row.aliases.map(OptionJSON.string))),
                ("dest", .string(String(row.name.dropFirst(2)).replacingAll("-", with: "_"))),
                ("kind", .string(row.kind.rawValue)),
                ("type", row.valueType == .none ? .null : .string(row.valueType.rawValue)),
                ("metavar", row.metavar.map(OptionJSON.string) ?? .null),
                ("default", row.defaultValue(defaults) ?? .null),
                ("help", .string(row.help)),
                ("section", .string(row.section.rawValue)),
                ("hidden", .bool(row.hidden)),
                ("status", .string(row.status == .implemented ? "implemented" : "refused")),
                ("reason", reason),
            ])
        }
        return "[\n" + rows.map { "  " + $0.text }.joined(separator: ",\n") + "\n]\n"
    }
}

/// A JSON value, written without Foundation (the command starts in milliseconds).
public indirect enum OptionJSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([OptionJSON])
    case object([(String, OptionJSON)])

    public static func == (a: OptionJSON, b: OptionJSON) -> Bool { a.text == b.text }

    public var text: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? "\(d)" : "null"
        case .string(let s): return Self.quote(s)
        case .array(let a): return "[" + a.map(\.text).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.map { Self.quote($0.0) + ": " + $0.1.text }.joined(separator: ", ") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
