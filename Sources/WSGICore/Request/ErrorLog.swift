import CWSGICore

/// The binary stream under wsgi.errors, sys.stdout and sys.stderr (`mod_wsgi.Log`, each
/// wrapped in an `io.TextIOWrapper`, as in mod_wsgi 6.x): whole lines go to Apache's error
/// log. wsgi.errors belongs to its request (the lines carry its client and script) and
/// refuses to write once the request is over; sys.stdout and sys.stderr write to the log of
/// the request their thread is running, if any, else to the server's.
package final class ErrorLog {
    /// The request of a wsgi.errors (nil for sys.stdout/sys.stderr).
    private(set) weak var request: WSGIRequest?
    let perRequest: Bool
    /// The name mod_wsgi gives it: "<wsgi.errors>", "<stdout>", "<stderr>".
    let name: String
    /// Over (the request ended): writing raises RuntimeError, as in mod_wsgi 6.x.
    private(set) var expired = false
    private var pending: [UInt8] = []

    package init(request: WSGIRequest?, name: String) {
        self.request = request
        self.perRequest = request != nil
        self.name = name
    }

    /// The log a write goes to: a wsgi.errors' own; for sys.stdout/sys.stderr the one of the
    /// request this thread runs, if any.
    private var target: ErrorLog {
        if perRequest { return self }
        if let current = Interpreters.threadStates().errorLog, !current.expired { return current }
        return self
    }

    private func emit(_ line: ArraySlice<UInt8>) {
        // As Apache: the line ends at a NUL.
        let text = String(decoding: line.prefix { $0 != 0 }, as: UTF8.self)
        if perRequest, let request, !request.finished {
            request.channel.logError(text)
        } else {
            Log.raw(APLOG_ERR, text)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) {
        pending.append(contentsOf: bytes)
        guard bytes.contains(UInt8(ascii: "\n")) else { return }
        var start = pending.startIndex
        while let nl = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            emit(pending[start..<nl])
            start = nl + 1
        }
        pending.removeSubrange(..<start)
    }

    func flush() {
        if !pending.isEmpty {
            emit(pending[...])
            pending.removeAll()
        }
    }

    /// The request ended: what is left is written, later writes raise.
    func close() {
        if !expired { flush() }
        expired = true
        request = nil
    }

    /// Writes a bytes-like object (or, deprecated as in mod_wsgi 6.0.1, a str). False with
    /// the exception set.
    private func write(object o: PyObj) -> Bool {
        if wsgi_unicode_check(o) != 0 {
            if !Self.warnedStr {
                // Once per process, as mod_wsgi (a new log object is made for each request).
                Self.warnedStr = true
                if PyErr_WarnEx(
                    wsgi_exc_deprecation_warning(),
                    "Writing str to wsgi.errors.buffer / sys.stderr.buffer is deprecated; write a bytes-like object instead.",
                    1) != 0
                {
                    return false
                }
            }
            var size: Py_ssize_t = 0
            guard let p = PyUnicode_AsUTF8AndSize(o, &size) else { return false }
            write(UnsafeRawBufferPointer(start: p, count: size))
            return true
        }
        var view = Py_buffer()
        guard PyObject_GetBuffer(o, &view, PyBUF_SIMPLE) == 0 else {
            PyErr_Clear()
            Py.raise(
                wsgi_exc_type_error(),
                "a bytes-like object is required, not '\(String(cString: wsgi_type_name(o)))'")
            return false
        }
        defer { PyBuffer_Release(&view) }
        write(UnsafeRawBufferPointer(start: view.buf, count: view.len))
        return true
    }

    nonisolated(unsafe) private static var warnedStr = false

    private func refuseExpired(_ what: String) -> Bool {
        guard expired else { return false }
        Py.raise(wsgi_exc_runtime_error(), "\(what)() called on wsgi.errors after request completed")
        return true
    }

    package static let type = NativeType(
        name: "mod_wsgi.Log",
        methods: [
            .init(
                name: "write", flags: METH_O,
                function: { o, arg in
                    let log = NativeType.object(o, as: ErrorLog.self).target
                    if log.refuseExpired("write") { return nil }
                    return log.write(object: arg!) ? Py.none : nil
                }),
            .init(
                name: "writelines", flags: METH_O,
                function: { o, arg in
                    let log = NativeType.object(o, as: ErrorLog.self).target
                    if log.refuseExpired("writelines") { return nil }
                    guard let it = PyObject_GetIter(arg) else {
                        PyErr_Clear()
                        Py.raise(
                            wsgi_exc_type_error(), "writelines() argument must be an iterable of bytes-like objects")
                        return nil
                    }
                    defer { wsgi_decref(it) }
                    while let item = PyIter_Next(it) {
                        defer { wsgi_decref(item) }
                        guard log.write(object: item) else { return nil }
                    }
                    if PyErr_Occurred() != nil { return nil }
                    return Py.none
                }),
            .init(
                name: "flush", flags: METH_NOARGS,
                function: { o, _ in
                    let log = NativeType.object(o, as: ErrorLog.self).target
                    if !log.pending.isEmpty && log.refuseExpired("flush") { return nil }
                    log.flush()
                    return Py.none
                }),
            .init(
                name: "close", flags: METH_NOARGS,
                function: { o, _ in
                    // io's finaliser closes a wrapper's buffer: only a request's log expires.
                    let log = NativeType.object(o, as: ErrorLog.self)
                    if log.perRequest { log.close() } else { log.target.flush() }
                    return Py.none
                }),
            .init(name: "isatty", flags: METH_NOARGS, function: { _, _ in Py.bool(false) }),
            .init(name: "readable", flags: METH_NOARGS, function: { _, _ in Py.bool(false) }),
            .init(name: "writable", flags: METH_NOARGS, function: { _, _ in Py.bool(true) }),
            .init(name: "seekable", flags: METH_NOARGS, function: { _, _ in Py.bool(false) }),
            .init(
                name: "fileno", flags: METH_NOARGS,
                function: { _, _ in
                    Py.raise(wsgi_exc_os_error(), "wsgi.errors log object has no file descriptor"); return nil
                }),
        ],
        getters: [
            ("closed", { _, _ in Py.bool(false) }),
            ("encoding", { _, _ in Py.string("utf-8") }),
            ("errors", { _, _ in Py.string("replace") }),
            ("name", { o, _ in Py.string(NativeType.object(o, as: ErrorLog.self).name) }),
        ])

    /// `io.TextIOWrapper(log, "utf-8", "replace", None, True, True)` over a new log: the text
    /// stream applications write to. Returns the wrapper (a new reference) and the log.
    package static func textStream(request: WSGIRequest?, name: String) -> (PyObj, ErrorLog)? {
        let log = ErrorLog(request: request, name: name)
        guard let buffer = type.make(log) else { return nil }
        defer { wsgi_decref(buffer) }
        guard let wrapperType = textIOWrapper else { return nil }
        let args = Py.tuple([
            wsgi_new_ref(buffer), Py.string("utf-8"), Py.string("replace"), Py.none, Py.bool(true), Py.bool(true),
        ])
        defer { wsgi_decref(args) }
        guard let stream = PyObject_Call(wrapperType, args, nil) else { return nil }
        return (stream, log)
    }

    /// io.TextIOWrapper (a borrowed reference from the io module, which stays imported).
    private static var textIOWrapper: PyObj? {
        guard let io = PyImport_ImportModule("io") else { return nil }
        defer { wsgi_decref(io) }
        guard let t = PyObject_GetAttrString(io, "TextIOWrapper") else { return nil }
        wsgi_decref(t)
        return t
    }
}
