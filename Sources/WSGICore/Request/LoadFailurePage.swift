import CWSGICore

/// The 500 response that shows why the application could not be loaded, for a loader that
/// asks for it (mod_wsgi-express's handler in debug mode, a developer's own machine): the
/// same lines as the error log's report, as text.
enum LoadFailurePage {
    /// Sends the page through the channel; returns the handler status. Called with the GIL.
    static func send(_ report: [String], _ channel: RequestChannel) -> Int32 {
        var body = Array((report.joined(separator: "\n") + "\n").utf8)
        let headers = [
            Header(name: cString("Content-Type"), value: cString("text/plain; charset=utf-8")),
            Header(name: cString("Content-Length"), value: cString(String(body.count))),
        ]
        guard
            channel.sendHeaders(
                status: HTTP_INTERNAL_SERVER_ERROR, statusLine: "500 Internal Server Error",
                headers: headers)
        else { return HTTP_INTERNAL_SERVER_ERROR }
        // The channel writes without the GIL.
        let save = PyEval_SaveThread()
        _ = body.withUnsafeMutableBytes { channel.write($0.baseAddress!, $0.count, flush: true, gilHeld: false) }
        PyEval_RestoreThread(save)
        return OK
    }

    private static func cString(_ s: String) -> [CChar] {
        s.utf8.map { CChar(bitPattern: $0) } + [0]
    }
}
