import CModWSGI

/// The embedded-mode channel: the request body and the response go through Apache's
/// filters for this request_rec.
final class ApacheChannel: RequestChannel {
    let r: UnsafeMutablePointer<request_rec>
    private let inBrigade: UnsafeMutablePointer<apr_bucket_brigade>
    private let outBrigade: UnsafeMutablePointer<apr_bucket_brigade>
    private(set) var lastError = ""
    private(set) var bodyFailureStatus: Int32?
    private var bodyDone = false

    init(_ r: UnsafeMutablePointer<request_rec>) {
        self.r = r
        let c = r.pointee.connection!
        inBrigade = wsgi_brigade_create(r.pointee.pool, c.pointee.bucket_alloc)
        outBrigade = wsgi_brigade_create(r.pointee.pool, c.pointee.bucket_alloc)
    }

    var isHEAD: Bool { r.pointee.header_only != 0 }

    func read(_ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        if bodyDone || count == 0 { return 0 }
        var status: apr_status_t = 0
        let n = wsgi_read_body(r, inBrigade, buffer.assumingMemoryBound(to: CChar.self), count, &status)
        if n < 0 {
            lastError = "Apache/mod_wsgi failed reading the request body: " + aprError(status)
            bodyFailureStatus = ap_map_http_request_error(status, HTTP_BAD_REQUEST)
            return -1
        }
        // An empty read is the end of the body (the HTTP input filter sends EOS).
        if n == 0 { bodyDone = true }
        return n
    }

    func sendHeaders(status: Int32, statusLine: String, headers: [Header]) -> Bool {
        let pool = r.pointee.pool
        r.pointee.status = status
        r.pointee.status_line = UnsafePointer(statusLine.pooled(pool))
        let out = r.pointee.headers_out
        for h in headers {
            if Header.same(h.name, "content-type") {
                ap_set_content_type(r, apr_pstrdup(pool, h.value))
            } else if Header.same(h.name, "content-length") {
                ap_set_content_length(r, apr_off_t(String(cString: h.value).trimmingSpaces) ?? 0)
            } else {
                apr_table_add(out, h.name, h.value)
            }
        }
        return true
    }

    func write(_ bytes: UnsafeRawPointer, _ count: Int, flush: Bool) -> Bool {
        let rv = wsgi_pass_bytes(r, outBrigade, bytes.assumingMemoryBound(to: CChar.self), count, flush ? 1 : 0)
        if rv != APR_SUCCESS {
            lastError = "failed to write response data: " + aprError(rv)
            return false
        }
        return true
    }

    func sendFile(fd: Int32, offset: Int64, length: Int64) -> Bool? {
        var f: OpaquePointer? = nil
        var osfd = fd
        guard apr_os_file_put(&f, &osfd, APR_FOPEN_READ | APR_FOPEN_XTHREAD, r.pointee.pool) == APR_SUCCESS else { return nil }
        let rv = wsgi_pass_file(r, outBrigade, f, apr_off_t(offset), Int(length), 0)
        if rv != APR_SUCCESS {
            lastError = "failed to send file: " + aprError(rv)
            return false
        }
        return true
    }

    func abort() {
        _ = wsgi_pass_broken(r, outBrigade)
    }

    func logError(_ message: String) { wsgi_log_rerror(APLOG_ERR, 0, r, message) }

    func log(_ level: Int32, _ id: LogID, _ message: String) { Log.request(level, id, message, r) }
}

func aprError(_ status: apr_status_t) -> String {
    var buf = [CChar](repeating: 0, count: 256)
    apr_strerror(status, &buf, buf.count)
    return String(cString: buf)
}

extension String {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }
}
