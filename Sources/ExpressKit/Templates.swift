import Mustache

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
            let ctx = pruned(context)
            var out = ""
            for piece in pieces(text) {
                switch piece {
                case .literal(let t): out += t
                case .template(let t): out += try MustacheTemplate(string: t).render(ctx)
                case .section(let name, let t):
                    if isUnset(ctx[name]) { continue }
                    out += try MustacheTemplate(string: t).render(ctx)
                }
            }
            return out
        } catch {
            throw ExpressError.templateError(name: path, detail: "\(error)")
        }
    }

    /// swift-mustache's parser is slow for our budget: it measures the rest of the text at
    /// every tag (quadratic in the template's length) and walks text by Character (~2000
    /// instructions a byte). So a template is rendered in pieces cut at line ends outside any
    /// section: lines without tags are copied as they are, the others are parsed in small
    /// pieces that keep the template's leading pragma. The output is the same as rendering
    /// the whole template at once (the golden tests check it); setup-server is 4x faster.
    /// `section`: a whole top-level `{{#name}}` … `{{/name}}` block on lines of their own; when
    /// `name` is unset, false or an empty list it renders nothing, so it is not even parsed.
    enum Piece: Equatable { case literal(String), template(String), section(name: String, template: String) }

    static func pieces(_ text: String, target: Int = 400) -> [Piece] {
        let b = Array(text.utf8)
        var start = 0
        var pragma: [UInt8] = []
        if b.starts(with: Array("{{%".utf8)), let nl = b.firstIndex(of: 0x0A) {
            pragma = Array(b[...nl])
            start = nl + 1
        }
        var out: [Piece] = []
        var current: [UInt8] = []
        var currentIsLiteral = true
        func flush() {
            guard !current.isEmpty else { return }
            out.append(
                currentIsLiteral
                    ? .literal(String(decoding: current, as: UTF8.self))
                    : .template(String(decoding: pragma + current, as: UTF8.self)))
            current = []
        }
        var depth = 0
        var lineStart = start
        var sectionName: String?
        func standaloneTag(_ line: ArraySlice<UInt8>, _ sigil: UInt8) -> String? {
            var t = line
            while let f = t.first, f == 0x20 || f == 0x09 { t = t.dropFirst() }
            while let l = t.last, l == 0x20 || l == 0x09 || l == 0x0D { t = t.dropLast() }
            guard t.count > 5, t.starts(with: [0x7B, 0x7B, sigil]), t.suffix(2).elementsEqual([0x7D, 0x7D]) else {
                return nil
            }
            let name = t.dropFirst(3).dropLast(2)
            guard !name.isEmpty,
                name.allSatisfy({ $0 == 0x5F || ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) }
                )
            else { return nil }
            return String(decoding: name, as: UTF8.self)
        }
        while lineStart < b.count {
            var lineEnd = lineStart
            while lineEnd < b.count && b[lineEnd] != 0x0A { lineEnd += 1 }
            let end = min(lineEnd + 1, b.count)  // include the newline
            let depthBefore = depth
            var hasTag = false
            var i = lineStart
            while i + 1 < lineEnd {
                if b[i] == 0x7B && b[i + 1] == 0x7B {
                    hasTag = true
                    if i + 2 < lineEnd {
                        switch b[i + 2] {
                        case 0x23, 0x5E, 0x24, 0x3C: depth += 1  // {{# {{^ {{$ {{<
                        case 0x2F: depth -= 1  // {{/
                        default: break
                        }
                    }
                    i += 2
                } else {
                    i += 1
                }
            }
            let line = b[lineStart..<lineEnd]
            if depthBefore == 0, let name = standaloneTag(line, 0x23) {
                // A top-level section starts: it becomes a piece of its own.
                flush()
                currentIsLiteral = false
                sectionName = name
            } else if sectionName == nil {
                let literal = depthBefore == 0 && !hasTag
                if literal != currentIsLiteral || (!literal && depthBefore == 0 && current.count >= target) {
                    flush()
                    currentIsLiteral = literal
                }
            }
            current += b[lineStart..<end]
            lineStart = end
            if let name = sectionName, depth == 0 {
                if standaloneTag(line, 0x2F) == name {
                    out.append(.section(name: name, template: String(decoding: pragma + current, as: UTF8.self)))
                    current = []
                } else {
                    flush()
                }
                sectionName = nil
                currentIsLiteral = true
            }
        }
        flush()
        return out
    }

    /// What makes a `{{#name}}` section render nothing: no value, false, or an empty list.
    static func isUnset(_ v: Any?) -> Bool {
        switch v {
        case nil: return true
        case let b as Bool: return !b
        case let a as [Any]: return a.isEmpty
        default: return false
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
