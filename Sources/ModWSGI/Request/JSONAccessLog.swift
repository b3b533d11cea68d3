import CModWSGI
import WSGICore

/// `%^JS`, an item of mod_log_config's LogFormat (mod_wsgi-express: `--access-log-format
/// json`): the request as one JSON object, for log collectors that read one object per line:
///
/// ```
/// {"time":"2026-11-29T10:00:00.123456Z","remote_addr":"10.1.2.3","method":"GET",
///  "path":"/a%20b","query":"x=1","protocol":"HTTP/1.1","status":200,"bytes":12,
///  "duration_us":1534,"request_id":"aBcD…","user_agent":"curl/7.88.1"}
/// ```
///
/// `path` and `query` are the request target as the client sent it (percent-encoded, as in
/// `%r`), `status` and `bytes` those of the final response (`%>s`, `%B`), `duration_us` from
/// the request line to the log (`%D`), `request_id` the request's log id (`%L`, what the
/// application sees as `mod_wsgi.request_id`; made here when nothing made one). Strings are
/// escaped for JSON, not with mod_log_config's `\xhh` (which JSON does not have): control
/// characters as `\u00XX`, valid UTF-8 as is, any other byte as `\u00XX` (its Latin-1 reading,
/// as WSGI's environ has it). A missing value is `null`.
enum JSONAccessLog {
    static func item(_ last: UnsafeMutablePointer<request_rec>) -> [UInt8] {
        var first = last
        while let p = first.pointee.prev { first = p }
        var out: [UInt8] = []
        out.reserveCapacity(384)
        func key(_ k: String, _ comma: Bool = true) {
            if comma { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: k.utf8)
            out.append(contentsOf: "\":".utf8)
        }
        func string(_ k: String, _ v: UnsafePointer<CChar>?) {
            key(k)
            if let v { escape(v, into: &out) } else { out.append(contentsOf: "null".utf8) }
        }
        func number(_ k: String, _ v: Int64) {
            key(k)
            out.append(contentsOf: String(v).utf8)
        }
        out.append(UInt8(ascii: "{"))
        key("time", false)
        out.append(contentsOf: ("\"" + rfc3339(first.pointee.request_time) + "\"").utf8)
        string("remote_addr", last.pointee.useragent_ip.map { UnsafePointer($0) })
        string("method", first.pointee.method)
        // The request target as sent (Apache decodes r->uri, and parsed_uri.path with it, in place).
        target(first.pointee.unparsed_uri, &out)
        string("protocol", first.pointee.protocol)
        number("status", Int64(last.pointee.status))
        number("bytes", last.pointee.sent_bodyct != 0 ? Int64(last.pointee.bytes_sent) : 0)
        number("duration_us", Int64(apr_time_now() - first.pointee.request_time))
        if last.pointee.log_id == nil && first.pointee.log_id == nil {
            _ = withUnsafeMutablePointer(to: &last.pointee.log_id) {
                ap_run_generate_log_id(last.pointee.connection, last, $0)
            }
        }
        string("request_id", last.pointee.log_id ?? first.pointee.log_id)
        string("user_agent", apr_table_get(first.pointee.headers_in, "User-Agent"))
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// "path" and "query" from the raw request target (the query null when there is none).
    static func target(_ raw: UnsafeMutablePointer<CChar>?, _ out: inout [UInt8]) {
        out.append(contentsOf: ",\"path\":".utf8)
        guard let raw else { return out.append(contentsOf: "null,\"query\":null".utf8) }
        if let q = strchr(raw, Int32(UInt8(ascii: "?"))) {
            escape(raw, count: q - raw, into: &out)
            out.append(contentsOf: ",\"query\":".utf8)
            escape(q + 1, into: &out)
        } else {
            escape(raw, into: &out)
            out.append(contentsOf: ",\"query\":null".utf8)
        }
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// A C string as a JSON string literal (quotes included).
    static func escape(_ s: UnsafePointer<CChar>, count: Int? = nil, into out: inout [UInt8]) {
        let bytes = UnsafeRawPointer(s).assumingMemoryBound(to: UInt8.self)
        let n = count ?? strlen(s)
        out.append(UInt8(ascii: "\""))
        var i = 0
        func unicode(_ b: UInt8) {
            out.append(contentsOf: "\\u00".utf8)
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 0xF)])
        }
        while i < n {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
            case UInt8(ascii: "\n"): out.append(contentsOf: "\\n".utf8)
            case UInt8(ascii: "\r"): out.append(contentsOf: "\\r".utf8)
            case UInt8(ascii: "\t"): out.append(contentsOf: "\\t".utf8)
            case 0..<0x20, 0x7F: unicode(b)
            case 0x20..<0x7F: out.append(b)
            default:
                let length = utf8Sequence(bytes + i, available: n - i)
                if length > 0 {
                    for k in 0..<length { out.append(bytes[i + k]) }
                    i += length
                    continue
                }
                unicode(b)
            }
            i += 1
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The length of the well-formed UTF-8 sequence (2-4 bytes) starting at p, or 0.
    static func utf8Sequence(_ p: UnsafePointer<UInt8>, available: Int) -> Int {
        let b0 = p[0]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return 0
        }
        guard available >= length else { return 0 }
        for k in 1..<length {
            let b = p[k]
            let (lo, hi) = k == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard b >= lo && b <= hi else { return 0 }
        }
        return length
    }

    /// 2026-11-29T10:00:00.123456Z
    static func rfc3339(_ t: apr_time_t) -> String {
        var seconds = time_t(t / 1_000_000)
        var tm = tm()
        gmtime_r(&seconds, &tm)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let micros = Int32(t % 1_000_000)
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T"
            + "\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(micros, 6))Z"
    }
}

@_cdecl("wsgi_swift_json_log_item")
func wsgi_swift_json_log_item(_ r: UnsafeMutablePointer<request_rec>?, _ a: UnsafeMutablePointer<CChar>?)
    -> UnsafePointer<CChar>?
{
    guard let r else { return nil }
    let bytes = JSONAccessLog.item(r)
    let p = apr_palloc(r.pointee.pool, bytes.count + 1)!.assumingMemoryBound(to: UInt8.self)
    bytes.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: bytes.count) }
    p[bytes.count] = 0
    return UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self)
}
