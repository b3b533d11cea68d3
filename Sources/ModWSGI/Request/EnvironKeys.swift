import CModWSGI

/// The environ's keys as Python strings, made once per interpreter and reused by every
/// request. `PyDict_SetItemString` makes a new str for every key, hashes it and looks it
/// up in the interpreter's table of interned strings: for the ~50 keys of an environ that
/// was a measurable share of a small request. A key here is the same interned str that
/// call would have used, so dicts see no difference.
///
/// A small direct-mapped cache on the key's bytes (a CGI environ has a stable set of keys;
/// a new header name only replaces a slot). Used only with the GIL held, in the interpreter
/// that owns the strings.
final class EnvironKeys {
    private struct Slot {
        let bytes: [CChar]  // without the NUL
        let key: PyObj  // interned str, our reference
    }

    private static let slotCount = 256
    private var slots = [Slot?](repeating: nil, count: EnvironKeys.slotCount)

    /// The interned str for a NUL-terminated key (borrowed: the cache keeps it), or nil
    /// when it is not valid UTF-8 (the caller falls back to PyDict_SetItemString, which
    /// raises as before).
    func key(_ p: UnsafePointer<CChar>) -> PyObj? {
        cached(p, strlen(p)) { PyUnicode_InternFromString(p) }
    }

    /// The interned str for a key given as latin-1 bytes (not NUL-terminated: a daemon's
    /// request frame), as PyUnicode_DecodeLatin1 would make it.
    func key(latin1 b: UnsafeRawBufferPointer) -> PyObj? {
        guard let p = b.baseAddress?.assumingMemoryBound(to: CChar.self) else { return nil }
        return cached(p, b.count) {
            var k: PyObj? = PyUnicode_DecodeLatin1(p, b.count, nil)
            if k != nil { PyUnicode_InternInPlace(&k) }
            return k
        }
    }

    private func cached(_ p: UnsafePointer<CChar>, _ n: Int, _ make: () -> PyObj?) -> PyObj? {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in 0..<n { h = (h ^ UInt64(UInt8(bitPattern: p[i]))) &* 0x100_0000_01b3 }
        let i = Int(truncatingIfNeeded: h ^ (h >> 32)) & (Self.slotCount - 1)
        if let s = slots[i], s.bytes.count == n,
            s.bytes.withUnsafeBufferPointer({ memcmp($0.baseAddress!, p, n) == 0 })
        {
            return s.key
        }
        guard let k = make() else { PyErr_Clear(); return nil }
        if let old = slots[i] { wsgi_decref(old.key) }
        slots[i] = Slot(bytes: Array(UnsafeBufferPointer(start: p, count: n)), key: k)
        return k
    }

    /// environ[key] = value, stealing `value` (as Py.setItem).
    func set(_ dict: PyObj, _ key: UnsafePointer<CChar>, _ value: PyObj) {
        if let k = self.key(key) { PyDict_SetItem(dict, k, value) } else { PyDict_SetItemString(dict, key, value) }
        wsgi_decref(value)
    }

    // MARK: one cache per interpreter

    nonisolated(unsafe) private static var byInterpreter: [OpaquePointer: EnvironKeys] = [:]

    /// The cache of the interpreter the calling thread is in (GIL held).
    static var current: EnvironKeys {
        let state = PyThreadState_GetInterpreter(PyThreadState_Get())!
        return Interpreters.shared {
            if let c = byInterpreter[state] { return c }
            let c = EnvironKeys()
            byInterpreter[state] = c
            return c
        }
    }

    /// Gives back this cache's references of the interpreter `state` (GIL held, in that
    /// interpreter), before it ends: CPython frees its interned strings at finalization only
    /// when nobody else holds them (LeakSanitizer saw every cached key left at exit).
    static func release(_ state: OpaquePointer) {
        guard let c = byInterpreter.removeValue(forKey: state) else { return }
        for case let s? in c.slots { wsgi_decref(s.key) }
        c.slots = [Slot?](repeating: nil, count: slotCount)
    }

    /// Python is finalized: the strings are gone with their interpreters.
    static func forget() { byInterpreter = [:] }
}
