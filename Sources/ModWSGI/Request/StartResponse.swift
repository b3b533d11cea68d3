import CModWSGI

/// The start_response callable given to the application, and its write() method.
enum StartResponse {
    static let type = NativeType(
        name: "mod_wsgi.StartResponse",
        methods: [
            .init(name: "write", flags: METH_O, function: { o, data in
                let request = NativeType.object(o, as: WSGIRequest.self)
                guard request.write(data!, flush: true) else { return nil }
                return Py.none
            }),
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
            .init(name: "close", flags: METH_NOARGS, function: { o, _ in
                let w = NativeType.object(o, as: FileWrapper.self)
                guard let close = PyObject_GetAttrString(w.filelike, "close") else { PyErr_Clear(); return Py.none }
                defer { wsgi_decref(close) }
                return PyObject_CallNoArgs(close)
            }),
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
        })

    static var typeObject: PyObj { UnsafeMutableRawPointer(type.type).assumingMemoryBound(to: PyObject.self) }

    /// The callable put in environ['wsgi.file_wrapper'].
    static let factory: PyObj = {
        let def = UnsafeMutablePointer<PyMethodDef>.allocate(capacity: 1)
        def.pointee = PyMethodDef(ml_name: UnsafePointer(strdup("file_wrapper")), ml_meth: { _, args in
            guard let args, wsgi_tuple_size(args) >= 1, wsgi_tuple_size(args) <= 2 else {
                Py.raise(wsgi_exc_type_error(), "file_wrapper(filelike, blksize=8192)"); return nil
            }
            var blksize = 8192
            if wsgi_tuple_size(args) == 2 {
                blksize = PyLong_AsLong(wsgi_tuple_get(args, 1))
                if blksize == -1 && PyErr_Occurred() != nil { return nil }
            }
            return FileWrapper.type.make(FileWrapper(filelike: wsgi_tuple_get(args, 0)!, blksize: blksize))
        }, ml_flags: METH_VARARGS, ml_doc: nil)
        return PyCFunction_NewEx(def, nil, nil)
    }()
}
