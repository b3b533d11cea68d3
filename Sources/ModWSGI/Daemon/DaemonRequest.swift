import CModWSGI

/// What the Apache child sends a daemon process for one request ('Q' frame): what to run,
/// and the CGI environment (raw bytes of every subprocess_env entry, in order).
struct DaemonRequest {
    var scriptPath = ""
    var callableObject = "application"
    var applicationGroup = ""
    var scheme = "http"
    var client = ""
    var reloading = true
    var enableSendfile = false
    var hasBody = false
    var isHEAD = false
    var queueStart: Int64 = 0
    var environ: [(key: [CChar], value: [CChar])] = []

    func encode() -> [UInt8] {
        var e = Encoder()
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
        e.u32(UInt32(environ.count))
        for (k, v) in environ { e.chars(k); e.chars(v) }
        return e.bytes
    }

    /// The value of one environment entry.
    func value(of key: String) -> String? {
        let k = Array(key.utf8CString)
        guard let e = environ.first(where: { $0.key == k }) else { return nil }
        return String(decoding: e.value.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Appends the entries of an APR table.
    mutating func addTable(_ table: OpaquePointer?) -> Int {
        let n = Int(wsgi_table_count(table))
        guard n > 0, let entries = wsgi_table_entries(table) else { return 0 }
        var size = 0
        for i in 0..<n {
            guard let k = entries[i].key else { continue }
            let key = Array(UnsafeBufferPointer(start: k, count: strlen(k) + 1))
            let value: [CChar] = entries[i].val.map { Array(UnsafeBufferPointer(start: $0, count: strlen($0) + 1)) } ?? [0]
            size += key.count + value.count
            environ.append((key, value))
        }
        return size
    }

    static func decode(_ bytes: [UInt8]) throws -> DaemonRequest {
        var d = Decoder(bytes)
        guard try d.u32() == 1 else { throw WireError.malformed("request layout version") }
        var r = DaemonRequest()
        r.scriptPath = try d.string(); r.callableObject = try d.string(); r.applicationGroup = try d.string()
        r.scheme = try d.string(); r.client = try d.string()
        let flags = try d.u32()
        r.reloading = flags & 1 != 0
        r.enableSendfile = flags & 2 != 0
        r.hasBody = flags & 4 != 0
        r.isHEAD = flags & 8 != 0
        r.queueStart = try d.i64()
        let n = Int(try d.u32())
        guard n <= 100_000 else { throw WireError.malformed("too many environ entries") }
        r.environ.reserveCapacity(n)
        for _ in 0..<n { r.environ.append((try d.chars(), try d.chars())) }
        return r
    }
}

/// The response head ('H' frame).
struct DaemonResponseHead {
    var status: Int32
    var statusLine: String
    var headers: [Header]

    func encode() -> [UInt8] {
        var e = Encoder()
        e.u32(UInt32(bitPattern: status))
        e.string(statusLine)
        e.u32(UInt32(headers.count))
        for h in headers { e.chars(h.name); e.chars(h.value) }
        return e.bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> DaemonResponseHead {
        var d = Decoder(bytes)
        let status = Int32(bitPattern: try d.u32())
        let line = try d.string()
        let n = Int(try d.u32())
        guard n <= 100_000 else { throw WireError.malformed("too many headers") }
        var headers: [Header] = []
        headers.reserveCapacity(n)
        for _ in 0..<n { headers.append(Header(name: try d.chars(), value: try d.chars())) }
        return DaemonResponseHead(status: status, statusLine: line, headers: headers)
    }
}

func encodeInt32(_ v: Int32) -> [UInt8] { var e = Encoder(); e.u32(UInt32(bitPattern: v)); return e.bytes }
func decodeInt32(_ b: [UInt8]) throws -> Int32 { var d = Decoder(b); return Int32(bitPattern: try d.u32()) }
