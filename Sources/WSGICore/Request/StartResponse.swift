import CWSGICore

/// The start_response callable given to the application, and its write() method.
enum StartResponse {
    static let type = NativeType(
        name: "mod_wsgi.StartResponse",
        methods: [
            .init(
                name: "write", flags: METH_O,
                function: { o, data in
                    let request = NativeType.object(o, as: WSGIRequest.self)
                    guard request.write(data!, flush: true) else { return nil }
                    return Py.none
                })
        ],
        call: { o, args, kwargs in
            let request = NativeType.object(o, as: WSGIRequest.self)
            guard request.startResponse(args, kwargs) else { return nil }
            return PyObject_GetAttrString(o!, "write")
        })
}

/// wsgi.file_wrapper(filelike, blksize=8192): iterates the file in blocks; with
/// WSGIEnableSendfile On, the server sends a real file itself.
final class FileWrapper {
    let filelike: PyObj
    let blksize: Int

    init(filelike: PyObj, blksize: Int) {
        wsgi_incref(filelike)
        self.filelike = filelike
        self.blksize = blksize
    }

    deinit { wsgi_decref(filelike) }  // instances die under the GIL

    static let type = NativeType(
        name: "mod_wsgi.FileWrapper",
        methods: [
            .init(
                name: "close", flags: METH_NOARGS,
                function: { o, _ in
                    let w = NativeType.object(o, as: FileWrapper.self)
                    guard let close = PyObject_GetAttrString(w.filelike, "close") else { PyErr_Clear(); return Py.none }
                    defer { wsgi_decref(close) }
                    return PyObject_CallNoArgs(close)
                })
        ],
        getters: [
            ("filelike", { o, _ in wsgi_new_ref(NativeType.object(o, as: FileWrapper.self).filelike) }),
            ("blksize", { o, _ in Py.int(NativeType.object(o, as: FileWrapper.self).blksize) }),
        ],
        iter: { o in wsgi_new_ref(o!) },
        next: { o in
            let w = NativeType.object(o, as: FileWrapper.self)
            let size = Py.int(w.blksize)
            let name = Py.string("read")
            let data = PyObject_CallMethodOneArg(w.filelike, name, size)
            wsgi_decref(size); wsgi_decref(name)
            guard let data else { return nil }
            if PyObject_IsTrue(data) == 0 { wsgi_decref(data); return nil }
            return data
        },
        new: FileWrapper.construct)

    static var typeObject: PyObj { UnsafeMutableRawPointer(type.type).assumingMemoryBound(to: PyObject.self) }

    /// environ['wsgi.file_wrapper'] is the type itself (mod_wsgi.FileWrapper), as in mod_wsgi.
    static var factory: PyObj { typeObject }
}
