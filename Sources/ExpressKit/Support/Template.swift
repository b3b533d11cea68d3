/// A Mustache template (https://mustache.github.io/mustache.5.html), the language of
/// templates/*.mustache: parsed once, rendered with a context of dictionaries ([String: Any]),
/// lists, strings, integers and booleans.
///
/// Why not swift-mustache, the library this replaced: it imports Foundation (NSLock, NSNull),
/// which links the whole of Foundation and ICU's 30 MB data table into the command. This is the
/// part of Mustache the templates use, as swift-mustache renders it (the tests render every
/// template both ways and compare): variables, escaped (HTML) or not (`{{{x}}}`, `{{&x}}`, or
/// everything after `{{% CONTENT_TYPE: TEXT}}`), dotted names, `{{.}}`, sections over booleans,
/// lists and values, inverted sections, comments, set delimiters, and the spec's standalone
/// lines (a line holding only a section, comment, delimiter or pragma tag disappears whole).
/// Partials, lambdas and template inheritance are refused when parsing, with the line.
/// It works on bytes: parsing and rendering are linear in the template's length.
struct Template {
    indirect enum Node {
        case text([UInt8])
        case variable(name: [String], escaped: Bool)
        case section(name: [String], inverted: Bool, body: [Node])
    }

    struct ParseError: Error, CustomStringConvertible {
        var line: Int
        var message: String
        var description: String { "line \(line): \(message)" }
    }

    let nodes: [Node]

    init(parsing text: String) throws {
        var parser = Parser(Array(text.utf8))
        nodes = try parser.parse()
    }

