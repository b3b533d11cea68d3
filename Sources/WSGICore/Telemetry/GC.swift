import CWSGICore

/// mod_wsgi 6.1.1's per-interpreter GC telemetry. Each interpreter of a process that reports
/// gets a `gc.callbacks` entry that times every cyclic collection ("start" to "stop") and
/// queues it in a ring of 256 (the oldest is overwritten and counted when it is full). Every
/// tick the reporter, in each interpreter in turn and with that interpreter's GIL, reads the
/// counters (gc.get_count, get_threshold, get_stats, isenabled, get_freeze_count) and drains up
/// to 64 queued collections; then, without any GIL, sends one gc_snapshot datagram and one
/// gc_event datagram per collection. A request never waits for any of it: the callback runs
/// inside the collection, under a lock only the drain takes.
final class TelemetryGC {
    struct Event {
        var startMicros: Int64 = 0
        var durationMicros: Int64 = 0
        var collected: UInt64 = 0
        var uncollectable: UInt64 = 0
        var generation: UInt8 = 0
    }

    struct Counters {
        var count: [UInt64] = [0, 0, 0]
        var threshold: [UInt64] = [0, 0, 0]
        var collections: [UInt64] = [0, 0, 0]
        var collected: [UInt64] = [0, 0, 0]
        var uncollectable: [UInt64] = [0, 0, 0]
        var isEnabled: UInt64 = 0
        var freezeCount: UInt64 = 0
    }

    static let ringCapacity = 256
    static let maxEventsPerTick = 64

    private let lock = Lock()
    private var ring = [Event](repeating: Event(), count: TelemetryGC.ringCapacity)
    private var head = 0
    private var queued = 0
    private var dropped: UInt64 = 0
    /// Set by "start", read by the "stop" of the same collection (collections of one
    /// interpreter never overlap: both run under its GIL).
    private var pendingStart: Int64 = 0

    private func push(_ e: Event) {
        lock.withLock {
            let i: Int
            if queued < ring.count {
                i = (head + queued) % ring.count
                queued += 1
            } else {
                i = head
                head = (head + 1) % ring.count
                dropped += 1
            }
            ring[i] = e
        }
    }

    /// Up to `max` queued collections, oldest first, and the overwritten ones since the last drain.
    func drain(max: Int) -> ([Event], UInt64) {
        lock.withLock {
            var out: [Event] = []
            out.reserveCapacity(min(max, queued))
            while out.count < max && queued > 0 {
                out.append(ring[head])
                head = (head + 1) % ring.count
                queued -= 1
            }
            let d = dropped
            dropped = 0
            return (out, d)
        }
    }

    // MARK: the gc.callbacks entry (GIL held, inside a collection)

    private static let callbackDef: UnsafeMutablePointer<PyMethodDef> = {
        let d = UnsafeMutablePointer<PyMethodDef>.allocate(capacity: 1)
        d.pointee = PyMethodDef(
            ml_name: UnsafePointer(strdup("_gc_callback")), ml_meth: callback, ml_flags: METH_VARARGS, ml_doc: nil)
        return d
    }()

    private static let capsuleName: UnsafePointer<CChar> = UnsafePointer(strdup("mod_wsgi._gc_telemetry")!)

    /// (phase, info), as the gc module calls it; never raises (a failure is a no-op).
    private static let callback: PyCMethod = { selfObject, args in
        guard let selfObject, let p = PyCapsule_GetPointer(selfObject, capsuleName), let args,
            PyTuple_Size(args) == 2, let phase = PyTuple_GetItem(args, 0), let info = PyTuple_GetItem(args, 1)
        else {
            PyErr_Clear()
            return Py.none
        }
        let gc = Unmanaged<TelemetryGC>.fromOpaque(p).takeUnretainedValue()
        guard wsgi_unicode_check(phase) != 0 else { return Py.none }
        if PyUnicode_CompareWithASCIIString(phase, "start") == 0 {
            gc.pendingStart = Int64(wsgi_now())
            return Py.none
        }
        guard PyUnicode_CompareWithASCIIString(phase, "stop") == 0, wsgi_dict_check(info) != 0 else { return Py.none }
        let now = Int64(wsgi_now())
        // As mod_wsgi: no usable generation drops the record; bad counts are 0.
        guard let g = PyDict_GetItemString(info, "generation"), wsgi_long_check(g) != 0 else { return Py.none }
        let generation = PyLong_AsLong(g)
        if PyErr_Occurred() != nil || generation < 0 || generation > 255 {
            PyErr_Clear()
            return Py.none
        }
        func count(_ key: String) -> UInt64 {
            guard let v = PyDict_GetItemString(info, key), wsgi_long_check(v) != 0 else { return 0 }
            let n = PyLong_AsLongLong(v)
            if PyErr_Occurred() != nil || n < 0 {
                PyErr_Clear()
                return 0
            }
            return UInt64(n)
        }
        let start = gc.pendingStart
        gc.push(
            Event(
                startMicros: start, durationMicros: now > start ? now - start : 0, collected: count("collected"),
                uncollectable: count("uncollectable"), generation: UInt8(generation)))
        return Py.none
    }

