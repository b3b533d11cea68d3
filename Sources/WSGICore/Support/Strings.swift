import CWSGICore

@inline(__always)
package func str(_ p: UnsafePointer<CChar>?) -> String? {
    guard let p else { return nil }
    return String(cString: p)
}

/// Parses On/Off (case-insensitive) for a directive.
package func parseFlag(_ value: String) -> Bool? {
    switch value.lowercased() {
    case "on": return true
    case "off": return false
    default: return nil
    }
}

/// Whether a Transfer-Encoding header value names the chunked coding.
package func isChunked(_ transferEncoding: String) -> Bool {
    transferEncoding.split(separator: ",").contains { part in
        var p = part[...]
        while p.first == " " || p.first == "\t" { p.removeFirst() }
        while p.last == " " || p.last == "\t" { p.removeLast() }
        return p.lowercased() == "chunked"
    }
}

/// Splits `name=value` options of WSGIScriptAlias, WSGIDaemonProcess & co.
package func splitOption(_ arg: String) -> (String, String)? {
    guard let eq = arg.firstIndex(of: "=") else { return nil }
    var value = arg[arg.index(after: eq)...]
    // name='value' / name="value": Apache keeps quotes inside a word; mod_wsgi strips them
    // (mod_wsgi-express renders home='...', process-group='host:port' and so on).
    if value.count >= 2, let q = value.first, q == "'" || q == "\"", value.last == q {
        value = value.dropFirst().dropLast()
    }
    return (String(arg[..<eq]), String(value))
}

extension String {
    package var trimmingSpaces: Substring {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
