import CWSGICore

/// WSGIRestrictStdin / WSGIRestrictStdout: `sys.stdin` / `sys.stdout` become a
/// `mod_wsgi.Restricted` object whose every use raises
/// OSError("sys.stdout access restricted by mod_wsgi"), as in mod_wsgi.
final class Restricted {
    let stream: String
    init(_ stream: String) { self.stream = stream }

    static let type = NativeType(
        name: "mod_wsgi.Restricted",
        getattro: { o, _ in
            let r = NativeType.object(o, as: Restricted.self)
            Py.raise(wsgi_exc_os_error(), "\(r.stream) access restricted by mod_wsgi")
            return nil
        })

    static var typeObject: PyObj { UnsafeMutableRawPointer(type.type).assumingMemoryBound(to: PyObject.self) }

    static func make(_ stream: String) -> PyObj { type.make(Restricted(stream))! }
}

extension FileWrapper {
    /// mod_wsgi.FileWrapper(filelike, blksize=8192): the type is environ['wsgi.file_wrapper'].
    static let construct: PyNew = { _, args, kwargs in
        var filelike: PyObj? = nil
        var blksizeObj: PyObj? = nil
        let n = args.map { wsgi_tuple_size($0) } ?? 0
        if n >= 1 { filelike = wsgi_tuple_get(args, 0) }
        if n >= 2 { blksizeObj = wsgi_tuple_get(args, 1) }
        if let kwargs {
            if let v = PyDict_GetItemString(kwargs, "filelike") { filelike = v }
            if let v = PyDict_GetItemString(kwargs, "blksize") { blksizeObj = v }
        }
        guard n <= 2, let filelike else {
            Py.raise(wsgi_exc_type_error(), "file_wrapper(filelike, blksize=8192)"); return nil
        }
        var blksize = 8192
        if let blksizeObj {
            blksize = PyLong_AsLong(blksizeObj)
            if blksize == -1 && PyErr_Occurred() != nil { return nil }
        }
        return FileWrapper.type.make(FileWrapper(filelike: filelike, blksize: blksize))
    }
}
