import CModWSGI
import WSGICore

/// The Apache child's side of the request frame: encoded straight from Apache's table.
extension DaemonRequest {
    /// The request frame's payload, with the environ entries of an APR table.
    package func encode(environ table: OpaquePointer?) -> [UInt8] {
        var e = Encoder()
        e.bytes.reserveCapacity(2048)
        e.u32(1)  // version of this layout
        e.string(scriptPath); e.string(callableObject); e.string(applicationGroup)
        e.string(scheme); e.string(client)
        var flags: UInt32 = 0
        if reloading { flags |= 1 }
        if enableSendfile { flags |= 2 }
        if hasBody { flags |= 4 }
        if isHEAD { flags |= 8 }
        e.u32(flags)
        e.i64(queueStart)
        let n = Int(wsgi_table_count(table))
        guard n > 0, let items = wsgi_table_entries(table) else { e.u32(0); return e.bytes }
        let countAt = e.bytes.count
        e.u32(0)
        var count: UInt32 = 0
        for i in 0..<n {
            guard let k = items[i].key else { continue }
            e.cstring(k)
            if let v = items[i].val { e.cstring(v) } else { e.u32(0) }
            count += 1
        }
        e.bytes.withUnsafeMutableBytes { b in
            for j in 0..<4 { b[countAt + j] = UInt8((count >> (8 * UInt32(j))) & 0xff) }
        }
        return e.bytes
    }
}
