import CModWSGI
import WSGICore

/// An application that closes a file descriptor it does not own can close the client's
/// connection under Apache (embedded mode): the response is then lost without a word (Apache
/// notes the failed write at trace level only), and if the app opened a file meanwhile, the
/// number now names that file, and the response would be written into it. One fstat() after
/// the application returns tells: the client's fd must still be a socket. When it is not, the
/// request's output is dropped (c->aborted) and the error log says what happened.
enum ConnectionGuard {
    static func check(_ r: UnsafeMutablePointer<request_rec>, scriptPath: String) {
        guard let c = r.pointee.connection, let sock = ap_get_conn_socket(c) else { return }
        var fd: apr_os_sock_t = -1
        guard apr_os_sock_get(&fd, sock) == APR_SUCCESS, fd >= 0 else { return }
        var st = stat()
        let closed = fstat(fd, &st) != 0
        if !closed && (st.st_mode & UInt32(S_IFMT)) == UInt32(S_IFSOCK) { return }
        c.pointee.aborted = 1
        Log.request(
            APLOG_ERR, .connectionClosedByApp,
            closed
                ? "The client's connection (fd \(fd)) was closed while '\(scriptPath)' ran: the response is lost. The application closed a file descriptor it does not own."
                : "The client's connection (fd \(fd)) was closed and its number reused for a file while '\(scriptPath)' ran: the response was dropped. The application closed a file descriptor it does not own.",
            r)
    }
}
