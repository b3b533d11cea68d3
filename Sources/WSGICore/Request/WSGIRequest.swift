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
    /// A Content-Length mod_wsgi refuses: raised when the headers go out, as mod_wsgi does.
    private var contentLengthError: String?
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

    /// Returns false with a Python exception set. The checks, their order, the exception
    /// types and the messages are mod_wsgi 6.1's (a program written for it catches the same
    /// thing), plus two of ours: a colon in a header name, a NUL in a header value.
    func startResponse(_ args: PyObj?, _ kwargs: PyObj?) -> Bool {
        if finished {
            Py.raise(wsgi_exc_runtime_error(), "start_response() called after request completed"); return false
        }
        var statusObj: PyObj?, headersObj: PyObj?, excInfo: PyObj?
        let n = args.map { wsgi_tuple_size($0) } ?? 0
        if n >= 1 { statusObj = wsgi_tuple_get(args, 0) }
        if n >= 2 { headersObj = wsgi_tuple_get(args, 1) }
        if n >= 3 { excInfo = wsgi_tuple_get(args, 2) }
        // Keywords are ours (mod_wsgi takes positional arguments only).
        if let kwargs {
            if let v = PyDict_GetItemString(kwargs, "exc_info") { excInfo = v }
            if let v = PyDict_GetItemString(kwargs, "status") { statusObj = v }
            if let v = PyDict_GetItemString(kwargs, "response_headers") { headersObj = v }
        }
        if n > 3 {
            Py.raise(wsgi_exc_type_error(), "start_response() takes at most 3 arguments (\(n) given)"); return false
        }
        guard let statusObj, let headersObj else {
            Py.raise(wsgi_exc_type_error(), "start_response() takes at least 2 arguments (\(n) given)"); return false
        }
        guard wsgi_list_check(headersObj) != 0 else {
            Py.raise(wsgi_exc_type_error(), "start_response() argument 2 must be list, not \(Self.argName(headersObj))")
            return false
        }
        if let e = excInfo, e != wsgi_py_none() {
            guard wsgi_tuple_check(e) != 0 else {
                Py.raise(wsgi_exc_runtime_error(), "start_response() argument 'exc_info' must be a 3-tuple or None")
                return false
            }
            if headersSent {
                // PEP 3333: re-raise the original exception.
                guard wsgi_tuple_size(e) == 3 else {
                    Py.raise(wsgi_exc_type_error(), "function takes exactly 3 arguments (\(wsgi_tuple_size(e)) given)")
                    return false
                }
                // Ours: CPython trusts what PyErr_Restore is given (anything else crashes).
                guard wsgi_exception_class_check(wsgi_tuple_get(e, 0)) != 0,
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
            Py.raise(wsgi_exc_runtime_error(), "start_response() called more than once without exc_info")
            return false
        }
        // As mod_wsgi 6.x: response_started sees the arguments before they are checked.
        life?.responseStarted(status: statusObj, headers: headersObj, excInfo: excInfo)
        guard let statusBytes = Self.latin1(statusObj) else { return false }
        defer { wsgi_decref(statusBytes) }
        guard let code = Self.checkStatus(statusBytes) else { return false }
        guard let parsed = Self.parseHeaders(headersObj) else { return false }
        status = code
        statusLine = Py.latin1String(statusBytes)
        headers = parsed.headers
        contentLength = parsed.contentLength
        contentLengthError = parsed.contentLengthError
        started = true
        return true
    }

    /// How PyArg_ParseTuple names a value of the wrong type.
    private static func argName(_ o: PyObj) -> String {
        o == wsgi_py_none() ? "None" : String(cString: wsgi_type_name(o))
    }

    /// A str as latin-1 bytes (a new reference), or nil with the exception set: TypeError
    /// for another type, Python's own UnicodeEncodeError for a character beyond latin-1.
    static func latin1(_ o: PyObj) -> PyObj? {
        guard wsgi_unicode_check(o) != 0 else {
            Py.raise(wsgi_exc_type_error(), "must be str, not \(String(cString: wsgi_type_name(o)))")
            return nil
        }
        return PyUnicode_AsLatin1String(o)
    }

    private static func bytes(_ b: PyObj) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: wsgi_bytes_data(b), count: wsgi_bytes_size(b))
    }

    @inline(__always) private static func isControl(_ c: UInt8) -> Bool { c < 32 || c == 127 }
    @inline(__always) private static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    /// A status line (latin-1 bytes): three digits, then nothing or a space and a reason
    /// phrase without control characters. The status code, or nil with ValueError set.
    static func checkStatus(_ b: PyObj) -> Int32? {
        let u = bytes(b)
        func fail(_ what: String) -> Int32? {
            Py.raise(wsgi_exc_value_error(), what + ": " + Py.repr(b)); return nil
        }
        guard u.count >= 3, isDigit(u[0]), isDigit(u[1]), isDigit(u[2]), u.count == 3 || !isDigit(u[3]) else {
            return fail("status code must be a 3 digit integer")
        }
        if u.count > 3 {
            guard u[3] == 32 else { return fail("no space following status code") }
            // A NUL counts too (mod_wsgi's C string would end there, cutting the line short).
            if u[4...].contains(where: { isControl($0) }) { return fail("control character in status reason phrase") }
        }
        let code = Int32(u[0] - 48) * 100 + Int32(u[1] - 48) * 10 + Int32(u[2] - 48)
        // Ours: below 100 is no HTTP status (mod_wsgi sends "HTTP/1.1 099 …", which clients refuse).
        guard code >= 100 else { return fail("status code must be at least 100") }
        return code
    }

    /// Response headers: a list of (str, str) 2-tuples, latin-1, a name without control or
    /// space characters (nor, ours, a colon), a value without CR or LF (nor, ours, NUL).
    /// Raises on the first bad one. Content-Length is checked when the headers go out.
    static func parseHeaders(_ obj: PyObj) -> (headers: [Header], contentLength: Int64, contentLengthError: String?)? {
        var out: [Header] = []
        var length: Int64 = -1
        var lengthError: String? = nil
        let n = wsgi_list_size(obj)
        out.reserveCapacity(n)
        for i in 0..<n {
            let item = wsgi_list_get(obj, i)!
            guard wsgi_tuple_check(item) != 0 else {
                Py.raise(
                    wsgi_exc_type_error(), "each header must be a 2-tuple, not \(String(cString: wsgi_type_name(item)))"
                )
                return nil
            }
            guard wsgi_tuple_size(item) == 2 else {
                Py.raise(wsgi_exc_value_error(), "each header must be a 2-tuple, got length \(wsgi_tuple_size(item))")
                return nil
            }
            guard let nameBytes = latin1(wsgi_tuple_get(item, 0)!) else { return nil }
            defer { wsgi_decref(nameBytes) }
            guard checkName(nameBytes) else { return nil }
            guard let valueBytes = latin1(wsgi_tuple_get(item, 1)!) else { return nil }
            defer { wsgi_decref(valueBytes) }
            guard checkValue(valueBytes) else { return nil }
            let h = Header(name: cString(nameBytes), value: cString(valueBytes))
            if Header.same(h.name, "content-length") {
                if let l = contentLengthValue(bytes(valueBytes)) {
                    length = l
                } else if lengthError == nil {
                    lengthError = "invalid Content-Length header value: '\(Py.latin1String(valueBytes))'"
                }
            }
            out.append(h)
        }
        return (out, length, lengthError)
    }

    private static func checkName(_ b: PyObj) -> Bool {
        let u = bytes(b)
        guard !u.isEmpty else { Py.raise(wsgi_exc_value_error(), "header name is empty"); return false }
        for c in u {
            let what: String
            if isControl(c) {
                what = "control character in header name"
            } else if c == 32 {
                what = "space character in header name"
            } else if c == 58 {
                what = "colon character in header name"  // ours: "X: Y" would be a header X
            } else {
                continue
            }
            Py.raise(wsgi_exc_value_error(), what + ": " + Py.repr(b))
            return false
        }
        return true
    }

    private static func checkValue(_ b: PyObj) -> Bool {
        for c in bytes(b) where c == 10 || c == 13 || c == 0 {
            Py.raise(
                wsgi_exc_value_error(),
                (c == 0
                    ? "null character in header value: "  // ours: mod_wsgi's C string would end there
                    : "carriage return/line feed character in header value: ") + Py.repr(b))
            return false
        }
        return true
    }

    /// Bytes and a NUL.
    private static func cString(_ b: PyObj) -> [CChar] {
        let u = bytes(b)
        var out = [CChar](repeating: 0, count: u.count + 1)
        out.withUnsafeMutableBytes { $0.copyMemory(from: u) }
        return out
    }

    /// A Content-Length as mod_wsgi reads it (strtol: leading white space and a sign, then
    /// digits and nothing else), not negative.
    static func contentLengthValue(_ u: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        while i < u.count && (u[i] == 32 || (u[i] >= 9 && u[i] <= 13)) { i += 1 }
        if i < u.count && u[i] == 43 { i += 1 }
        guard i < u.count else { return nil }
        var v: Int64 = 0
        while i < u.count {
            guard isDigit(u[i]) else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(u[i] - 48))
            if o1 || o2 { return nil }
            v = a
            i += 1
        }
        return v
    }

    // MARK: output

    /// Sends the headers if not yet sent. False: failed (exception set).
    private func sendHeadersIfNeeded() -> Bool {
        if headersSent { return true }
        guard started else {
            Py.raise(
                wsgi_exc_runtime_error(), "start_response() must be called before response content is produced")
            return false
        }
        if let contentLengthError {
            Py.raise(wsgi_exc_value_error(), contentLengthError)
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
    /// Python exception set when the app must stop (bad data, client gone). `flush`: the
    /// application's write() (else an item of the response iterable).
    func write(_ data: PyObj, flush: Bool = false) -> Bool {
        if finished { Py.raise(wsgi_exc_runtime_error(), "write() called after request completed"); return false }
        ForkGuard.check(owner, channel, scriptPath)
        guard wsgi_bytes_check(data) != 0 else {
            let type = String(cString: wsgi_type_name(data))
            Py.raise(
                wsgi_exc_type_error(),
                flush
                    ? "write() argument must be bytes, not \(type)" : "response iterable must yield bytes, not \(type)")
            return false
        }
        var n = Int64(wsgi_bytes_size(data))
        if n == 0 && !flush { return true }
        guard claimChannel("write()") else { return false }
        defer { channelBusy = false }
        guard sendHeadersIfNeeded() else { return false }
        if clientGone { Py.raise(wsgi_exc_io_error(), "mod_wsgi client connection closed"); return false }
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
            Py.raise(wsgi_exc_io_error(), "mod_wsgi \(channel.lastError)")
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
        guard let result else { return failed(.call) }
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
        if !ok { code = failed(.iteration) }
        // PEP 3333: close() is always called, whatever happened.
        if let close = PyObject_GetAttrString(result, "close") {
            let r = PyObject_CallNoArgs(close)
            ForkGuard.check(owner, channel, scriptPath)
            if let r {
                wsgi_decref(r)
            } else {
                _ = failed(.close)
            }
            wsgi_decref(close)
        } else if PyErr_ExceptionMatches(wsgi_exc_attribute_error()) != 0 {
            PyErr_Clear()
        } else {
            channel.log(
                APLOG_ERR, .closeLookupFailed,
                "Lookup of 'close' attribute on WSGI response iterable raised an exception.")
            _ = failed(.close)
        }
        if ok && !clientGone && contentLength >= 0 && bytesSent < contentLength && !channel.isHEAD {
            channel.log(
                APLOG_ERR, .truncatedResponse,
                "Response body of \(bytesSent) bytes is shorter than its Content-Length of \(contentLength); the client will see a truncated response."
            )
        }
        return code
    }

    /// Where the pending exception came from: calling the application, its response
    /// iterable (or start_response and write), or the iterable's close().
    enum Phase { case call, iteration, close }

    /// Logs the pending exception; 500 if nothing was sent, else OK (the connection is cut).
    private func failed(_ phase: Phase) -> Int32 {
        if let life, RequestInterrupt.enabled, RequestInterrupt.isPending(life.api) {
            // interrupt-timeout: the supervisor stopped this request. As mod_wsgi 6.x: one
            // info line, no traceback; an empty 504 unless the response had begun.
            PyErr_Clear()
            if phase == .close { return OK }
            if phase == .iteration && headersSent {
                channel.log(
                    APLOG_INFO, .requestInterruptedAfterHeaders,
                    "Request interrupted by RequestTimeout after headers sent; response truncated.")
                channel.abort()
                return OK
            }
            channel.log(APLOG_INFO, .requestInterrupted, "Request interrupted by RequestTimeout; thread recovered.")
            if headersSent { channel.abort(); return OK }
            return timedOut()
        }
        if phase != .close {
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
        }
        life?.exception()
        logException()
        if phase == .close { return OK }
        if headersSent {
            // Part of the response is out: cut the connection so the client sees it
            // incomplete, never a cleanly terminated (and wrong) response.
            channel.abort()
            return OK
        }
        return HTTP_INTERNAL_SERVER_ERROR
    }

    /// Logs the pending exception (and clears it) as mod_wsgi 6.x does: a header naming the
    /// class, the script and the interpreter, then the traceback. (mod_wsgi 6.1.1 prints only
    /// the traceback's last line: it formats the exception without its traceback.)
    func logException() {
        let header = InterpreterContext.exceptionHeader(script: channel.filename, applicationGroup: applicationGroup)
        let lines = Py.takeExceptionLines()
        waitUntilIdle()
        // One message: the traceback's lines carry the header's ID.
        channel.log(APLOG_ERR, .exceptionInApp, ([header] + lines).joined(separator: "\n"))
    }

    /// mod_wsgi 6.x's answer to a request interrupted by RequestTimeout before its response
    /// began: 504 with no body.
    private func timedOut() -> Int32 {
        headers = []
        contentLength = 0
        contentLengthError = nil
        status = HTTP_GATEWAY_TIME_OUT
        statusLine = "504 Gateway Timeout"
        started = true
        headersSent = true
        _ = channel.sendHeaders(status: status, statusLine: statusLine, headers: [])
        return OK
    }

    /// The interpreter the request runs in (its application group), for the log.
    var applicationGroup = ""
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
