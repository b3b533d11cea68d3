/// The files of templates/ are read at run time (they are the product's readable source of
/// truth, editable without a rebuild). The directory is found in this order:
///   1. $MOD_WSGI_EXPRESS_TEMPLATES
///   2. a `templates/` directory beside the executable or up to four levels above it
///      (a SwiftPM build tree: <repo>/.build/<triple>/release/mod_wsgi-express -> <repo>/templates)
///   3. <prefix>/share/mod_wsgi-express/templates for an installed <prefix>/bin/mod_wsgi-express
///   4. the templates/ directory of the source tree this binary was compiled from.
public enum Templates {
    static let marker = "httpd.conf.mustache"

    public static func candidates(environment env: [String: String], executable: String?) -> [String] {
        var c: [String] = []
        if let t = env["MOD_WSGI_EXPRESS_TEMPLATES"], !t.isEmpty { c.append(t) }
        if let exe = executable {
            var dir = Path.dirname(exe)
            for _ in 0..<5 {
                c.append(Path.join(dir, "templates"))
                if dir == "/" { break }
                dir = Path.dirname(dir)
            }
            c.append(Path.normalize(Path.join(Path.dirname(exe), "../share/mod_wsgi-express/templates")))
        }
        // #filePath is <repo>/Sources/ExpressKit/Templates.swift
        c.append(Path.normalize(Path.join(Path.dirname(#filePath), "../../templates")))
        return c
    }

    public static func directory(environment env: [String: String], executable: String?) throws -> String {
        let c = candidates(environment: env, executable: executable)
        if let explicit = env["MOD_WSGI_EXPRESS_TEMPLATES"], !explicit.isEmpty {
            guard Sys.isFile(Path.join(explicit, marker)) else {
                throw ExpressError.templatesNotFound(tried: [explicit])
            }
            return explicit
        }
        guard let d = c.first(where: { Sys.isFile(Path.join($0, marker)) }) else {
            throw ExpressError.templatesNotFound(tried: c)
        }
        return d
    }

    /// Renders templates/<name>.mustache with `context`.
    public static func render(_ name: String, in directory: String, context: [String: Any]) throws -> String {
        let path = Path.join(directory, name + ".mustache")
        guard let text = Sys.readText(path) else { throw ExpressError.templatesNotFound(tried: [path]) }
        do {
            return try Template(parsing: text).render(pruned(context))
        } catch {
            throw ExpressError.templateError(name: path, detail: "\(error)")
        }
    }

    /// Mustache treats "" as true; dropping empty strings makes {{#value}} mean "is set".
    static func pruned(_ d: [String: Any]) -> [String: Any] {
        var out: [String: Any] = [:]
        for (k, v) in d {
            switch v {
            case let s as String where s.isEmpty: continue
            case let i as Int: out[k] = String(i)
            case let sub as [String: Any]: out[k] = pruned(sub)
            case let list as [[String: Any]]: out[k] = list.map(pruned)
            default: out[k] = v
            }
        }
        return out
    }

    /// A file copied as it is (no substitutions).
    public static func raw(_ name: String, in directory: String) throws -> String {
        let path = Path.join(directory, name)
        guard let text = Sys.readText(path) else { throw ExpressError.templatesNotFound(tried: [path]) }
        return text
    }
}

/// Escaping for the places values are substituted into. Templates put the quotes; these
/// make the value safe inside them.
enum Quote {
    /// Inside '…' or "…" in httpd.conf: Apache unescapes a backslash before the quote or a backslash.
    static func apache(_ s: String, quote: Character = "'") -> String {
        var out = ""
        for c in s {
            if c == quote || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// An option value of a WSGI directive (`home=/srv/app`): bare when it has no blanks or
    /// quotes, else single-quoted; '' for an empty value.
    static func optionValue(_ s: String) -> String {
        let plain = !s.isEmpty && !s.contains { $0 == " " || $0 == "\t" || $0 == "'" || $0 == "\"" || $0 == "\\" }
        return plain ? s : "'" + apache(s) + "'"
    }

    /// Inside '…' in a POSIX shell script.
    static func shell(_ s: String) -> String { s.replacingAll("'", with: "'\\''") }

    /// Inside '…' in Python source.
    static func python(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 {
                    out += "\\x" + (c.value < 16 ? "0" : "") + String(c.value, radix: 16)
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out
    }
}
