/// What mod_wsgi-express (optparse) does to the command line before options are parsed,
/// so that scripts written for it keep working:
/// - `$NAME` and `${NAME}` are expanded from the environment (`os.path.expandvars`);
/// - a long option may be abbreviated to any unique prefix (`--proc 2`);
/// - options taking two values (`--url-alias URL PATH`) get both; they are handed to
///   swift-argument-parser as one value joined by `pairSeparator`.
public enum Argv {
    public static let pairSeparator: Character = "\u{1F}"

    static let extraLongOptions = ["--help", "--version"]

    public static func normalize(_ args: [String], environment: [String: String]) throws -> [String] {
        guard let command = args.first else { return args }
        let servers = ["start-server", "setup-server"]
        var out = [command]
        let rest = Array(args.dropFirst()).map { expandVariables($0, environment) }
        guard servers.contains(command) else { return out + rest }

        let names = OptionTable.all.flatMap(\.names) + extraLongOptions
        var i = 0
        while i < rest.count {
            let a = rest[i]
            if a == "--" { out.append(contentsOf: rest[i...]); break }
            guard a.hasPrefix("--") else { out.append(a); i += 1; continue }
            var name = a
            var inlineValue: String?
            if let eq = a.firstIndex(of: "=") {
                name = String(a[..<eq])
                inlineValue = String(a[a.index(after: eq)...])
            }
            if !names.contains(name) {
                let matches = names.filter { $0.hasPrefix(name) }
                if matches.count == 1 {
                    name = matches[0]
                } else if matches.count > 1 {
                    throw ExpressError.badOption(
                        "ambiguous option \(name): could be \(matches.joined(separator: ", "))")
                }
            }
            if let row = OptionTable.row(name), row.kind == .pair {
                var values: [String] = []
                if let v = inlineValue { values.append(v) }
                var j = i + 1
                while values.count < 2 && j < rest.count { values.append(rest[j]); j += 1 }
                guard values.count == 2 else {
                    throw ExpressError.badOption("\(name) takes two values: \(name) \(row.metavar ?? "VALUE VALUE")")
                }
                out.append(name)
                out.append(values[0] + String(pairSeparator) + values[1])
                i = j
                continue
            }
            out.append(inlineValue.map { name + "=" + $0 } ?? name)
            i += 1
        }
        return out
    }

    /// Splits a value joined by `normalize` back into its two parts.
    public static func pair(_ v: String) -> (String, String) {
        guard let i = v.firstIndex(of: pairSeparator) else { return (v, "") }
        return (String(v[..<i]), String(v[v.index(after: i)...]))
    }

    /// `os.path.expandvars`: `$NAME` / `${NAME}` with NAME of letters, digits and '_';
    /// unknown variables are left as they are.
    public static func expandVariables(_ s: String, _ env: [String: String]) -> String {
        guard s.contains("$") else { return s }
        let chars = Array(s)
        var out = ""
        var i = 0
        func isNameChar(_ c: Character) -> Bool { c == "_" || (c.isASCII && (c.isLetter || c.isNumber)) }
        while i < chars.count {
            let c = chars[i]
            guard c == "$", i + 1 < chars.count else { out.append(c); i += 1; continue }
            if chars[i + 1] == "{" {
                if let close = chars[(i + 2)...].firstIndex(of: "}") {
                    let name = String(chars[(i + 2)..<close])
                    if let v = env[name] { out += v } else { out += String(chars[i...close]) }
                    i = close + 1
                    continue
                }
                out.append(c); i += 1; continue
            }
            var j = i + 1
            while j < chars.count && isNameChar(chars[j]) { j += 1 }
            if j == i + 1 { out.append(c); i += 1; continue }
            let name = String(chars[(i + 1)..<j])
            if let v = env[name] { out += v } else { out += String(chars[i..<j]) }
            i = j
        }
        return out
    }
}
