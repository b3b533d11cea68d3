import CModWSGI

/// ap_mpm_query's answer to `query` (0 when the MPM does not know).
func mpmQuery(_ query: Int32) -> Int32 {
    var value: Int32 = 0
    _ = ap_mpm_query(query, &value)
    return value
}

/// An APR status as text (apr_strerror).
func aprError(_ status: apr_status_t) -> String {
    var buf = [CChar](repeating: 0, count: 256)
    apr_strerror(status, &buf, buf.count)
    return String(cString: buf)
}
