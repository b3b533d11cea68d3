import CModWSGI
import WSGICore

// The directives of mod_wsgi 6.1's interpreter options (WSGICore, Config/InterpreterOptions.swift,
// resolves and applies them).

extension InterpreterOptions {
    /// The block whose directives Apache is reading now (between begin and end).
    nonisolated(unsafe) static var open: InterpreterOptionsBlock?

    /// The directives a block may contain; any other one inside is refused.
    static let allowedInBlock: Set<UInt32> = [
        WSGI_CMD_SWITCH_INTERVAL.rawValue, WSGI_CMD_PER_INTERPRETER_GIL.rawValue, WSGI_CMD_FREE_THREADING.rawValue,
        WSGI_CMD_PYTHON_PATH.rawValue, WSGI_CMD_RESTRICT_STDIN.rawValue, WSGI_CMD_RESTRICT_STDOUT.rawValue,
        WSGI_CMD_RESTRICT_SIGNAL.rawValue,
    ]
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
