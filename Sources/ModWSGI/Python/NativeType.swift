import CModWSGI

typealias PyCMethod = @convention(c) (PyObj?, PyObj?) -> PyObj?
typealias PyTernary = @convention(c) (PyObj?, PyObj?, PyObj?) -> PyObj?
typealias PyUnary = @convention(c) (PyObj?) -> PyObj?
typealias PyNew = @convention(c) (UnsafeMutablePointer<PyTypeObject>?, PyObj?, PyObj?) -> PyObj?
typealias PyGetter = @convention(c) (PyObj?, UnsafeMutableRawPointer?) -> PyObj?

/// A Python type whose instances carry a retained Swift object (`WSGIObject.swift`).
/// Built once per process with PyType_FromSpec; the same type serves every interpreter
/// (they share one GIL in CPython 3.11).
final class NativeType {
    let type: UnsafeMutablePointer<PyTypeObject>
    /// The spec's name: kept for the type's lifetime (the process's), as the type may point into it.
    private let name: UnsafePointer<CChar>

    struct Method {
        let name: String
        let flags: Int32
        let function: PyCMethod
    }

    init(
        name: String, methods: [Method] = [], getters: [(String, PyGetter)] = [],
        call: PyTernary? = nil, iter: PyUnary? = nil, next: PyUnary? = nil,
        getattro: PyCMethod? = nil, new: PyNew? = nil
    ) {
        func cstr(_ s: String) -> UnsafePointer<CChar> { UnsafePointer(strdup(s)!) }
        let defs = UnsafeMutablePointer<PyMethodDef>.allocate(capacity: methods.count + 1)
        for (i, m) in methods.enumerated() {
            defs[i] = PyMethodDef(ml_name: cstr(m.name), ml_meth: m.function, ml_flags: m.flags, ml_doc: nil)
        }
        defs[methods.count] = PyMethodDef(ml_name: nil, ml_meth: nil, ml_flags: 0, ml_doc: nil)
        let gets = UnsafeMutablePointer<PyGetSetDef>.allocate(capacity: getters.count + 1)
        for (i, g) in getters.enumerated() {
            gets[i] = PyGetSetDef(name: cstr(g.0), get: g.1, set: nil, doc: nil, closure: nil)
        }
        gets[getters.count] = PyGetSetDef(name: nil, get: nil, set: nil, doc: nil, closure: nil)

        var slots: [PyType_Slot] = [
            PyType_Slot(
                slot: Py_tp_dealloc, pfunc: unsafeBitCast(NativeType.dealloc, to: UnsafeMutableRawPointer.self)),
            PyType_Slot(slot: Py_tp_methods, pfunc: UnsafeMutableRawPointer(defs)),
            PyType_Slot(slot: Py_tp_getset, pfunc: UnsafeMutableRawPointer(gets)),
        ]
        if let call {
            slots.append(PyType_Slot(slot: Py_tp_call, pfunc: unsafeBitCast(call, to: UnsafeMutableRawPointer.self)))
        }
        if let iter {
            slots.append(PyType_Slot(slot: Py_tp_iter, pfunc: unsafeBitCast(iter, to: UnsafeMutableRawPointer.self)))
        }
        if let next {
            slots.append(
                PyType_Slot(slot: Py_tp_iternext, pfunc: unsafeBitCast(next, to: UnsafeMutableRawPointer.self)))
        }
        if let getattro {
            slots.append(
                PyType_Slot(slot: Py_tp_getattro, pfunc: unsafeBitCast(getattro, to: UnsafeMutableRawPointer.self)))
        }
        if let new {
            slots.append(PyType_Slot(slot: Py_tp_new, pfunc: unsafeBitCast(new, to: UnsafeMutableRawPointer.self)))
        }
        slots.append(PyType_Slot(slot: 0, pfunc: nil))
        let slotArray = UnsafeMutablePointer<PyType_Slot>.allocate(capacity: slots.count)
        slotArray.initialize(from: slots, count: slots.count)
        self.name = cstr(name)
        var spec = PyType_Spec(
            name: self.name, basicsize: Int32(MemoryLayout<WSGIObject>.size), itemsize: 0,
            flags: UInt32(Py_TPFLAGS_DEFAULT), slots: slotArray)
        let t = PyType_FromSpec(&spec)!
        // PyType_FromSpec copies what the slots say; the array itself is not kept (LeakSanitizer).
        slotArray.deallocate()
        type = UnsafeMutableRawPointer(t).assumingMemoryBound(to: PyTypeObject.self)
    }

    /// A new instance holding `object` (retained until the instance is freed).
    func make(_ object: AnyObject) -> PyObj? {
        guard let o = PyType_GenericAlloc(type, 0) else { return nil }
        UnsafeMutableRawPointer(o).assumingMemoryBound(to: WSGIObject.self).pointee.swift =
            Unmanaged.passRetained(object).toOpaque()
        return o
    }

    @inline(__always)
    static func object<T: AnyObject>(_ o: PyObj?, as: T.Type) -> T {
        let raw = UnsafeMutableRawPointer(o!).assumingMemoryBound(to: WSGIObject.self).pointee.swift!
        return Unmanaged<T>.fromOpaque(raw).takeUnretainedValue()
    }

    private static let dealloc: @convention(c) (PyObj?) -> Void = { o in
        let w = UnsafeMutableRawPointer(o!).assumingMemoryBound(to: WSGIObject.self)
        if let raw = w.pointee.swift {
            w.pointee.swift = nil
            Unmanaged<AnyObject>.fromOpaque(raw).release()
        }
        wsgi_object_free(o)
    }
}
