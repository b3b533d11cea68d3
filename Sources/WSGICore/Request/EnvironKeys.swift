import CWSGICore

/// The environ's keys as Python strings, made once per interpreter and reused by every
/// request. `PyDict_SetItemString` makes a new str for every key, hashes it and looks it
/// up in the interpreter's table of interned strings: for the ~50 keys of an environ that
/// was a measurable share of a small request. A key here is the same interned str that
/// call would have used, so dicts see no difference.
///
/// A small direct-mapped cache on the key's bytes (a CGI environ has a stable set of keys;
/// a new header name only replaces a slot). Used only with the GIL held, in the interpreter
/// that owns the strings.
package final class EnvironKeys {
    /// One slot: the key's bytes (inline up to 48, the longest CGI keys included; a longer
    /// one in memory of its own), their length, and the interned str. Plain memory, no
    /// reference counting: this is looked up some fifty times per request.
    private struct Slot {
        var length = -1
        var bytes: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
        var long: UnsafeMutableRawPointer? = nil
        var key: PyObj? = nil
    }

    private static let slotCount = 256
    private static let inlineLength = 48
    private let slots: UnsafeMutablePointer<Slot> = {
        let p = UnsafeMutablePointer<Slot>.allocate(capacity: EnvironKeys.slotCount)
        p.initialize(repeating: Slot(), count: EnvironKeys.slotCount)
        return p
    }()

    deinit {
        for i in 0..<Self.slotCount { slots[i].long?.deallocate() }
        slots.deinitialize(count: Self.slotCount)
        slots.deallocate()
    }

    /// The interned str for a NUL-terminated key (borrowed: the cache keeps it), or nil
    /// when it is not valid UTF-8 (the caller falls back to PyDict_SetItemString, which
    /// raises as before).
    func key(_ p: UnsafePointer<CChar>) -> PyObj? {
        cached(UnsafeRawPointer(p), strlen(p)) { PyUnicode_InternFromString(p) }
    }

    /// The interned str for a key given as latin-1 bytes (not NUL-terminated: a daemon's
    /// request frame), as PyUnicode_DecodeLatin1 would make it.
    func key(latin1 b: UnsafeRawBufferPointer) -> PyObj? {
        guard let p = b.baseAddress else { return nil }
        return cached(p, b.count) {
            var k: PyObj? = PyUnicode_DecodeLatin1(p.assumingMemoryBound(to: CChar.self), b.count, nil)
            if k != nil { PyUnicode_InternInPlace(&k) }
            return k
        }
    }

    @inline(__always)
    private func cached(_ p: UnsafeRawPointer, _ n: Int, _ make: () -> PyObj?) -> PyObj? {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let bytes = p.assumingMemoryBound(to: UInt8.self)
        for i in 0..<n { h = (h ^ UInt64(bytes[i])) &* 0x100_0000_01b3 }
        let slot = slots + (Int(truncatingIfNeeded: h ^ (h >> 32)) & (Self.slotCount - 1))
        if slot.pointee.length == n, let key = slot.pointee.key {
            let same: Bool
            if let long = slot.pointee.long {
                same = memcmp(long, p, n) == 0
            } else {
                same = withUnsafeBytes(of: &slot.pointee.bytes) { memcmp($0.baseAddress!, p, n) == 0 }
            }
            if same { return key }
        }
        guard let k = make() else {
            PyErr_Clear()
            return nil
        }
        if let old = slot.pointee.key { wsgi_decref(old) }
        slot.pointee.long?.deallocate()
        slot.pointee.long = nil
        slot.pointee.length = n
        if n <= Self.inlineLength {
            withUnsafeMutableBytes(of: &slot.pointee.bytes) { $0.baseAddress!.copyMemory(from: p, byteCount: n) }
        } else {
            let long = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 1)
            long.copyMemory(from: p, byteCount: n)
            slot.pointee.long = long
        }
        slot.pointee.key = k
        return k
    }

    /// environ[key] = value, stealing `value` (as Py.setItem).
    package func set(_ dict: PyObj, _ key: UnsafePointer<CChar>, _ value: PyObj) {
        if let k = self.key(key) { PyDict_SetItem(dict, k, value) } else { PyDict_SetItemString(dict, key, value) }
        wsgi_decref(value)
    }

    // MARK: one cache per interpreter

    nonisolated(unsafe) private static var byInterpreter: [OpaquePointer: EnvironKeys] = [:]

    /// The cache of the interpreter the calling thread is in (GIL held).
    package static var current: EnvironKeys {
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
        for i in 0..<slotCount {
            let slot = c.slots + i
            if let k = slot.pointee.key { wsgi_decref(k) }
            slot.pointee.long?.deallocate()
            slot.pointee = Slot()
        }
    }

    /// Python is finalized: the strings are gone with their interpreters.
    static func forget() { byInterpreter = [:] }
}
