import CWSGICore

/// `wsgi.errors.buffer` (and sys.stdout/sys.stderr's): the binary side of an ErrorLog,
/// as io.TextIOWrapper's `.buffer` in mod_wsgi. Takes bytes and any bytes-like object
/// (bytearray, memoryview: mod_wsgi 6.0.1's addition; 4.9 also takes str); the lines reach
/// the same log, decoded as UTF-8 (undecodable bytes backslash-escaped).
final class ErrorLogBuffer {
    let log: ErrorLog
    init(_ log: ErrorLog) { self.log = log }

    /// The text of a bytes-like object or str; nil with TypeError set.
    static func text(_ o: PyObj) -> String? {
        if let s = Py.swiftString(o) { return s }
        var view = Py_buffer()
        guard PyObject_GetBuffer(o, &view, PyBUF_SIMPLE) == 0 else {
            PyErr_Clear()
            Py.raise(
                wsgi_exc_type_error(),
                "write() argument must be a bytes-like object, not \(String(cString: wsgi_type_name(o)))")
            return nil
        }
        defer { PyBuffer_Release(&view) }
        guard
            let decoded = PyUnicode_DecodeUTF8(
                view.buf?.assumingMemoryBound(to: CChar.self), view.len, "backslashreplace")
        else {
            return nil
        }
        defer { wsgi_decref(decoded) }
        return Py.swiftString(decoded)
    }

    static let type = NativeType(
        name: "mod_wsgi.LogBuffer",
        methods: [
            .init(
                name: "write", flags: METH_O,
                function: { o, arg in
                    let b = NativeType.object(o, as: ErrorLogBuffer.self)
                    guard let s = text(arg!) else { return nil }
                    b.log.write(s)
                    return Py.none
                }),
            .init(
                name: "writelines", flags: METH_O,
                function: { o, arg in
                    let b = NativeType.object(o, as: ErrorLogBuffer.self)
                    guard let it = PyObject_GetIter(arg) else { return nil }
                    defer { wsgi_decref(it) }
                    while let item = PyIter_Next(it) {
                        defer { wsgi_decref(item) }
                        guard let s = text(item) else { return nil }
                        b.log.write(s)
                    }
                    if PyErr_Occurred() != nil { return nil }
                    return Py.none
                }),
            .init(
                name: "flush", flags: METH_NOARGS,
                function: { o, _ in
                    NativeType.object(o, as: ErrorLogBuffer.self).log.flush(); return Py.none
                }),
            .init(
                name: "close", flags: METH_NOARGS,
                function: { o, _ in
                    NativeType.object(o, as: ErrorLogBuffer.self).log.flush(); return Py.none
                }),
            .init(name: "isatty", flags: METH_NOARGS, function: { _, _ in Py.bool(false) }),
            .init(name: "readable", flags: METH_NOARGS, function: { _, _ in Py.bool(false) }),
            .init(name: "writable", flags: METH_NOARGS, function: { _, _ in Py.bool(true) }),
            .init(name: "seekable", flags: METH_NOARGS, function: { _, _ in Py.bool(false) }),
        ],
        getters: [
            ("closed", { _, _ in Py.bool(false) }),
            ("name", { o, _ in Py.string(NativeType.object(o, as: ErrorLogBuffer.self).log.name) }),
        ])
}