    /// Appends this interpreter's callback to gc.callbacks (GIL held in `interp`); once.
    static func install(_ interp: Interpreter) {
        guard interp.gcTelemetry == nil else { return }
        let gc = TelemetryGC()
        let opaque = Unmanaged.passRetained(gc).toOpaque()
        guard
            let capsule = PyCapsule_New(
                opaque, capsuleName,
                { capsule in
                    if let capsule, let p = PyCapsule_GetPointer(capsule, TelemetryGC.capsuleName) {
                        Unmanaged<TelemetryGC>.fromOpaque(p).release()
                    }
                })
        else {
            Unmanaged<TelemetryGC>.fromOpaque(opaque).release()
            PyErr_Clear()
            return
        }
        defer { wsgi_decref(capsule) }
        guard let module = PyImport_ImportModule("gc") else {
            PyErr_Clear()
            return
        }
        defer { wsgi_decref(module) }
        guard let callbacks = PyObject_GetAttrString(module, "callbacks") else {
            PyErr_Clear()
            return
        }
        defer { wsgi_decref(callbacks) }
        guard wsgi_list_check(callbacks) != 0, let function = PyCFunction_NewEx(callbackDef, capsule, nil) else {
            PyErr_Clear()
            return
        }
        defer { wsgi_decref(function) }
        if PyList_Append(callbacks, function) != 0 {
            PyErr_Clear()
            return
        }
        interp.gcTelemetry = gc
    }

    // MARK: the reporter's read (GIL held in the interpreter)

    static func readCounters() -> Counters {
        var c = Counters()
        guard let module = PyImport_ImportModule("gc") else {
            PyErr_Clear()
            return c
        }
        defer { wsgi_decref(module) }
        func call(_ name: String) -> PyObj? {
            guard let f = PyObject_GetAttrString(module, name) else {
                PyErr_Clear()
                return nil
            }
            defer { wsgi_decref(f) }
            let r = PyObject_CallNoArgs(f)
            if r == nil { PyErr_Clear() }
            return r
        }
        func nonNegative(_ o: PyObj?) -> UInt64? {
            guard let o, wsgi_long_check(o) != 0 else { return nil }
            let v = PyLong_AsLongLong(o)
            if PyErr_Occurred() != nil || v < 0 {
                PyErr_Clear()
                return nil
            }
            return UInt64(v)
        }
        func triple(_ name: String, into out: inout [UInt64]) {
            guard let t = call(name) else { return }
            defer { wsgi_decref(t) }
            guard wsgi_tuple_check(t) != 0 else { return }
            for i in 0..<min(3, PyTuple_Size(t)) { out[i] = nonNegative(PyTuple_GetItem(t, i)) ?? 0 }
        }
        triple("get_count", into: &c.count)
        triple("get_threshold", into: &c.threshold)
        if let stats = call("get_stats") {
            if wsgi_list_check(stats) != 0 {
                for g in 0..<min(3, PyList_Size(stats)) {
                    guard let d = PyList_GetItem(stats, g), wsgi_dict_check(d) != 0 else { continue }
                    c.collections[g] = nonNegative(PyDict_GetItemString(d, "collections")) ?? 0
                    c.collected[g] = nonNegative(PyDict_GetItemString(d, "collected")) ?? 0
                    c.uncollectable[g] = nonNegative(PyDict_GetItemString(d, "uncollectable")) ?? 0
                }
            }
            wsgi_decref(stats)
        }
        if let r = call("isenabled") {
            let b = PyObject_IsTrue(r)
            if b >= 0 { c.isEnabled = b != 0 ? 1 : 0 }
            wsgi_decref(r)
        }
        if let r = call("get_freeze_count") {
            c.freezeCount = nonNegative(r) ?? 0
            wsgi_decref(r)
        }
        PyErr_Clear()
        return c
    }
}
