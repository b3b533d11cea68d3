/// The table-driven parse of start-server/setup-server's command line (after
/// `Argv.normalize`): what runs on every start, without swift-argument-parser's cost (it
/// reflects over all 144 options several times: 6 ms, a third of setup-server's budget).
///
/// Only the plain forms are taken: `--name value`, `--name=value`, flags, one positional.
/// Anything else (--help, `--`, short options, unknown names, malformed numbers, a missing
/// value, a value that looks like an option) returns nil, and `ServerArguments` (the same
/// table, declared to swift-argument-parser) parses it and reports errors its usual way. The
/// tests run every row through both and check they agree.
public enum OptionParser {
    public static func parse(_ args: [String]) -> ServerOptions? {
        var options = ServerOptions()
        let index = OptionTable.index
        let rows = OptionTable.all
        var i = 0
        while i < args.count {
            let arg = args[i]
            i += 1
            guard arg.hasPrefix("-") else {
                if options.script != nil { return nil }
                options.script = arg
                continue
            }
            guard arg.hasPrefix("--"), arg.count > 2 else { return nil }
            var name = arg
            var value: String?
            if let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                value = String(arg[arg.index(after: eq)...])
            }
            guard let r = index[name] else { return nil }
            let row = rows[r]
            if row.kind == .flag {
                if value != nil { return nil }
                value = ""
            } else if value == nil {
                guard i < args.count, !args[i].hasPrefix("-") || args[i] == "-" else { return nil }
                value = args[i]
                i += 1
            }
            guard row.land(&options, value!) else { return nil }
            options.givenRows.insert(r)
        }
        return options
    }
}
