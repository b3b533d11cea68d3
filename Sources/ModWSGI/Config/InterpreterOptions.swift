import CModWSGI

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
struct InterpreterOptionsBlock {
    var processGroup: String?
    var applicationGroup: String?
    var switchInterval: Double?
    var perInterpreterGIL: Bool?
    var freeThreading: Bool?
    var restrictStdin: Bool?
    var restrictStdout: Bool?
    var restrictSignal: Bool?
    var pythonPath: [String] = []
}

/// What one interpreter gets once the blocks are resolved.
struct ResolvedInterpreterOptions {
    var switchInterval: Double?
    /// The switch interval came from a block naming an application group: without a GIL of
    /// its own, setting it would change the whole process's (mod_wsgi then skips it).
    var switchIntervalAppScoped = false
    var perInterpreterGIL = false
    var restrictStdin: Bool
    var restrictStdout: Bool
    var restrictSignal: Bool
    /// Paths of matching blocks, least specific first, after the process's own.
    var pythonPath: [String] = []
}

enum InterpreterOptions {
    /// The block whose directives Apache is reading now (between begin and end).
    nonisolated(unsafe) static var open: InterpreterOptionsBlock?

    /// The directives a block may contain; any other one inside is refused.
    static let allowedInBlock: Set<UInt32> = [
        WSGI_CMD_SWITCH_INTERVAL.rawValue, WSGI_CMD_PER_INTERPRETER_GIL.rawValue, WSGI_CMD_FREE_THREADING.rawValue,
        WSGI_CMD_PYTHON_PATH.rawValue, WSGI_CMD_RESTRICT_STDIN.rawValue, WSGI_CMD_RESTRICT_STDOUT.rawValue,
        WSGI_CMD_RESTRICT_SIGNAL.rawValue,
    ]

    /// Parses the opening tag's `key=value` selectors (mod_wsgi's checks and messages).
    static func parseSelectors(_ args: String) -> Result<InterpreterOptionsBlock, DirectiveError> {
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
    static func resolve(
        processGroup: String, applicationGroup: String, global g: GlobalConfig,
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
    static func freeThreading(processGroup: String, global g: GlobalConfig) -> Bool {
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
    static func anyOn(_ g: GlobalConfig, _ field: KeyPath<InterpreterOptionsBlock, Bool?>, top: Bool?) -> Bool {
        top == true || g.interpreterOptions.contains { $0[keyPath: field] == true }
    }
}

/// Apache's ap_getword_conf: words separated by white space, "..." or '...' quoting.
func splitConfigWords(_ s: String) -> [String] {
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

@_cdecl("wsgi_swift_interpreter_options_begin")
func wsgi_swift_interpreter_options_begin(_ cmd: UnsafeMutablePointer<cmd_parms>?, _ args: UnsafePointer<CChar>?)
    -> UnsafePointer<CChar>?
{
    guard let cmd else { return nil }
    if let err = wsgi_check_global(cmd) { return err }
    if InterpreterOptions.open != nil {
        return UnsafePointer("<WSGIInterpreterOptions> cannot be nested".pooled(cmd.pointee.pool))
    }
    switch InterpreterOptions.parseSelectors(args.map { String(cString: $0) } ?? "") {
    case .success(let block):
        InterpreterOptions.open = block
        return nil
    case .failure(let e):
        return UnsafePointer(e.message.pooled(cmd.pointee.pool))
    }
}

@_cdecl("wsgi_swift_interpreter_options_end")
func wsgi_swift_interpreter_options_end() {
    if let block = InterpreterOptions.open { GlobalConfig.current.interpreterOptions.append(block) }
    InterpreterOptions.open = nil
}

// MARK: - The directives

extension InterpreterOptions {
    static func switchInterval(_ arg: String, fail: (String) -> DirectiveError) throws -> Double {
        guard let v = Double(arg), v.isFinite, v > 0 else {
            throw DirectiveError(message: "WSGISwitchInterval must be a positive number of seconds.")
        }
        return v
    }

    /// On needs a Python with a GIL per interpreter (3.12+): mod_wsgi 6.1 warns that it has no
    /// effect; here it is refused at start-up, never accepted and ignored.
    static func perInterpreterGIL(_ on: Bool, fail: (String) -> DirectiveError) throws -> Bool {
        if on && wsgi_python_per_interpreter_gil_build() == 0 {
            throw DirectiveError(
                message:
                    "WSGIPerInterpreterGIL requires Python 3.12 or later; this mod_wsgi is built for Python \(PythonRuntime.version). Remove the directive (or set it Off), or build mod_wsgi against Python 3.12+."
            )
        }
        return on
    }

    /// On needs a free-threaded build (PEP 703): refused at start-up otherwise.
    static func freeThreading(_ on: Bool, inAppGroup: Bool, fail: (String) -> DirectiveError) throws -> Bool {
        if on && wsgi_python_free_threading_build() == 0 {
            throw DirectiveError(
                message:
                    "WSGIFreeThreading On has no effect: this Python build (\(PythonRuntime.version)) does not support free-threading (PEP 703). Rebuild Python with --disable-gil to use it, or remove the directive."
            )
        }
        return on
    }

    /// A directive inside <WSGIInterpreterOptions>.
    static func applyInBlock(
        _ id: wsgi_cmd_id, name: String, args: [String], fail: (String) -> DirectiveError
    ) throws {
        guard allowedInBlock.contains(id.rawValue) else {
            throw fail(
                "is not allowed inside <WSGIInterpreterOptions>; only WSGISwitchInterval, WSGIPerInterpreterGIL, WSGIFreeThreading, WSGIPythonPath, WSGIRestrictStdin, WSGIRestrictStdout and WSGIRestrictSignal are"
            )
        }
        func flag() throws -> Bool {
            guard args.count == 1 else { throw fail("takes one argument, On or Off") }
            guard let v = parseFlag(args[0]) else { throw fail("must be On or Off, not '\(args[0])'") }
            return v
        }
        guard args.count == 1 else { throw fail("takes one argument") }
        switch id {
        case WSGI_CMD_SWITCH_INTERVAL: open!.switchInterval = try switchInterval(args[0], fail: fail)
        case WSGI_CMD_PER_INTERPRETER_GIL: open!.perInterpreterGIL = try perInterpreterGIL(flag(), fail: fail)
        case WSGI_CMD_FREE_THREADING:
            let on = try freeThreading(flag(), inAppGroup: open!.applicationGroup != nil, fail: fail)
            if open!.applicationGroup != nil {
                // mod_wsgi ignores it there with a warning; refused here: it would do nothing.
                throw fail(
                    "inside <WSGIInterpreterOptions> with application-group= has no effect: free threading is a setting of the whole process. Use a block with process-group= only."
                )
            }
            open!.freeThreading = on
        case WSGI_CMD_PYTHON_PATH: open!.pythonPath += args[0].split(separator: ":").map(String.init)
        case WSGI_CMD_RESTRICT_STDIN: open!.restrictStdin = try flag()
        case WSGI_CMD_RESTRICT_STDOUT: open!.restrictStdout = try flag()
        default: open!.restrictSignal = try flag()
        }
    }
}
