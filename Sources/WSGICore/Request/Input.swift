import CWSGICore

/// wsgi.input: read(n), read(), readline(n), readlines(hint), iteration. Never reads
/// past the request body (the channel ends it), and releases the GIL while waiting.
final class InputStream {
    weak var request: WSGIRequest?
    private var buffer: [UInt8] = []
    private var start = 0
    private var eof = false
    private static let chunk = 8192
    /// read(n) of a body of unknown length allocates n at once up to this size.
    private static let growingAbove = 1 << 20

    init(_ request: WSGIRequest) { self.request = request }

    private var buffered: Int { buffer.count - start }

    /// Bytes of the body the channel has not given yet, when the request said
    /// (CONTENT_LENGTH; Apache's HTTP input filter never gives more): lets read() make
    /// its result in one piece.
    var expectedLength: Int?

    private var leftInChannel: Int? {
        guard let expectedLength, let request else { return nil }
        return max(0, expectedLength - request.bytesRead)
    }

    /// Reads from the channel without the GIL: what the channel has (`all` false, for
    /// readline), or until `n` bytes or the end of the body (`all`: read(n) and read()
    /// release the GIL once per call, not once per network read). -1 on error
    /// (exception set), 0 at end.
    private func fill(_ p: UnsafeMutableRawPointer, _ n: Int, all: Bool = false) -> Int {
        guard let request, !request.finished else {
            Py.raise(wsgi_exc_io_error(), "wsgi.input used after the request completed")
            return -1
        }
        if eof { return 0 }
        let channel = request.channel
        let t0 = wsgi_now()
        let save = PyEval_SaveThread()
        var got = 0, failed = false
        repeat {
            let k = channel.read(p + got, n - got)
            if k < 0 { failed = true; break }
            if k == 0 { eof = true; break }
            got += k
        } while all && got < n
        let t1 = wsgi_now()
        PyEval_RestoreThread(save)
        if let life = request.life {
            life.inputReads += 1
            life.inputTime += Int64(t1 - t0)
            life.waitedForGIL(Int64(wsgi_now() - t1))
        }
        request.bytesRead += got
        if failed {
            Py.raise(wsgi_exc_io_error(), channel.lastError)
            return -1
        }
        return got
    }