    /// The rendered text. A name found nowhere renders as nothing, as in Mustache.
    func render(_ context: [String: Any]) -> String {
        var out: [UInt8] = []
        var stack: [Any] = [context]
        Self.render(nodes, &stack, &out)
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: rendering

    private static func render(_ nodes: [Node], _ stack: inout [Any], _ out: inout [UInt8]) {
        for node in nodes {
            switch node {
            case .text(let bytes):
                out += bytes
            case .variable(let name, let escaped):
                guard let value = lookup(name, stack) else { continue }
                append(value, escaped: escaped, to: &out)
            case .section(let name, let inverted, let body):
                let value = lookup(name, stack)
                if inverted {
                    if isFalsy(value) { render(body, &stack, &out) }
                    continue
                }
                switch value {
                case nil: continue
                case let b as Bool: if b { render(body, &stack, &out) }
                case let list as [Any]:
                    for item in list {
                        stack.append(item)
                        render(body, &stack, &out)
                        stack.removeLast()
                    }
                case .some(let v):
                    stack.append(v)
                    render(body, &stack, &out)
                    stack.removeLast()
                }
            }
        }
    }

    /// nil, false and the empty list: what an inverted section renders for.
    private static func isFalsy(_ v: Any?) -> Bool {
        switch v {
        case nil: return true
        case let b as Bool: return !b
        case let list as [Any]: return list.isEmpty
        default: return false
        }
    }

    /// `name` is the dotted name split at its dots ([] for `.`): its first part is looked up
    /// from the innermost context outwards, the others only inside what the first one found.
    private static func lookup(_ name: [String], _ stack: [Any]) -> Any? {
        guard let first = name.first else { return stack.last.flatMap(unwrap) }
        var found: Any?
        for object in stack.reversed() {
            if let d = object as? [String: Any], let v = d[first] {
                found = v
                break
            }
        }
        for part in name.dropFirst() {
            guard let d = found.flatMap(unwrap) as? [String: Any] else { return nil }
            found = d[part]
        }
        return found.flatMap(unwrap)
    }

    /// An optional stored in the context counts as its value, or as absent.
    private static func unwrap(_ v: Any) -> Any? {
        if let o = v as? AnyOptional { return o.wrapped.flatMap(unwrap) }
        return v
    }

    private static func append(_ value: Any, escaped: Bool, to out: inout [UInt8]) {
        let s: String
        switch value {
        case let v as String: s = v
        case let v as Int: s = String(v)
        case let v as Bool: s = v ? "true" : "false"
        default: s = String(describing: value)
        }
        guard escaped else {
            out += s.utf8
            return
        }
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "<"): out += "&lt;".utf8
            case UInt8(ascii: ">"): out += "&gt;".utf8
            case UInt8(ascii: "&"): out += "&amp;".utf8
            case UInt8(ascii: "\""): out += "&quot;".utf8
            case UInt8(ascii: "'"): out += "&#39;".utf8
            default: out.append(c)
            }
        }
    }

    // MARK: parsing

    /// One pass over the bytes: a flat list of tokens, each line checked for being standalone
    /// when it ends, then the sections nested.
    private struct Parser {
        enum Token {
            case text([UInt8])
            case variable(name: [String], escaped: Bool)
            case open(name: [String], raw: String, inverted: Bool, line: Int)
            case close(raw: String, line: Int)
            /// Comments, delimiter changes and pragmas: they leave nothing in the output.
            case silent

            /// Tags that, alone on their line, take the whole line with them.
            var standaloneKind: Bool {
                switch self {
                case .open, .close, .silent: return true
                case .text, .variable: return false
                }
            }
        }

        let b: [UInt8]
        var open: [UInt8] = Array("{{".utf8)
        var close: [UInt8] = Array("}}".utf8)
        var escapeByDefault = true
        /// Each open section's content type, restored when it closes.
        var escapeStack: [Bool] = []
        var line = 1
        var tokens: [Token] = []
        /// The tokens of the line being read (a tag spanning lines makes it longer).
        var current: [Token] = []

        init(_ bytes: [UInt8]) { b = bytes }

        mutating func parse() throws -> [Node] {
            var i = 0
            var textStart = 0
            while i < b.count {
                if b[i] == 0x0A {
                    // The end of a line: its text, newline included, then the line is judged.
                    current.append(.text(Array(b[textStart...i])))
                    i += 1
                    textStart = i
                    line += 1
                    endLine()
                    continue
                }
                if matches(open, at: i) {
                    if textStart < i { current.append(.text(Array(b[textStart..<i]))) }
                    i = try tag(at: i)
                    textStart = i
                    continue
                }
                i += 1
            }
            if textStart < b.count { current.append(.text(Array(b[textStart...]))) }
            endLine()
            return try nest()
        }

        func matches(_ d: [UInt8], at i: Int) -> Bool {
            guard i + d.count <= b.count else { return false }
            for k in 0..<d.count where b[i + k] != d[k] { return false }
            return true
        }

        func fail(_ message: String, line: Int? = nil) -> ParseError {
            ParseError(line: line ?? self.line, message: message)
        }

        /// Reads the tag starting at `i` (its opening delimiter); returns the index after it.
        mutating func tag(at start: Int) throws -> Int {
            let tagLine = line
            var i = start + open.count
            guard i < b.count else { throw fail("a tag is not closed") }
            var sigil = b[i]
            var closing = close
            switch sigil {
            case UInt8(ascii: "#"), UInt8(ascii: "^"), UInt8(ascii: "/"), UInt8(ascii: "!"), UInt8(ascii: "&"),
                UInt8(ascii: "="), UInt8(ascii: "%"), UInt8(ascii: ">"), UInt8(ascii: "<"), UInt8(ascii: "$"):
                i += 1
            case UInt8(ascii: "{"):
                i += 1
                closing = Array("}".utf8) + close
            default:
                sigil = 0
            }
            // The tag's content ends at the closing delimiter (comments may span lines).
            var end = i
            while end < b.count && !matches(closing, at: end) {
                if b[end] == 0x0A {
                    guard sigil == UInt8(ascii: "!") else {
                        throw fail(
                            "a tag is not closed on its line (\(String(decoding: open, as: UTF8.self)) without \(String(decoding: closing, as: UTF8.self)))",
                            line: tagLine)
                    }
                    line += 1
                }
                end += 1
            }
            guard end < b.count else {
                throw fail("a tag is not closed (no \(String(decoding: closing, as: UTF8.self)))", line: tagLine)
            }
            let content = b[i..<end]
            let after = end + closing.count
            switch sigil {
            case UInt8(ascii: "!"):
                current.append(.silent)
            case UInt8(ascii: "="):
                try setDelimiters(content, line: tagLine)
                current.append(.silent)
            case UInt8(ascii: "%"):
                try pragma(content, line: tagLine)
                current.append(.silent)
            case UInt8(ascii: ">"), UInt8(ascii: "<"), UInt8(ascii: "$"):
                throw fail(
                    "partials and template inheritance ({{\(Character(Unicode.Scalar(sigil)))…}}) are not supported",
                    line: tagLine)
            case UInt8(ascii: "#"), UInt8(ascii: "^"):
                let (name, raw) = try parseName(content, line: tagLine)
                current.append(.open(name: name, raw: raw, inverted: sigil == UInt8(ascii: "^"), line: tagLine))
                escapeStack.append(escapeByDefault)
            case UInt8(ascii: "/"):
                let (_, raw) = try parseName(content, line: tagLine)
                current.append(.close(raw: raw, line: tagLine))
                if let e = escapeStack.popLast() { escapeByDefault = e }
            case UInt8(ascii: "&"), UInt8(ascii: "{"):
                current.append(.variable(name: try parseName(content, line: tagLine).0, escaped: false))
            default:
                current.append(.variable(name: try parseName(content, line: tagLine).0, escaped: escapeByDefault))
            }
            return after
        }

        static func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

        static func trimmed(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
            var s = s
            while let f = s.first, isBlank(f) || f == 0x0A || f == 0x0D { s = s.dropFirst() }
            while let l = s.last, isBlank(l) || l == 0x0A || l == 0x0D { s = s.dropLast() }
            return s
        }

        /// A name: `.`, or letters, digits and `_-?*` parts joined by dots.
        func parseName(_ content: ArraySlice<UInt8>, line: Int) throws -> ([String], String) {
            let t = Self.trimmed(content)
            let raw = String(decoding: t, as: UTF8.self)
            if raw == "." { return ([], raw) }
            let ok =
                !t.isEmpty
                && t.allSatisfy { c in
                    (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A)
                        || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: "?")
                        || c == UInt8(ascii: "*") || c == UInt8(ascii: ".")
                }
            let parts = raw.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard ok, !parts.contains(where: \.isEmpty) else {
                throw fail("'\(raw)' is not a name (letters, digits, '_', '-', and dots between parts)", line: line)
            }
            return (parts, raw)
        }

        /// `{{=<% %>=}}`: the two new delimiters, separated by blanks, between '='s.
        mutating func setDelimiters(_ content: ArraySlice<UInt8>, line: Int) throws {
            let t = Self.trimmed(content)
            guard t.last == UInt8(ascii: "=") else { throw fail("a delimiter change must end with '='", line: line) }
            let parts = t.dropLast().split(whereSeparator: Self.isBlank)
            guard parts.count == 2, !parts.contains(where: { $0.contains(UInt8(ascii: "=")) }) else {
                throw fail("a delimiter change names two delimiters: {{=<% %>=}}", line: line)
            }
            open = Array(parts[0])
            close = Array(parts[1])
        }

        /// swift-mustache's pragma: `{{% CONTENT_TYPE: TEXT}}` (no escaping) or `HTML` (the default).
        mutating func pragma(_ content: ArraySlice<UInt8>, line: Int) throws {
            let kv = Self.trimmed(content).split(separator: UInt8(ascii: ":"), maxSplits: 1).map {
                String(decoding: Self.trimmed($0), as: UTF8.self)
            }
            guard kv.count == 2, kv[0] == "CONTENT_TYPE", kv[1] == "TEXT" || kv[1] == "HTML" else {
                throw fail(
                    "unknown pragma '\(String(decoding: content, as: UTF8.self))' (only CONTENT_TYPE: TEXT or HTML)",
                    line: line)
            }
            escapeByDefault = kv[1] == "HTML"
        }

        /// A line holding only blanks and one section, comment, delimiter or pragma tag keeps
        /// only the tag; any other line is kept whole.
        mutating func endLine() {
            defer { current.removeAll(keepingCapacity: true) }
            var tags = 0
            var standalone = true
            for t in current {
                switch t {
                case .text(let bytes):
                    var body = bytes[...]
                    if body.last == 0x0A { body = body.dropLast() }
                    if body.last == 0x0D && bytes.last == 0x0A { body = body.dropLast() }
                    if !body.allSatisfy(Self.isBlank) { standalone = false }
                default:
                    tags += 1
                    if !t.standaloneKind { standalone = false }
                }
            }
            if standalone && tags == 1 {
                tokens += current.filter { if case .text = $0 { return false } else { return true } }
            } else {
                tokens += current
            }
        }

        /// The flat tokens as a tree of sections.
        func nest() throws -> [Node] {
            struct Level {
                var nodes: [Node] = []
                /// Text not yet made a node: a line's pieces and the lines after it, as one node.
                var text: [UInt8] = []
                var name: [String] = []
                var raw = ""
                var inverted = false
                var line = 0

                mutating func flush() {
                    if !text.isEmpty { nodes.append(.text(text)) }
                    text = []
                }
            }
            var levels = [Level()]
            for t in tokens {
                switch t {
                case .text(let bytes):
                    levels[levels.count - 1].text += bytes
                case .variable(let name, let escaped):
                    levels[levels.count - 1].flush()
                    levels[levels.count - 1].nodes.append(.variable(name: name, escaped: escaped))
                case .open(let name, let raw, let inverted, let line):
                    levels[levels.count - 1].flush()
                    levels.append(Level(name: name, raw: raw, inverted: inverted, line: line))
                case .close(let raw, let line):
                    guard levels.count > 1 else {
                        throw fail("{{/\(raw)}} closes no section", line: line)
                    }
                    var s = levels.removeLast()
                    guard s.raw == raw else {
                        throw fail("{{/\(raw)}} closes {{#\(s.raw)}} of line \(s.line)", line: line)
                    }
                    s.flush()
                    levels[levels.count - 1].nodes.append(.section(name: s.name, inverted: s.inverted, body: s.nodes))
                case .silent:
                    break
                }
            }
            if levels.count > 1, let s = levels.last {
                throw fail("{{#\(s.raw)}} is not closed", line: s.line)
            }
            levels[0].flush()
            return levels[0].nodes
        }
    }
}

private protocol AnyOptional {
    var wrapped: Any? { get }
}

extension Optional: AnyOptional {
    fileprivate var wrapped: Any? { self.map { $0 as Any } }
}
