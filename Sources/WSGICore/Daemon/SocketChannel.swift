import CWSGICore

/// The daemon-mode channel: the request body and the response travel over the socket
/// to the Apache child (see WireProtocol.swift). Called without the GIL for I/O.
final class SocketChannel: RequestChannel {
    let conn: WireConnection
    let request: DaemonRequest
    private(set) var lastError = ""
    private(set) var bodyFailureStatus: Int32?
    private var bodyDone: Bool
    /// The connection failed or is mid-frame: it cannot carry another request.
    private(set) var broken = false
    /// The response's Content-Length (-1: none) and the body bytes written so far.
    private var contentLength: Int64 = -1
    private var written: Int64 = 0
    /// The largest last body block held back to go out with 'Z' (copied meanwhile).
    static let heldBlockLimit = 64 * 1024

    /// A response's writes up to this many bytes in all come with the GIL held (see
    /// RequestChannel): each is tried without waiting, and only a write that finds the
    /// socket to the Apache child full releases the GIL while it waits. This spares a small
    /// response the GIL hand-over (and the wait to get it back). Not more: copying a larger
    /// block into the socket with the GIL held makes the other threads wait for it (100 KB
    /// responses: 6.9 futex calls per request in the daemon instead of 5.1).
    var bufferedWriteLimit: Int { 16 * 1024 }

    init(conn: WireConnection, request: DaemonRequest) {
        self.conn = conn
        self.request = request
        bodyDone = !request.hasBody
    }

    var isHEAD: Bool { request.isHEAD }

    func read(_ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        if bodyDone || count == 0 { return 0 }
        do {
            try conn.send(.read, encodeInt32(Int32(min(count, 1 << 20))))
            let (type, length) = try conn.readHeader()
            switch type {
            case .data:
                guard length <= count else { throw WireError.malformed("body block larger than asked for") }
                try conn.readExactly(buffer, length)
                return length
            case .bodyEnd:
                if length > 0 {
                    // The Apache child could not read the body from the client: its status, why.
                    let payload = try conn.readPayload(length)
                    guard payload.count >= 4 else { throw WireError.malformed("short body error") }
                    bodyFailureStatus = try decodeInt32(Array(payload[0..<4]))
                    lastError = String(decoding: payload[4...], as: UTF8.self)
                    bodyDone = true
                    return -1
                }
                bodyDone = true
                return 0
            default:
                throw WireError.malformed("unexpected frame \(type) while reading the request body")
            }
        } catch {
            broken = true
            lastError = "Apache/mod_wsgi failed reading the request body from the Apache child: \(error)"
            // The Apache child waits on the client for the body: a silent client is its fault.
            if case WireError.timeout = error { bodyFailureStatus = HTTP_REQUEST_TIME_OUT }
            bodyDone = true
            return -1
        }
    }

    /// The head is held, not written: it goes out with the first body block, or with 'Z' (the
    /// application calls write() or ends right after its headers are sent).
    func sendHeaders(status: Int32, statusLine: String, headers: [Header]) -> Bool {
        let payload = DaemonResponseHead(status: status, statusLine: statusLine, headers: headers).encode()
        payload.withUnsafeBytes { conn.hold(.headers, $0) }
        if let h = headers.first(where: { Header.same($0.name, "content-length") }) {
            contentLength = Int64(String(cString: h.value).trimmingSpaces) ?? -1
        }
        return true
    }

    /// Socket I/O never holds the GIL (the Apache child may be slow to read). Called with
    /// the GIL held, as RequestChannel's methods other than read/write/sendFile are.
    private func withoutGIL<T>(_ body: () throws -> T) rethrows -> T {
        let ts = PyEval_SaveThread()
        defer { PyEval_RestoreThread(ts) }
        return try body()
    }

    /// The block that completes the Content-Length is held (when small) to go out with 'Z':
    /// nothing of the application runs between the two but close(), and a small response
    /// is one write to the Apache child.
    func write(_ bytes: UnsafeRawPointer, _ count: Int, flush: Bool, gilHeld: Bool) -> Bool {
        written += Int64(count)
        if !flush && contentLength >= 0 && written >= contentLength && count <= Self.heldBlockLimit {
            conn.hold(.data, UnsafeRawBufferPointer(start: bytes, count: count))
            return true
        }
        do {
            try conn.sendData(bytes, count, flush: flush, gilHeld: gilHeld)
            return true
        } catch {
            broken = true
            lastError = "failed to write response data: \(error)"
            return false
        }
    }

    /// The app failed after output began: the Apache child cuts the client connection.
    func abort() {
        withoutGIL {
            do { try conn.send(.abort) } catch { broken = true }
        }
    }

    func sendFile(fd: Int32, offset: Int64, length: Int64) -> Bool? { nil }

    /// Apache's filename for the request (SCRIPT_FILENAME), which mod_wsgi 6.x names in what
    /// it logs about a request: `[script /path]`.
    private(set) lazy var filename: String = request.value(of: "SCRIPT_FILENAME") ?? request.scriptPath

    /// The server (main or <VirtualHost>) that took the request in the Apache child: its
    /// ErrorLog gets what is logged about the request (as mod_wsgi 6.0.1).
    var server: Int { Int(request.serverIndex) }

    func logError(_ message: String) {
        Log.raw(APLOG_ERR, "[remote \(request.client)] " + Log.scriptTag(filename) + message, server: server)
    }

    /// The application's script could not be loaded (startup-timeout counts these).
    private(set) var scriptLoadFailed = false

    func log(_ level: Int32, _ id: LogID, _ message: String) {
        if id.isScriptLoadFailure { scriptLoadFailed = true }
        // Every line of a multi-line message (a traceback) names the client, as in Apache.
        Log.daemonRequest(level, id, message, client: request.client, script: filename, server: server)
    }

    func logServer(_ level: Int32, _ id: LogID, _ message: String) { Log.server(level, id, message, server: server) }

    /// The request was handed back for the Apache child to send again ('X').
    private var rejected = false

    /// mod_wsgi 6.x's daemon mode, when the script must be loaded anew: the process restarts
    /// (immediately, its other requests within shutdown-timeout), and this request, which it
    /// did not run, goes back to the Apache child, which sends it again to the process that
    /// replaces this one. Called with the GIL, before any of the request body was read.
    func restartProcess(script: String) -> Int32 {
        let st = DaemonProcess.state!
        Log.server(
            APLOG_INFO, .daemonScriptReload,
            "Forcing restart of daemon process '\(st.group.name)' due to modification of script '\(script)'.")
        st.locked { st.shutdownReason = st.shutdownReason ?? "restarts to load a changed script" }
        // No request more here: a connection accepted from now on is closed unread (the Apache
        // child sends its request again), until the supervisor closes the listener.
        st.stopAccepting = true
        st.wake()
        rejected = true
        withoutGIL {
            do { try conn.send(.rejected) } catch { broken = true }
        }
        return OK
    }

    /// Ends the exchange with the handler status for Apache.
    /// Whether the connection can carry the next request once this one is finished.
    var reusable: Bool { !broken && !rejected && !conn.hasBufferedInput }

    func finish(_ status: Int32) {
        if rejected { return }
        do { try conn.send(.done, encodeInt32(status)) } catch { broken = true }
    }
}
