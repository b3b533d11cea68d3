import CModWSGI
import WSGICore

/// The Apache child's side of the request frame: encoded straight from Apache's table.
extension DaemonRequest {
    /// The request frame's payload, with the environ entries of an APR table: the fixed part,
    /// then every entry's key and value as length-prefixed bytes, copied once into a buffer
    /// sized beforehand (a per-byte append of ~50 entries was a fifth of the Apache child's
    /// instructions for a small request).
    package func encode(environ table: OpaquePointer?) -> [UInt8] {
        var head = Encoder()
        head.u32(3)  // version of this layout
        head.string(scriptPath); head.string(callableObject); head.string(applicationGroup)
        head.string(scheme); head.string(client)
        var flags: UInt32 = 0
        if reloading { flags |= 1 }
        if enableSendfile { flags |= 2 }
        if hasBody { flags |= 4 }
        if isHEAD { flags |= 8 }
        if ignoreActivity { flags |= 16 }
        head.u32(flags)
        head.i64(requestStart)
        head.i64(queueStart)
        head.u32(serverPid)
        head.u32(daemonConnects)
        head.u32(daemonRestarts)
        head.u32(serverIndex)
        let n = Int(wsgi_table_count(table))
        let items = n > 0 ? wsgi_table_entries(table) : nil
        // Lengths first: one allocation of the exact size.
        var lengths = [Int](repeating: 0, count: 2 * n)
        var total = head.bytes.count + 4
        var count: UInt32 = 0
        if let items {
            for i in 0..<n {
                guard let k = items[i].key else { continue }
                lengths[2 * i] = strlen(k)
                lengths[2 * i + 1] = items[i].val.map { strlen($0) } ?? 0
                total += 8 + lengths[2 * i] + lengths[2 * i + 1]
                count += 1
            }
        }
        return [UInt8](unsafeUninitializedCapacity: total) { buf, initialized in
            var p = buf.baseAddress!
            func u32(_ v: UInt32) {
                p[0] = UInt8(v & 0xff); p[1] = UInt8((v >> 8) & 0xff)
                p[2] = UInt8((v >> 16) & 0xff); p[3] = UInt8(v >> 24)
                p += 4
            }
            head.bytes.withUnsafeBytes { h in
                p.update(from: h.baseAddress!.assumingMemoryBound(to: UInt8.self), count: h.count)
                p += h.count
            }
            u32(count)
            if let items {
                for i in 0..<n {
                    guard let k = items[i].key else { continue }
                    let kn = lengths[2 * i], vn = lengths[2 * i + 1]
                    u32(UInt32(kn))
                    UnsafeMutableRawPointer(p).copyMemory(from: k, byteCount: kn)
                    p += kn
                    u32(UInt32(vn))
                    if let v = items[i].val, vn > 0 { UnsafeMutableRawPointer(p).copyMemory(from: v, byteCount: vn) }
                    p += vn
                }
            }
            initialized = total
        }
    }
}
