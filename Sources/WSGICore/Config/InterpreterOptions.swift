import CWSGICore

/// mod_wsgi 6.1's per-interpreter settings: WSGISwitchInterval, WSGIPerInterpreterGIL and
/// WSGIFreeThreading at the top level, and the same (with WSGIPythonPath and
/// WSGIRestrictStdin/Stdout/Signal) inside
/// `<WSGIInterpreterOptions process-group=NAME application-group=NAME>` blocks that scope them
/// to the interpreters of one daemon process group and/or one application group.
///
/// Resolution is mod_wsgi's: for each setting, of the blocks whose selectors match, the most
/// specific (number of selectors given) wins, the last in the file among equals; a block that
/// leaves a setting unset (nil) does not hide a less specific one. `%{GLOBAL}` as a selector is
/// the main interpreter (application group "") or embedded mode (process group "").
package struct InterpreterOptionsBlock: Codable {
    package var processGroup: String?
    package var applicationGroup: String?
    package var switchInterval: Double?
    package var perInterpreterGIL: Bool?
    package var freeThreading: Bool?
    package var restrictStdin: Bool?
    package var restrictStdout: Bool?
    package var restrictSignal: Bool?
    package var pythonPath: [String] = []
}

/// The server's interpreter options (WSGISwitchInterval, WSGIPerInterpreterGIL and
/// WSGIFreeThreading at the top level, and the <WSGIInterpreterOptions> blocks): part of the
/// Python settings every process gets (PythonRuntime.Settings), a daemon running the
/// application's Python executable too.
package struct InterpreterOptionsSettings: Codable {
    package var switchInterval: Double? = nil
    package var perInterpreterGIL: Bool? = nil
    package var freeThreading: Bool? = nil
    package var interpreterOptions: [InterpreterOptionsBlock] = []

    package init() {}
}

/// What one interpreter gets once the blocks are resolved.
package struct ResolvedInterpreterOptions {
    package var switchInterval: Double?
    /// The switch interval came from a block naming an application group: without a GIL of
    /// its own, setting it would change the whole process's (mod_wsgi then skips it).
    package var switchIntervalAppScoped = false
    package var perInterpreterGIL = false
    package var restrictStdin: Bool
    package var restrictStdout: Bool
    package var restrictSignal: Bool
    /// Paths of matching blocks, least specific first, after the process's own.
    package var pythonPath: [String] = []
}

package enum InterpreterOptions {
    /// Parses the opening tag's `key=value` selectors (mod_wsgi's checks and messages).
    package static func parseSelectors(_ args: String) -> Result<InterpreterOptionsBlock, DirectiveError> {
        guard let close = args.lastIndex(of: ">") else {
            return .failure(DirectiveError(message: "<WSGIInterpreterOptions> directive missing closing '>'"))
        }
        var block = InterpreterOptionsBlock()
        for word in splitConfigWords(String(args[..<close])) {
            guard let eq = word.firstIndex(of: "=") else {
                return .failure(
                    DirectiveError(
                        message: "<WSGIInterpreterOptions>: argument '\(word)' is not of the form key=value"))
            }
            let key = word[..<eq].lowercased()
            let raw = String(word[word.index(after: eq)...])
            let value = raw == "%{GLOBAL}" ? "" : raw
            switch key {
            case "process-group":
                if block.processGroup != nil {
                    return .failure(
                        DirectiveError(message: "<WSGIInterpreterOptions>: process-group given more than once"))
                }
                block.processGroup = value
            case "application-group":
                if block.applicationGroup != nil {
                    return .failure(
                        DirectiveError(message: "<WSGIInterpreterOptions>: application-group given more than once"))
                }
                block.applicationGroup = value
            default:
                return .failure(
                    DirectiveError(
                        message:
                            "<WSGIInterpreterOptions>: unknown selector '\(key)', expected process-group or application-group"
                    ))
            }
        }
        return .success(block)
    }

    /// The settings of the interpreter `applicationGroup` ("" is the main one) in a process
    /// of `processGroup` ("" in embedded mode).
    package static func resolve(
        processGroup: String, applicationGroup: String, global g: InterpreterOptionsSettings,
        restrictDefaults: (stdin: Bool, stdout: Bool, signal: Bool)
    ) -> ResolvedInterpreterOptions {
        var out = ResolvedInterpreterOptions(
            switchInterval: g.switchInterval, perInterpreterGIL: g.perInterpreterGIL ?? false,
            restrictStdin: restrictDefaults.stdin, restrictStdout: restrictDefaults.stdout,
            restrictSignal: restrictDefaults.signal)
        var best = (gil: -1, switchInterval: -1, stdin: -1, stdout: -1, signal: -1)
        var layers: [(Int, Int, [String])] = []
        for (index, b) in g.interpreterOptions.enumerated() {
            var specificity = 0
            if let pg = b.processGroup {
                if pg != processGroup { continue }
                specificity += 1
            }
            if let ag = b.applicationGroup {
                if ag != applicationGroup { continue }
                specificity += 1
            }
            if let v = b.perInterpreterGIL, specificity >= best.gil {
                out.perInterpreterGIL = v
                best.gil = specificity
            }
            if let v = b.switchInterval, specificity >= best.switchInterval {
                out.switchInterval = v
                out.switchIntervalAppScoped = b.applicationGroup != nil
                best.switchInterval = specificity
            }
            if let v = b.restrictStdin, specificity >= best.stdin { out.restrictStdin = v; best.stdin = specificity }
            if let v = b.restrictStdout, specificity >= best.stdout {
                out.restrictStdout = v; best.stdout = specificity
            }
            if let v = b.restrictSignal, specificity >= best.signal {
                out.restrictSignal = v; best.signal = specificity
            }
            if !b.pythonPath.isEmpty { layers.append((specificity, index, b.pythonPath)) }
        }
        out.pythonPath = layers.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.flatMap { $0.2 }
        return out
    }

    /// WSGIFreeThreading for a process: blocks naming an application group do not count
    /// (the GIL is the process's), as in mod_wsgi.
    package static func freeThreading(processGroup: String, global g: InterpreterOptionsSettings) -> Bool {
        var value = g.freeThreading ?? false
        var best = -1
        for b in g.interpreterOptions where b.applicationGroup == nil {
            var specificity = 0
            if let pg = b.processGroup {
                if pg != processGroup { continue }
                specificity += 1
            }
            if let v = b.freeThreading, specificity >= best {
                value = v
                best = specificity
            }
        }
        return value
    }

    /// Whether any configuration asks for free threading or a per-interpreter GIL anywhere.
    package static func anyOn(
        _ g: InterpreterOptionsSettings, _ field: KeyPath<InterpreterOptionsBlock, Bool?>, top: Bool?
    ) -> Bool {
        top == true || g.interpreterOptions.contains { $0[keyPath: field] == true }
    }
}

/// Apache's ap_getword_conf: words separated by white space, "..." or '...' quoting.
package func splitConfigWords(_ s: String) -> [String] {
    var words: [String] = []
    var cur = ""
    var quote: Character? = nil
    var inWord = false
    for c in s {
        if let q = quote {
            if c == q { quote = nil } else { cur.append(c) }
        } else if c == "\"" || c == "'" {
            quote = c
            inWord = true
        } else if c == " " || c == "\t" || c == "\n" {
            if inWord { words.append(cur); cur = ""; inWord = false }
        } else {
            cur.append(c)
            inWord = true
        }
    }
    if inWord { words.append(cur) }
    return words
}
