import CWSGICore

package typealias PyCMethod = @convention(c) (PyObj?, PyObj?) -> PyObj?
package typealias PyTernary = @convention(c) (PyObj?, PyObj?, PyObj?) -> PyObj?
package typealias PyUnary = @convention(c) (PyObj?) -> PyObj?
package typealias PyNew = @convention(c) (UnsafeMutablePointer<PyTypeObject>?, PyObj?, PyObj?) -> PyObj?
package typealias PyGetter = @convention(c) (PyObj?, UnsafeMutableRawPointer?) -> PyObj?

/// A Python type whose instances carry a retained Swift object (`WSGIObject.swift`).
/// Built with PyType_FromSpec on first use; one type serves every interpreter that shares the
/// main GIL. An interpreter with a GIL of its own (WSGIPerInterpreterGIL On) gets a type of
/// its own, made in it: a type is an object of the interpreter that made it, and instances
/// change its reference count, which only that interpreter's GIL protects.
package final class NativeType {
    private var spec: PyType_Spec
    private var sharedType: UnsafeMutablePointer<PyTypeObject>?
    private var ownTypes: [OpaquePointer: UnsafeMutablePointer<PyTypeObject>] = [:]
    private let lock = Lock()

    /// The type for the interpreter the calling thread is in (GIL held).
    var type: UnsafeMutablePointer<PyTypeObject> {
        guard Interpreters.parallel else {
            if let t = sharedType { return t }
            let t = make()
            sharedType = t
            return t
        }
        let state = PyInterpreterState_Get()!
        let own = Interpreters.hasOwnGIL(state)
        if let t = lock.withLock({ own ? ownTypes[state] : sharedType }) { return t }
        // Made with this interpreter's GIL held: no other thread makes this one's.
        let t = make()
        lock.withLock {
            if own { ownTypes[state] = t } else { sharedType = t }
        }
        return t
    }

    private func make() -> UnsafeMutablePointer<PyTypeObject> {
        let t = PyType_FromSpec(&spec)!
        return UnsafeMutableRawPointer(t).assumingMemoryBound(to: PyTypeObject.self)
    }

    package struct Method {
        let name: String
        let flags: Int32
        let function: PyCMethod

        package init(name: String, flags: Int32, function: PyCMethod) {
            self.name = name
            self.flags = flags
            self.function = function
        }
    }

    package init(
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
        spec = PyType_Spec(
            name: cstr(name), basicsize: Int32(MemoryLayout<WSGIObject>.size), itemsize: 0,
            flags: UInt32(wsgi_tpflags_default()), slots: slotArray)
    }

    /// A new instance holding `object` (retained until the instance is freed).
    package func make(_ object: AnyObject) -> PyObj? {
        guard let o = PyType_GenericAlloc(self.type, 0) else { return nil }
        UnsafeMutableRawPointer(o).assumingMemoryBound(to: WSGIObject.self).pointee.swift =
            Unmanaged.passRetained(object).toOpaque()
        return o
    }

    @inline(__always)
    package static func object<T: AnyObject>(_ o: PyObj?, as: T.Type) -> T {
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
