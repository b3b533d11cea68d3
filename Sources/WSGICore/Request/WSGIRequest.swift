import CWSGICore
import SystemCalls

/// One WSGI request on either side of the daemon socket: start_response, write(),
/// and the response iterable, per PEP 3333. The `channel` is the server side.
package final class WSGIRequest {
    let channel: RequestChannel
    let enableSendfile: Bool
    /// Set when the request is over: objects the app kept (wsgi.input, wsgi.errors,
    /// start_response) refuse to touch a finished request.
    package var finished = false
    var bytesRead = 0
    /// The mod_wsgi API's view of this request (events, request_data, metrics).
    var life: RequestLife?

    // Response state.
    private(set) var status: Int32 = 0
    private var statusLine = ""
    private var headers: [Header] = []
    private(set) var started = false
    private(set) var headersSent = false
    private var contentLength: Int64 = -1
    private(set) var bytesSent: Int64 = 0
    /// The client went away: stop producing output, keep the app's status.
    private(set) var clientGone = false

    /// channel.bufferedWriteLimit, asked once.
    private let writeLimit: Int
    /// The process that began the request (see ForkGuard).
    let owner = wsgi_pid()

    package init(channel: RequestChannel, enableSendfile: Bool) {
        self.channel = channel
        self.enableSendfile = enableSendfile
        writeLimit = channel.bufferedWriteLimit
    }

    // MARK: start_response(status, response_headers, exc_info=None)

    /// Returns false with a Python exception set.
    func startResponse(_ args: PyObj?, _ kwargs: PyObj?) -> Bool {
        if finished {
            Py.raise(wsgi_exc_runtime_error(), "start_response() called after the request completed"); return false
        }
        var statusObj: PyObj?, headersObj: PyObj?, excInfo: PyObj?
        let n = args.map { wsgi_tuple_size($0) } ?? 0
        if n >= 1 { statusObj = wsgi_tuple_get(args, 0) }
        if n >= 2 { headersObj = wsgi_tuple_get(args, 1) }
        if n >= 3 { excInfo = wsgi_tuple_get(args, 2) }
        if let kwargs {
            if let v = PyDict_GetItemString(kwargs, "exc_info") { excInfo = v }
            if let v = PyDict_GetItemString(kwargs, "status") { statusObj = v }
            if let v = PyDict_GetItemString(kwargs, "response_headers") { headersObj = v }
        }
        guard n <= 3, let statusObj, let headersObj else {
            Py.raise(wsgi_exc_type_error(), "start_response() takes status, response_headers and an optional exc_info")
            return false
        }
        if let e = excInfo, e != wsgi_py_none() {
            guard wsgi_tuple_check(e) != 0 else {
                Py.raise(wsgi_exc_runtime_error(), "exception info must be a tuple"); return false
            }
            if headersSent {
                // PEP 3333: re-raise the original exception.
                // Checked: CPython trusts what PyErr_Restore is given (anything else crashes).
                guard wsgi_tuple_check(e) != 0, wsgi_tuple_size(e) == 3,
                    wsgi_exception_class_check(wsgi_tuple_get(e, 0)) != 0,
                    wsgi_tuple_get(e, 2) == wsgi_py_none() || wsgi_traceback_check(wsgi_tuple_get(e, 2)) != 0
                else {
                    Py.raise(wsgi_exc_type_error(), "exc_info must be a (type, value, traceback) tuple"); return false
                }
                let t = wsgi_tuple_get(e, 0)!, v = wsgi_tuple_get(e, 1)!, tb = wsgi_tuple_get(e, 2)!
                wsgi_incref(t); wsgi_incref(v); wsgi_incref(tb)
                PyErr_Restore(t, v, tb == wsgi_py_none() ? nil : tb)
                if tb == wsgi_py_none() { wsgi_decref(tb) }
                return false
            }
        } else if headersSent {
            // As mod_wsgi: before any output a second call replaces the status and headers.
            Py.raise(wsgi_exc_runtime_error(), "headers have already been sent")
            return false
        }
        guard let s = Py.swiftString(statusObj) else {
            Py.raise(
                wsgi_exc_type_error(),
                "expected unicode object, value of type \(String(cString: wsgi_type_name(statusObj))) found")
            return false
        }
        guard let code = Self.parseStatus(s) else {
            // mod_wsgi's message, naming the bad value (repr: CR/LF never reach the log raw).
            Py.raise(wsgi_exc_value_error(), "status code is not a 3 digit integer: \(Py.repr(statusObj))")
            return false
        }
        guard let parsed = Self.parseHeaders(headersObj) else { return false }
        status = code
        statusLine = s
        headers = parsed.headers
        contentLength = parsed.contentLength
        started = true
        life?.responseStarted(status: statusObj, headers: headersObj, excInfo: excInfo)
        return true
    }

    static func parseStatus(_ s: String) -> Int32? {
        let u = Array(s.utf8)
        guard u.count >= 4, u[3] == 32, u[0...2].allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        if u.contains(where: { $0 == 10 || $0 == 13 }) { return nil }
        let code = Int32(u[0] - 48) * 100 + Int32(u[1] - 48) * 10 + Int32(u[2] - 48)
        return code >= 100 ? code : nil
    }

    /// Validates response headers: a list of (str, str), latin-1, no CR/LF, no colon or
    /// space in names. Raises on the first bad one.
    static func parseHeaders(_ obj: PyObj) -> (headers: [Header], contentLength: Int64)? {
        guard wsgi_list_check(obj) != 0 else {
            Py.raise(
                wsgi_exc_type_error(),
                "list of tuple values expected for headers, value of type \(String(cString: wsgi_type_name(obj))) found"
            )
            return nil
        }
        var out: [Header] = []
        var length: Int64 = -1
        let n = wsgi_list_size(obj)
        out.reserveCapacity(n)
        for i in 0..<n {
            let item = wsgi_list_get(obj, i)!
            guard wsgi_tuple_check(item) != 0, wsgi_tuple_size(item) == 2 else {
                Py.raise(
                    wsgi_exc_type_error(),
                    wsgi_tuple_check(item) != 0
                        ? "tuple of 2 values expected for header, value of type tuple with \(wsgi_tuple_size(item)) items found"
                        : "list of tuple values expected for headers, value of type \(String(cString: wsgi_type_name(item))) found"
                )
                return nil
            }
            guard let name = latin1Header(wsgi_tuple_get(item, 0)!, what: "name"),
                let value = latin1Header(wsgi_tuple_get(item, 1)!, what: "value")
            else { return nil }
            if name.count <= 1
                || name.dropLast().contains(where: {
                    $0 == 58 || $0 == 32 || $0 == 9 || ($0 > 0 && $0 < 32) || $0 == 127
                })
            {
                Py.raise(
                    wsgi_exc_value_error(),
                    "control character present in header name: \(Py.repr(wsgi_tuple_get(item, 0)))")
                return nil
            }
            if Header.same(name, "content-length") {
                guard let l = Int64(String(cString: value).trimmingSpaces), l >= 0 else {
                    Py.raise(
                        wsgi_exc_value_error(),
                        "invalid Content-Length response header value \(Py.repr(wsgi_tuple_get(item, 1)))")
                    return nil
                }
                length = l
            }
            out.append(Header(name: name, value: value))
        }
        return (out, length)
    }

    /// A header name or value: a str of latin-1 characters without CR or LF.
    private static func latin1Header(_ o: PyObj, what: String) -> [CChar]? {
        guard wsgi_unicode_check(o) != 0 else {
            Py.raise(
                wsgi_exc_type_error(),
                "expected unicode object for header \(what), value of type \(String(cString: wsgi_type_name(o))) found")
            return nil
        }
        guard let b = PyUnicode_AsLatin1String(o) else {
            PyErr_Clear()
            Py.raise(wsgi_exc_value_error(), "unicode object contains non latin-1 characters: \(Py.repr(o))")
            return nil
        }
        defer { wsgi_decref(b) }
        let p = UnsafeRawBufferPointer(start: wsgi_bytes_data(b), count: wsgi_bytes_size(b))
        if p.contains(where: { $0 == 10 || $0 == 13 || $0 == 0 }) {
            Py.raise(
                wsgi_exc_value_error(),
                (what == "name"
                    ? "control character present in header name: "
                    : "carriage return/line feed character present in header value: ") + Py.repr(o))
            return nil
        }
        var bytes = [CChar](repeating: 0, count: p.count + 1)
        bytes.withUnsafeMutableBytes { $0.copyMemory(from: p) }
        return bytes
    }

    // MARK: output

    /// Sends the headers if not yet sent. False: failed (exception set).
    private func sendHeadersIfNeeded() -> Bool {
        if headersSent { return true }
        guard started else {
            Py.raise(
                wsgi_exc_runtime_error(), "response has not been started: the application did not call start_response()"
            )
            return false
        }
        headersSent = true
        return channel.sendHeaders(status: status, statusLine: statusLine, headers: headers)
    }

    /// The channel is in use (its I/O runs without the GIL): another thread of the
    /// application must not start I/O on it meanwhile. Read and written with the GIL.
    private var channelBusy = false

    /// Takes the channel for one I/O, or raises if another thread is using it.
    private func claimChannel(_ what: String) -> Bool {
        if channelBusy {
            Py.raise(
                wsgi_exc_runtime_error(),
                "\(what) called while another thread of the application is writing this response")
            return false
        }
        channelBusy = true
        return true
    }

    /// Waits (without the GIL) until no other thread of the application is writing: the
    /// request must not end, nor its connection be cut, under such a write.
    func waitUntilIdle() {
        while channelBusy {
            let save = PyEval_SaveThread()
            sleepMicros(1000)
            PyEval_RestoreThread(save)
        }
    }

    /// Writes one block of the body, honouring Content-Length. Returns false with a
    /// Python exception set when the app must stop (bad data, client gone).
    func write(_ data: PyObj, flush: Bool = false) -> Bool {
        if finished { Py.raise(wsgi_exc_runtime_error(), "write() called after the request completed"); return false }
        ForkGuard.check(owner, channel, scriptPath)
        guard wsgi_bytes_check(data) != 0 else {
            Py.raise(
                wsgi_exc_type_error(),
                "sequence of byte string values expected, value of type \(String(cString: wsgi_type_name(data))) found")
            return false
        }
        var n = Int64(wsgi_bytes_size(data))
        if n == 0 && !flush { return true }
        guard claimChannel("write()") else { return false }
        defer { channelBusy = false }
        guard sendHeadersIfNeeded() else { return false }
        if clientGone { Py.raise(wsgi_exc_io_error(), "client connection closed"); return false }
        if contentLength >= 0 {
            let left = contentLength - bytesSent
            if n > left { n = left }
            if n == 0 { return true }
        }
        let p = UnsafeRawPointer(wsgi_bytes_data(data)!)
        let ok: Bool
        if !flush && bytesSent + n <= Int64(writeLimit) {
            // A small response the server side buffers: no wait for the client, so the GIL
            // stays (releasing it hands it to a waiting thread and queues us behind it).
            let t0 = life != nil ? wsgi_now() : 0
            ok = channel.write(p, Int(n), flush: false, gilHeld: true)
            if let life {
                life.outputWrites += 1
                life.outputTime += Int64(wsgi_now() - t0)
            }
        } else {
            // The bytes are used without the GIL: hold a reference of our own meanwhile (the
            // caller's may be borrowed from a list that another thread can empty).
            wsgi_incref(data)
            let t0 = wsgi_now()
            let save = PyEval_SaveThread()
            ok = channel.write(p, Int(n), flush: flush, gilHeld: false)
            let t1 = wsgi_now()
            PyEval_RestoreThread(save)
            wsgi_decref(data)
            if let life {
                let t2 = wsgi_now()
                life.outputWrites += 1
                life.outputTime += Int64(t1 - t0)
                life.waitedForGIL(Int64(t2 - t1))
            }
        }
        if !ok {
            clientGone = true
            Py.raise(wsgi_exc_io_error(), "Apache/mod_wsgi \(channel.lastError)")
            return false
        }
        bytesSent += n
        return true
    }

    /// Runs the application and sends its response. Returns Apache's handler status:
    /// OK, or 500 when nothing was sent yet and the app failed.
    func run(application: PyObj, environ: PyObj, startResponse: PyObj) -> Int32 {
        let args = Py.tuple([wsgi_new_ref(environ), wsgi_new_ref(startResponse)])
        let result = PyObject_Call(application, args, nil)
        ForkGuard.check(owner, channel, scriptPath)
        wsgi_decref(args)
        guard let result else { return failed("Exception occurred processing WSGI script") }
        defer { wsgi_decref(result) }

        var ok = true
        if wsgi_exact_list_or_tuple(result) != 0 {
            // By index. Another thread of the app may change a list while a write runs
            // without the GIL: its size is read again for every item.
            let isList = wsgi_list_check(result) != 0
            var i = 0
            while i < (isList ? wsgi_list_size(result) : wsgi_tuple_size(result)) {
                let item = isList ? wsgi_list_get(result, i)! : wsgi_tuple_get(result, i)!
                if !write(item) { ok = false; break }
                if clientGone { break }
                i += 1
            }
        } else if !sendFileWrapper(result, &ok) {
            if let it = PyObject_GetIter(result) {
                while let item = PyIter_Next(it) {
                    let wrote = write(item)
                    wsgi_decref(item)
                    if !wrote { ok = false; break }
                    if contentLength >= 0 && bytesSent >= contentLength { break }
                }
                if ok && PyErr_Occurred() != nil { ok = false }
                wsgi_decref(it)
            } else {
                ok = false
            }
        }
        ForkGuard.check(owner, channel, scriptPath)
        if ok { ok = sendHeadersIfNeeded() }
        var code: Int32 = OK
        if !ok { code = failed("Exception occurred processing WSGI script") }
        // PEP 3333: close() is always called, whatever happened.
        if let close = PyObject_GetAttrString(result, "close") {
            let r = PyObject_CallNoArgs(close)
            ForkGuard.check(owner, channel, scriptPath)
            if let r {
                wsgi_decref(r)
            } else {
                _ = failed("Exception occurred closing the response of WSGI script", alreadyFailed: !ok)
            }
            wsgi_decref(close)
        } else {
            PyErr_Clear()
        }
        if ok && !clientGone && contentLength >= 0 && bytesSent < contentLength && !channel.isHEAD {
            channel.log(
                APLOG_ERR, .truncatedResponse,
                "Response body of \(bytesSent) bytes is shorter than its Content-Length of \(contentLength); the client will see a truncated response."
            )
        }
        return code
    }

    /// Logs the pending exception; 500 if nothing was sent, else OK (the connection is cut).
    private func failed(_ what: String, alreadyFailed: Bool = false) -> Int32 {
        if clientGone {
            // The client went away: not the application's fault, no error-log noise.
            PyErr_Clear()
            channel.log(APLOG_INFO, .clientGone, "Client closed the connection before the response was complete.")
            return OK
        }
        if let status = channel.bodyFailureStatus {
            // Reading the body failed through the client: its fault, not the application's.
            PyErr_Clear()
            channel.log(
                APLOG_INFO, .requestBodyFailed,
                "Request body from the client could not be read (\(channel.lastError)); answering \(status).")
            if headersSent { channel.abort(); return OK }
            return status
        }
        if let life, RequestInterrupt.enabled, RequestInterrupt.isPending(life.api) {
            // interrupt-timeout: the supervisor stopped this request; 504, no traceback.
            PyErr_Clear()
            channel.log(
                APLOG_INFO, .requestInterrupted,
                "Request exceeded request-timeout and was interrupted (mod_wsgi.RequestTimeout) in '\(scriptPath)'.")
            if headersSent { channel.abort(); return OK }
            return HTTP_GATEWAY_TIME_OUT
        }
        life?.exception()
        let lines = Py.takeExceptionLines()
        waitUntilIdle()
        // One message: the traceback's lines carry the header's prefix and ID.
        let report = alreadyFailed ? lines : ["\(what) '\(scriptPath)'."] + lines
        if !report.isEmpty { channel.log(APLOG_ERR, .exceptionInApp, report.joined(separator: "\n")) }
        if headersSent {
            // Part of the response is out: cut the connection so the client sees it
            // incomplete, never a cleanly terminated (and wrong) response.
            channel.abort()
            return OK
        }
        return HTTP_INTERNAL_SERVER_ERROR
    }

    var scriptPath = ""

    /// wsgi.file_wrapper: with WSGIEnableSendfile On and a real file, hand the file to
    /// the server (sendfile). True when it was handled here.
    private func sendFileWrapper(_ result: PyObj, _ ok: inout Bool) -> Bool {
        guard enableSendfile, wsgi_type_of(result) == FileWrapper.typeObject else { return false }
        guard let filelike = PyObject_GetAttrString(result, "filelike") else { PyErr_Clear(); return false }
        defer { wsgi_decref(filelike) }
        guard let fdObj = Py.callMethod(filelike, "fileno") else { PyErr_Clear(); return false }
        let fd = Int32(truncatingIfNeeded: PyLong_AsLong(fdObj)); wsgi_decref(fdObj)
        if PyErr_Occurred() != nil { PyErr_Clear(); return false }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & UInt32(S_IFMT)) == UInt32(S_IFREG) else { return false }
        var offset: Int64 = 0
        if let pos = Py.callMethod(filelike, "tell") {
            offset = Int64(PyLong_AsLongLong(pos)); wsgi_decref(pos)
            if PyErr_Occurred() != nil { PyErr_Clear(); offset = 0 }
        } else {
            PyErr_Clear()
        }
        if offset < 0 { return false }  // a filelike with a strange tell(): iterate it instead
        var length = Int64(st.st_size) - offset
        if contentLength >= 0 && length > contentLength { length = contentLength }
        guard claimChannel("sendfile") else { ok = false; return true }
        defer { channelBusy = false }
        guard sendHeadersIfNeeded() else { ok = false; return true }
        if length <= 0 || channel.isHEAD { return true }
        let save = PyEval_SaveThread()
        let sent = channel.sendFile(fd: fd, offset: offset, length: length)
        PyEval_RestoreThread(save)
        switch sent {
        case nil: return false
        case true?: bytesSent += length; return true
        case false?: clientGone = true; return true
        }
    }
}

/// A response header as the bytes sent (latin-1, NUL-terminated).
package struct Header {
    package let name: [CChar]
    package let value: [CChar]

    /// Case-insensitive comparison of a NUL-terminated name with an ASCII lowercase name.
    package static func same(_ name: [CChar], _ lower: StaticString) -> Bool {
        guard name.count == lower.utf8CodeUnitCount + 1 else { return false }
        let l = lower.utf8Start
        for i in 0..<lower.utf8CodeUnitCount {
            var c = UInt8(bitPattern: name[i])
            if c >= 65 && c <= 90 { c += 32 }
            if c != l[i] { return false }
        }
        return true
    }
}
