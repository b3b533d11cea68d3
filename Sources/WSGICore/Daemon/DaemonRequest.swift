import CWSGICore

/// What the Apache child sends a daemon process for one request ('Q' frame): what to run,
/// and the CGI environment (raw bytes of every subprocess_env entry, in order).
///
/// The child encodes straight from Apache's table, and the daemon keeps the frame's bytes and
/// where each key and value lies in them: the environ dict is built from those bytes (latin-1)
/// with no intermediate string per entry, under the GIL.
package struct DaemonRequest {
    package var scriptPath = ""
    package var callableObject = "application"
    package var applicationGroup = ""
    package var scheme = "http"
    package var client = ""
    package var reloading = true
    package var enableSendfile = false
    package var hasBody = false
    package var isHEAD = false
    package var ignoreActivity = false
    /// When Apache read the request and when the child began sending it (µs since the epoch).
    package var requestStart: Int64 = 0
    package var queueStart: Int64 = 0
    /// The Apache child that accepted the request (mod_wsgi 6.x's mod_wsgi.server_pid, and
    /// telemetry's slow_server_pid); its connection attempts and the times it sent the request
    /// again (request_started's daemon_connects and daemon_restarts).
    package var serverPid: UInt32 = 0
    package var daemonConnects: UInt32 = 0
    package var daemonRestarts: UInt32 = 0
    /// Which server (0: the main one, n: the n-th <VirtualHost>) took the request: its
    /// ErrorLog gets what the daemon logs about it.
    package var serverIndex: UInt32 = 0
    /// The decoded frame's payload, and the byte ranges of each environ key and value in it.
    private(set) var raw: [UInt8] = []
    private(set) var entries: [(key: Range<Int>, value: Range<Int>)] = []

    package init() {}

    /// The value of one environment entry.
    func value(of key: StaticString) -> String? {
        find(key).map { String(decoding: raw[$0], as: UTF8.self) }
    }

    private func equal(_ range: Range<Int>, _ s: StaticString) -> Bool {
        guard range.count == s.utf8CodeUnitCount else { return false }
        let p = s.utf8Start
        for i in 0..<range.count where raw[range.lowerBound + i] != p[i] { return false }
        return true
    }

    private func find(_ key: StaticString) -> Range<Int>? {
        entries.first(where: { equal($0.key, key) })?.value
    }

    /// Calls `body` with the bytes of each key and value, in order.
    func forEachEntry(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        raw.withUnsafeBytes { all in
            for (k, v) in entries {
                body(UnsafeRawBufferPointer(rebasing: all[k]), UnsafeRawBufferPointer(rebasing: all[v]))
            }
        }
    }

    /// Where each key and value lies: `count` pairs of length-prefixed strings from `at`, read
    /// straight from the bytes (the frame has about fifty).
    private static func entryRanges(_ bytes: [UInt8], at start: Int, count n: Int) throws -> [(
        key: Range<Int>, value: Range<Int>
    )] {
        try bytes.withUnsafeBytes { b in
            var out: [(key: Range<Int>, value: Range<Int>)] = []
            out.reserveCapacity(n)
            var pos = start
            func next() throws -> Range<Int> {
                guard pos + 4 <= b.count else { throw WireError.malformed("short integer") }
                let len = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: pos, as: UInt32.self)))
                pos += 4
                guard len <= b.count - pos else { throw WireError.malformed("short string") }
                defer { pos += len }
                return pos..<(pos + len)
            }
            for _ in 0..<n { out.append((try next(), try next())) }
            return out
        }
    }

    package static func decode(_ bytes: [UInt8]) throws -> DaemonRequest {
        var d = Decoder(bytes)
        guard try d.u32() == 3 else { throw WireError.malformed("request layout version") }
        var r = DaemonRequest()
        r.scriptPath = try d.string(); r.callableObject = try d.string(); r.applicationGroup = try d.string()
        r.scheme = try d.string(); r.client = try d.string()
        let flags = try d.u32()
        r.reloading = flags & 1 != 0
        r.enableSendfile = flags & 2 != 0
        r.hasBody = flags & 4 != 0
        r.isHEAD = flags & 8 != 0
        r.ignoreActivity = flags & 16 != 0
        r.requestStart = try d.i64()
        r.queueStart = try d.i64()
        r.serverPid = try d.u32()
        r.daemonConnects = try d.u32()
        r.daemonRestarts = try d.u32()
        r.serverIndex = try d.u32()
        let n = Int(try d.u32())
        guard n <= 100_000 else { throw WireError.malformed("too many environ entries") }
        r.entries = try entryRanges(bytes, at: d.pos, count: n)
        r.raw = bytes
        return r
    }
}

/// The response head ('H' frame).
package struct DaemonResponseHead {
    package var status: Int32
    package var statusLine: String
    package var headers: [Header]

    package func encode() -> [UInt8] {
        var e = Encoder()
        e.u32(UInt32(bitPattern: status))
        e.string(statusLine)
        e.u32(UInt32(headers.count))
        for h in headers { e.chars(h.name); e.chars(h.value) }
        return e.bytes
    }

    package static func decode(_ bytes: [UInt8]) throws -> DaemonResponseHead {
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

package func encodeInt32(_ v: Int32) -> [UInt8] { var e = Encoder(); e.u32(UInt32(bitPattern: v)); return e.bytes }
package func decodeInt32(_ b: [UInt8]) throws -> Int32 { var d = Decoder(b); return Int32(bitPattern: try d.u32()) }
