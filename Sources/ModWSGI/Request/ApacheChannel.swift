import CModWSGI
import WSGICore

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
        inBrigade = apr_brigade_create(r.pointee.pool, c.pointee.bucket_alloc)
        outBrigade = apr_brigade_create(r.pointee.pool, c.pointee.bucket_alloc)
    }

    var isHEAD: Bool { r.pointee.header_only != 0 }

    var filename: String { r.pointee.filename.map { String(cString: $0) } ?? "" }

    /// Apache's core output filter sets data aside without a blocking write until it holds
    /// FlushMaxThreshold bytes (64 KB by default); a quarter of that, at most 16 KB, leaves
    /// room for the headers and for what other filters add.
    var bufferedWriteLimit: Int {
        let threshold = Int(wsgi_flush_max_threshold(r))
        return min(threshold > 0 ? threshold / 4 : 16384, 16384)
    }

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
            } else if Header.same(h.name, "www-authenticate") {
                // As mod_wsgi: kept through an internal redirect (ErrorDocument).
                apr_table_add(r.pointee.err_headers_out, h.name, h.value)
            } else {
                apr_table_add(out, h.name, h.value)
            }
        }
        return true
    }

    /// A daemon process's response head, as mod_wsgi's Apache child takes it: through the
    /// rules of Apache's CGI header parser. Repeated names are merged into one line of
    /// comma-separated values, except Set-Cookie and WWW-Authenticate (kept as separate
    /// lines: browsers cannot read them merged); Location, Content-Length, Content-Range and
    /// Transfer-Encoding keep their last value; Content-Type is lower-cased; Last-Modified
    /// is Apache's (never later than now).
    func sendDaemonHeaders(status: Int32, statusLine: String, headers: [Header]) {
        let pool = r.pointee.pool
        r.pointee.status = status
        r.pointee.status_line = UnsafePointer(statusLine.pooled(pool))
        let merge = apr_table_make(pool, 10)
        let cookies = apr_table_make(pool, 2)
        let authenticate = apr_table_make(pool, 2)
        copy(r.pointee.headers_out, "Set-Cookie", into: cookies)
        copy(r.pointee.err_headers_out, "WWW-Authenticate", into: authenticate)
        for h in headers {
            h.name.withUnsafeBufferPointer { nameBuffer in
                h.value.withUnsafeBufferPointer { valueBuffer in
                    let name = nameBuffer.baseAddress!
                    var value = valueBuffer.baseAddress!
                    while value.pointee == 32 || (value.pointee >= 9 && value.pointee <= 13) { value += 1 }
                    if strcasecmp(name, "Content-Type") == 0 {
                        let type = apr_pstrdup(pool, value)!
                        var end = strlen(type)
                        while end > 1 && (type[end - 1] == 32 || (type[end - 1] >= 9 && type[end - 1] <= 13)) {
                            end -= 1
                            type[end] = 0
                        }
                        ap_content_type_tolower(type)
                        ap_set_content_type(r, type)
                    } else if strcasecmp(name, "Location") == 0 || strcasecmp(name, "Content-Length") == 0
                        || strcasecmp(name, "Content-Range") == 0 || strcasecmp(name, "Transfer-Encoding") == 0
                    {
                        apr_table_set(r.pointee.headers_out, name, value)
                    } else if strcasecmp(name, "Last-Modified") == 0 {
                        ap_update_mtime(r, apr_date_parse_http(value))
                        ap_set_last_modified(r)
                    } else if strcasecmp(name, "Set-Cookie") == 0 {
                        apr_table_add(cookies, name, value)
                    } else if strcasecmp(name, "WWW-Authenticate") == 0 {
                        apr_table_add(authenticate, name, value)
                    } else {
                        apr_table_add(merge, name, value)
                    }
                }
            }
        }
        apr_table_overlap(r.pointee.headers_out, merge, UInt32(APR_OVERLAP_TABLES_MERGE))
        if apr_is_empty_table(cookies) == 0 {
            apr_table_unset(r.pointee.headers_out, "Set-Cookie")
            r.pointee.headers_out = apr_table_overlay(pool, r.pointee.headers_out, cookies)
        }
        if apr_is_empty_table(authenticate) == 0 {
            apr_table_unset(r.pointee.err_headers_out, "WWW-Authenticate")
            r.pointee.err_headers_out = apr_table_overlay(pool, r.pointee.err_headers_out, authenticate)
        }
    }

    /// Adds every `name` entry of `from` to `into`.
    private func copy(_ from: OpaquePointer?, _ name: String, into: OpaquePointer?) {
        let n = Int(wsgi_table_count(from))
        guard n > 0, let e = wsgi_table_entries(from) else { return }
        for i in 0..<n where e[i].key != nil && strcasecmp(e[i].key, name) == 0 {
            apr_table_add(into, e[i].key, e[i].val)
        }
    }

    func write(_ bytes: UnsafeRawPointer, _ count: Int, flush: Bool, gilHeld: Bool) -> Bool {
        let rv = wsgi_pass_bytes(r, outBrigade, bytes.assumingMemoryBound(to: CChar.self), count, flush ? 1 : 0)
        if rv != APR_SUCCESS {
            lastError = "failed to write response data: " + aprError(rv)
            return false
        }
        return true
    }

    /// As `write`, for `malloc`'d memory that Apache owns from here on (a heap bucket, freed
    /// when Apache has sent it): no copy, even when the core output filter sets it aside.
    func write(owned bytes: UnsafeMutableRawPointer, _ count: Int, flush: Bool) -> Bool {
        let rv = wsgi_pass_owned(r, outBrigade, bytes.assumingMemoryBound(to: CChar.self), count, flush ? 1 : 0)
        if rv != APR_SUCCESS {
            lastError = "failed to write response data: " + aprError(rv)
            return false
        }
        return true
    }

    /// Hands the file to Apache as a file bucket (sendfile when Apache's EnableSendfile is On).
    /// Apache may keep the bucket after this returns (a filter or the core output filter sets
    /// it aside for a slow client) while the application closes its file as soon as the
    /// response ends: so Apache gets a descriptor of its own, owned by the request pool, and
    /// a flush makes this wait until the file is written, as mod_wsgi does.
    func sendFile(fd: Int32, offset: Int64, length: Int64) -> Bool? {
        let pool = r.pointee.pool
        var own = wsgi_dup_cloexec(fd)
        guard own >= 0 else { return nil }  // the caller reads the file itself
        var f: OpaquePointer? = nil
        guard apr_os_file_put(&f, &own, APR_FOPEN_READ | APR_FOPEN_SENDFILE_ENABLED, pool) == APR_SUCCESS, let f else {
            close(own)
            return nil
        }
        apr_pool_cleanup_register(
            pool, UnsafeRawPointer(f),
            { file in
                _ = apr_file_close(OpaquePointer(file))
                return APR_SUCCESS
            }, apr_pool_cleanup_null)
        let rv = wsgi_pass_file(r, outBrigade, f, apr_off_t(offset), Int(length), 1)
        if rv != APR_SUCCESS {
            lastError = "failed to send file: " + aprError(rv)
            return false
        }
        return true
    }

    func abort() {
        _ = wsgi_pass_broken(r, outBrigade)
    }

    func logError(_ message: String) { Log.raw(APLOG_ERR, message, request: r) }

    func log(_ level: Int32, _ id: LogID, _ message: String) { Log.request(level, id, message, r) }

    func logServer(_ level: Int32, _ id: LogID, _ message: String) {
        Log.server(level, id, message, UnsafePointer(r.pointee.server))
    }
}
