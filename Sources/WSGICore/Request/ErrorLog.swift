import CWSGICore

/// A file-like object that writes whole lines to Apache's error log: wsgi.errors (per
/// request, with the client's address) and sys.stdout / sys.stderr (per process).
package final class ErrorLog {
    weak var request: WSGIRequest?
    let perRequest: Bool
    let name: String
    /// WSGIRestrictStdout/Stdin: using this stream raises OSError.
    let restricted: String?
    private var pending = ""

    package init(request: WSGIRequest?, name: String, restricted: String? = nil) {
        self.request = request
        self.perRequest = request != nil
        self.name = name
        self.restricted = restricted
    }

    private func emit(_ line: String) {
        if perRequest {
            if let request, !request.finished { request.channel.logError(line); return }
        }
        Log.raw(APLOG_ERR, line)
    }

    func write(_ text: String) {
        pending += text
        while let nl = pending.firstIndex(of: "\n") {
            emit(String(pending[..<nl]))
            pending.removeSubrange(...nl)
        }
    }

    func flush() {
        if !pending.isEmpty { emit(pending); pending = "" }
    }

    private func check() -> Bool {
        if let restricted { Py.raise(wsgi_exc_os_error(), restricted); return false }
        return true
    }

    /// read() and readline(): the log is write-only.
    private static let notReadable: PyCMethod = { o, _ in
        let log = NativeType.object(o, as: ErrorLog.self)
        guard log.check() else { return nil }
        Py.raise(wsgi_exc_os_error(), "\(log.name) is not readable"); return nil
    }

    package static let type = NativeType(
        name: "mod_wsgi.Log",
        methods: [
            .init(
                name: "write", flags: METH_O,
                function: { o, arg in
                    let log = NativeType.object(o, as: ErrorLog.self)
                    guard log.check() else { return nil }
                    guard let s = Py.swiftString(arg) else {
                        Py.raise(
                            wsgi_exc_type_error(),
                            "write() argument must be str, not \(String(cString: wsgi_type_name(arg!)))")
                        return nil
                    }
                    log.write(s)
                    return PyLong_FromLong(s.unicodeScalars.count)
                }),
            .init(
                name: "writelines", flags: METH_O,
                function: { o, arg in
                    let log = NativeType.object(o, as: ErrorLog.self)
                    guard log.check() else { return nil }
                    guard let it = PyObject_GetIter(arg) else { return nil }
                    defer { wsgi_decref(it) }
                    while let item = PyIter_Next(it) {
                        defer { wsgi_decref(item) }
                        guard let s = Py.swiftString(item) else {
                            Py.raise(wsgi_exc_type_error(), "writelines() items must be str")
                            return nil
                        }
                        log.write(s)
                    }
                    if PyErr_Occurred() != nil { return nil }
                    return Py.none
                }),
            .init(
                name: "flush", flags: METH_NOARGS,
                function: { o, _ in
                    NativeType.object(o, as: ErrorLog.self).flush(); return Py.none
                }),
            .init(
                name: "close", flags: METH_NOARGS,
                function: { o, _ in
                    NativeType.object(o, as: ErrorLog.self).flush(); return Py.none
                }),
            .init(name: "isatty", flags: METH_NOARGS, function: { _, _ in Py.bool(false) }),
            .init(name: "readable", flags: METH_NOARGS, function: { _, _ in Py.bool(false) }),
            .init(name: "writable", flags: METH_NOARGS, function: { _, _ in Py.bool(true) }),
            .init(name: "seekable", flags: METH_NOARGS, function: { _, _ in Py.bool(false) }),
            .init(
                name: "fileno", flags: METH_NOARGS,
                function: { _, _ in
                    Py.raise(wsgi_exc_os_error(), "the Apache error log has no file descriptor here"); return nil
                }),
            .init(name: "read", flags: METH_VARARGS, function: notReadable),
            .init(name: "readline", flags: METH_VARARGS, function: notReadable),
        ],
        getters: [
            ("closed", { _, _ in Py.bool(false) }),
            ("encoding", { _, _ in Py.string("utf-8") }),
            ("errors", { _, _ in Py.string("backslashreplace") }),
            ("line_buffering", { _, _ in Py.bool(true) }),
            ("name", { o, _ in Py.string(NativeType.object(o, as: ErrorLog.self).name) }),
            ("buffer", { o, _ in ErrorLogBuffer.type.make(ErrorLogBuffer(NativeType.object(o, as: ErrorLog.self))) }),
        ])
}
