import CWSGICore

/// The server side of one WSGI request: where the body comes from and where the
/// response goes. Embedded mode talks to Apache's request_rec (`ApacheChannel`);
/// daemon mode talks to the Apache child over a UNIX socket. The WSGI logic
/// (environ, wsgi.input, start_response, the response iterable) is the same for both.
///
/// `read`, `write` and `sendFile` are called WITHOUT the GIL; the rest with it.
package protocol RequestChannel: AnyObject {
    /// Reads up to `count` bytes of the request body: > 0 bytes read, 0 at its end,
    /// -1 on an error (then `lastError` says what).
    func read(_ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int
    /// Sends the status line and headers (already validated). False: the request failed.
    func sendHeaders(status: Int32, statusLine: String, headers: [Header]) -> Bool
    /// Writes body bytes. False: the client went away (or the link to it broke).
    /// `gilHeld`: the caller holds the GIL (see `bufferedWriteLimit`). The caller says so:
    /// Python 3.11's current thread state is the GIL holder's, whichever thread that is,
    /// so a channel cannot tell from it whether its own thread holds the GIL.
    func write(_ bytes: UnsafeRawPointer, _ count: Int, flush: Bool, gilHeld: Bool) -> Bool
    /// Sends `length` bytes of an open file from `offset`, with sendfile where possible.
    /// nil: not supported here, the caller reads and writes the file itself.
    func sendFile(fd: Int32, offset: Int64, length: Int64) -> Bool?
    /// Apache's filename for the request (the script, for WSGIScriptAlias): what mod_wsgi 6.x
    /// names in what it logs about a request, `[script /path]`.
    var filename: String { get }
    /// A line for the error log from wsgi.errors.
    func logError(_ message: String)
    /// A line for the error log from the module, about this request.
    func log(_ level: Int32, _ id: LogID, _ message: String)
    /// A line for the error log from the module that mod_wsgi writes as the server's (no
    /// client): loading a script.
    func logServer(_ level: Int32, _ id: LogID, _ message: String)
    var lastError: String { get }
    /// Set when reading the body failed through the client (it stopped sending: 408; a body
    /// cut short or malformed: 400; too large: 413): what to answer instead of a 500.
    var bodyFailureStatus: Int32? { get }
    /// The response cannot be completed: end the connection without terminating it.
    func abort()
    /// A daemon process must restart to load a changed script: the request is handed back
    /// unserved. Returns the handler status.
    func restartProcess(script: String) -> Int32
    /// The request is a HEAD (the body is discarded by the server side).
    var isHEAD: Bool { get }
    /// While the whole response so far stays within this many bytes, an unflushed `write`
    /// cannot wait for the client (the server side buffers it): it is then called WITH
    /// the GIL, which spares a GIL hand-over per small response. 0: never.
    var bufferedWriteLimit: Int { get }
}

extension RequestChannel {
    package var bufferedWriteLimit: Int { 0 }

    /// A daemon process restarts when a script must be loaded anew (mod_wsgi's daemon mode);
    /// embedded mode reloads the module in place and never asks for this.
    package func restartProcess(script: String) -> Int32 { HTTP_INTERNAL_SERVER_ERROR }
}
