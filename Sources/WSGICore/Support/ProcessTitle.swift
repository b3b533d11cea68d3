import CWSGICore

/// What `ps` shows for a process: its argument strings (/proc/PID/cmdline), which a process may
/// overwrite in place, and its main thread's name (/proc/PID/comm, 15 bytes).
package enum ProcessTitle {
    /// Writes `arguments` over the argument area (NUL-separated, as the kernel lays out argv;
    /// cut to fit, the rest of the area zeroed) and names the thread.
    package static func set(_ arguments: [String], area: UnsafeMutableRawBufferPointer, threadName: String?) {
        if let threadName { _ = wsgi_prctl_set_name(String(decoding: threadName.utf8.prefix(15), as: UTF8.self)) }
        guard area.count > 1, let p = area.baseAddress else { return }
        var bytes: [UInt8] = []
        for a in arguments {
            if !bytes.isEmpty { bytes.append(0) }
            bytes.append(contentsOf: a.utf8)
        }
        let n = min(bytes.count, area.count - 1)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: area.count)
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: n) }
    }

    /// This process's argument area as the kernel knows it: /proc/self/stat's arg_start and
    /// arg_end (fields 48 and 49).
    package static func ownArgumentArea() -> UnsafeMutableRawBufferPointer? {
        guard let text = readSmallFile("/proc/self/stat"), let close = text.utf8.lastIndex(of: UInt8(ascii: ")"))
        else { return nil }
        // Fields after "(comm)": state is field 3, so field k is at k - 3.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 46, let start = UInt(fields[45]), let end = UInt(fields[46]), end > start,
            let p = UnsafeMutableRawPointer(bitPattern: start)
        else { return nil }
        return UnsafeMutableRawBufferPointer(start: p, count: Int(end - start))
    }
}
