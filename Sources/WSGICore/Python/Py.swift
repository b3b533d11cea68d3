import CWSGICore

package typealias PyObj = UnsafeMutablePointer<PyObject>

/// Small conveniences over CPython's C API. All of them require the GIL.
package enum Py {
    @inline(__always) package static var none: PyObj { wsgi_new_ref(wsgi_py_none()) }
    @inline(__always) static func bool(_ b: Bool) -> PyObj { wsgi_new_ref(b ? wsgi_py_true() : wsgi_py_false()) }

    package static func string(_ s: String) -> PyObj {
        var s = s
        return s.withUTF8 { buf in
            buf.withMemoryRebound(to: CChar.self) {
                PyUnicode_DecodeUTF8($0.baseAddress, $0.count, "surrogateescape")!
            }
        }
    }

    /// Bytes from the request (headers, URLs) are latin-1, per PEP 3333.
    @inline(__always)
    package static func latin1(_ p: UnsafePointer<CChar>) -> PyObj {
        PyUnicode_DecodeLatin1(p, strlen(p), nil) ?? none
    }

    /// A bytes object's contents read as latin-1 (each byte one character).
    package static func latin1String(_ b: PyObj) -> String {
        let u = UnsafeRawBufferPointer(start: wsgi_bytes_data(b), count: wsgi_bytes_size(b))
        if !u.contains(where: { $0 >= 0x80 }) { return String(decoding: u, as: UTF8.self) }
        return String(String.UnicodeScalarView(u.map { Unicode.Scalar($0) }))
    }

    package static func int(_ v: Int) -> PyObj { PyLong_FromLong(v) }

    package static func tuple(_ items: [PyObj]) -> PyObj {
        let t = PyTuple_New(items.count)!
        for (i, o) in items.enumerated() { PyTuple_SetItem(t, i, o) }  // steals
        return t
    }

    /// A Python str as a Swift String (UTF-8), or nil if not a str.
    package static func swiftString(_ o: PyObj?) -> String? {
        guard let o, wsgi_unicode_check(o) != 0 else { return nil }
        var size: Py_ssize_t = 0
        guard let p = PyUnicode_AsUTF8AndSize(o, &size) else { PyErr_Clear(); return nil }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: size), as: UTF8.self)
    }

    /// str(o), for messages.
    static func describe(_ o: PyObj?) -> String {
        guard let o, let s = PyObject_Str(o) else { PyErr_Clear(); return "?" }
        defer { wsgi_decref(s) }
        return swiftString(s) ?? "?"
    }

    static func repr(_ o: PyObj?) -> String {
        guard let o, let s = PyObject_Repr(o) else { PyErr_Clear(); return "?" }
        defer { wsgi_decref(s) }
        return swiftString(s) ?? "?"
    }

    package static func setItem(_ dict: PyObj, _ key: UnsafePointer<CChar>, _ value: PyObj) {
        PyDict_SetItemString(dict, key, value)
        wsgi_decref(value)
    }

    package static func raise(_ type: PyObj, _ message: String) {
        PyErr_SetString(type, message)
    }

    /// Runs Python source (a module body) in fresh globals that have the builtins, then
    /// hands the globals to `use`. False, with the exception set, when the source raised.
    @discardableResult
    static func run(_ source: String, _ use: (PyObj) -> Void = { _ in }) -> Bool {
        let globals = PyDict_New()!
        defer { wsgi_decref(globals) }
        PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins())
        guard let result = PyRun_StringFlags(source, Py_file_input, globals, globals, nil) else { return false }
        wsgi_decref(result)
        use(globals)
        return true
    }

    /// o.name(): a new reference, or nil with the exception set.
    package static func callMethod(_ o: PyObj, _ name: String) -> PyObj? {
        let n = string(name)
        defer { wsgi_decref(n) }
        return PyObject_CallMethodNoArgs(o, n)
    }

    static func importModule(_ name: String) -> PyObj? {
        PyImport_ImportModule(name)
    }

    /// Calls module.function(*args) and returns a new reference (nil on error).
    static func call(_ module: String, _ function: String, _ args: [PyObj]) -> PyObj? {
        guard let m = PyImport_ImportModule(module) else { return nil }
        defer { wsgi_decref(m) }
        guard let f = PyObject_GetAttrString(m, function) else { return nil }
        defer { wsgi_decref(f) }
        let t = tuple(args)
        defer { wsgi_decref(t) }
        return PyObject_Call(f, t, nil)
    }

    /// The pending exception formatted as traceback lines (clears it). With `file`, the
    /// traceback's leading frames in that file are left out: it starts where the code
    /// that file was loading failed.
    package static func takeExceptionLines(droppingLeadingFramesOf file: String? = nil) -> [String] {
        var type: PyObj?, value: PyObj?, tb: PyObj?
        PyErr_Fetch(&type, &value, &tb)
        guard type != nil else { return [] }
        PyErr_NormalizeException(&type, &value, &tb)
        if let file {
            while let t = tb, fileName(ofFrameIn: t) == file {
                tb = PyObject_GetAttrString(t, "tb_next")
                wsgi_decref(t)
                if tb == wsgi_py_none() { wsgi_decref(tb!); tb = nil }
            }
            PyErr_Clear()
        }
        defer { wsgi_xdecref(type); wsgi_xdecref(value); wsgi_xdecref(tb) }
        if let value { PyException_SetTraceback(value, tb ?? wsgi_py_none()) }
        var lines: [String] = []
        if let formatted = call(
            "traceback", "format_exception",
            [wsgi_new_ref(type!), wsgi_new_ref(value ?? wsgi_py_none()), wsgi_new_ref(tb ?? wsgi_py_none())])
        {
            defer { wsgi_decref(formatted) }
            let n = PyList_Size(formatted)
            for i in 0..<n {
                if let s = swiftString(PyList_GetItem(formatted, i)) {
                    for line in s.split(separator: "\n", omittingEmptySubsequences: true) { lines.append(String(line)) }
                }
            }
        } else {
            PyErr_Clear()
            lines.append("\(describe(type)): \(describe(value))")
        }
        return lines
    }

    /// The file of a traceback entry's code (tb.tb_frame.f_code.co_filename).
    private static func fileName(ofFrameIn tb: PyObj) -> String? {
        var object: PyObj? = wsgi_new_ref(tb)
        for name in ["tb_frame", "f_code", "co_filename"] {
            guard let o = object else { break }
            object = PyObject_GetAttrString(o, name)
            wsgi_decref(o)
        }
        defer { wsgi_xdecref(object) }
        return object.flatMap(swiftString)
    }

    /// Whether the pending exception is of the given type.
    static func pending(_ type: PyObj) -> Bool {
        PyErr_ExceptionMatches(type) != 0
    }
}