    private func moreIntoBuffer() -> Int {
        if start > 0 && (start == buffer.count || start >= Self.chunk) {
            buffer.removeFirst(start); start = 0
        }
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: Self.chunk))
        let got = buffer.withUnsafeMutableBytes { fill($0.baseAddress! + old, Self.chunk) }
        buffer.removeLast(Self.chunk - max(got, 0))
        return got
    }

    private func takeBuffered(_ n: Int) -> PyObj {
        let o = buffer.withUnsafeBytes {
            PyBytes_FromStringAndSize($0.baseAddress!.assumingMemoryBound(to: CChar.self) + start, n)!
        }
        start += n
        return o
    }

    func read(_ size: Int) -> PyObj? {
        if let left = leftInChannel, size < 0 || size > buffered + left + 1 {
            // The rest of a body of known length: one bytes object, read into directly, in
            // one GIL release. One byte more than announced: asking for it finds the end
            // of the body in the same call, or that an input filter (INFLATE) made the body
            // longer than its Content-Length; then read on as for a chunked body.
            let want = buffered + left + 1
            guard var head = read(want) else { return nil }
            if eof || wsgi_bytes_size(head) < want { return head }
            expectedLength = nil
            guard let rest = read(size < 0 ? -1 : size - want) else { wsgi_decref(head); return nil }
            var h: PyObj? = head
            PyBytes_Concat(&h, rest)
            wsgi_decref(rest)
            guard let joined = h else { return nil }
            head = joined
            return head
        }
        if size < 0 || (size > buffered + Self.growingAbove && leftInChannel == nil) {
            // Everything that is left (or a large part of it), length unknown (a chunked
            // body): grown as it comes, not allocated at the size asked for.
            let limit = size < 0 ? Int.max : size
            var out = [UInt8](); out.reserveCapacity(max(buffered, Self.chunk))
            out.append(contentsOf: buffer[start...]); start = buffer.count
            while out.count < limit {
                let old = out.count, want = min(65536, limit - old)
                out.append(contentsOf: repeatElement(0, count: want))
                let got = out.withUnsafeMutableBytes { fill($0.baseAddress! + old, want, all: true) }
                out.removeLast(want - max(got, 0))
                if got < 0 { return nil }
                if got == 0 { break }
            }
            return out.withUnsafeBytes {
                PyBytes_FromStringAndSize($0.baseAddress?.assumingMemoryBound(to: CChar.self), out.count)
            }
        }
        if size <= buffered { return takeBuffered(size) }
        // Read straight into the result object.
        guard var result = PyBytes_FromStringAndSize(nil, size) else { return nil }
        let base = UnsafeMutableRawPointer(wsgi_bytes_data(result)!)
        var have = buffered
        if have > 0 {
            buffer.withUnsafeBytes { base.copyMemory(from: $0.baseAddress! + start, byteCount: have) };
            start = buffer.count
        }
        while have < size {
            let got = fill(base + have, size - have, all: true)
            if got < 0 { wsgi_decref(result); return nil }
            if got == 0 { break }
            have += got
        }
        if have < size {
            var r: PyObj? = result
            if _PyBytes_Resize(&r, have) != 0 { return nil }
            result = r!
        }
        return result
    }

    func readline(_ size: Int) -> PyObj? {
        var scanned = 0  // bytes after `start` known to hold no newline
        while true {
            let limit = size >= 0 && size < buffered ? start + size : buffer.count  // no overflow for sys.maxsize
            if let nl = buffer[(start + scanned)..<limit].firstIndex(of: 10) {
                return takeBuffered(nl - start + 1)
            }
            if size >= 0 && buffered >= size { return takeBuffered(size) }
            scanned = limit - start
            let got = moreIntoBuffer()
            if got < 0 { return nil }
            if got == 0 { return takeBuffered(size >= 0 ? min(size, buffered) : buffered) }
        }
    }

    func readlines(_ hint: Int) -> PyObj? {
        guard let list = PyList_New(0) else { return nil }
        var total = 0
        while true {
            guard let line = readline(-1) else { wsgi_decref(list); return nil }
            let n = wsgi_bytes_size(line)
            if n == 0 { wsgi_decref(line); break }
            PyList_Append(list, line); wsgi_decref(line)
            total += n
            if hint > 0 && total >= hint { break }
        }
        return list
    }

    // MARK: Python type

    static let type = NativeType(
        name: "mod_wsgi.Input",
        methods: [
            .init(
                name: "read", flags: METH_VARARGS,
                function: { o, args in
                    var size = -1
                    guard parseOptionalSize(args, &size) else { return nil }
                    return NativeType.object(o, as: InputStream.self).read(size)
                }),
            .init(
                name: "readline", flags: METH_VARARGS,
                function: { o, args in
                    var size = -1
                    guard parseOptionalSize(args, &size) else { return nil }
                    return NativeType.object(o, as: InputStream.self).readline(size)
                }),
            .init(
                name: "readlines", flags: METH_VARARGS,
                function: { o, args in
                    var hint = -1
                    guard parseOptionalSize(args, &hint) else { return nil }
                    return NativeType.object(o, as: InputStream.self).readlines(hint)
                }),
            .init(name: "close", flags: METH_NOARGS, function: { _, _ in Py.none }),
        ],
        iter: { o in wsgi_new_ref(o!) },
        next: { o in
            guard let line = NativeType.object(o, as: InputStream.self).readline(-1) else { return nil }
            if wsgi_bytes_size(line) == 0 { wsgi_decref(line); return nil }  // StopIteration
            return line
        })
}

/// Parses an optional size argument (int or None), as file objects accept.
func parseOptionalSize(_ args: PyObj?, _ size: inout Int) -> Bool {
    guard let args else { return true }
    let n = wsgi_tuple_size(args)
    if n == 0 { return true }
    if n > 1 { Py.raise(wsgi_exc_type_error(), "expected at most 1 argument"); return false }
    let a = wsgi_tuple_get(args, 0)!
    if a == wsgi_py_none() { return true }
    guard wsgi_long_check(a) != 0 else {
        Py.raise(wsgi_exc_type_error(), "integer argument expected, got '\(String(cString: wsgi_type_name(a)))'")
        return false
    }
    let v = PyLong_AsLong(a)
    if v == -1 && PyErr_Occurred() != nil { return false }
    size = v
    return true
}
