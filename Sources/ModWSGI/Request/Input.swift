import CModWSGI

/// wsgi.input: read(n), read(), readline(n), readlines(hint), iteration. Never reads
/// past the request body (the channel ends it), and releases the GIL while waiting.
final class InputStream {
    weak var request: WSGIRequest?
    private var buffer: [UInt8] = []
    private var start = 0
    private var eof = false
    private static let chunk = 8192

    init(_ request: WSGIRequest) { self.request = request }

    private var buffered: Int { buffer.count - start }

    /// Reads from the channel without the GIL. -1 on error (exception set), 0 at end.
    private func fill(_ p: UnsafeMutableRawPointer, _ n: Int) -> Int {
        guard let request, !request.finished else {
            Py.raise(wsgi_exc_io_error(), "wsgi.input used after the request completed")
            return -1
        }
        if eof { return 0 }
        let channel = request.channel
        let t0 = wsgi_now()
        let save = PyEval_SaveThread()
        let got = channel.read(p, n)
        let t1 = wsgi_now()
        PyEval_RestoreThread(save)
        if let life = request.life {
            life.inputReads += 1
            life.inputTime += Int64(t1 - t0)
            life.gilWaitTime += Int64(wsgi_now() - t1)
            life.gilWaitCount += 1
        }
        if got < 0 {
            Py.raise(wsgi_exc_io_error(), channel.lastError)
            return -1
        }
        if got == 0 { eof = true }
        request.bytesRead += got
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
        if size < 0 {
            // Everything that is left.
            var out = [UInt8](); out.reserveCapacity(max(buffered, Self.chunk))
            out.append(contentsOf: buffer[start...]); start = buffer.count
            while true {
                let old = out.count
                out.append(contentsOf: repeatElement(0, count: 65536))
                let got = out.withUnsafeMutableBytes { fill($0.baseAddress! + old, 65536) }
                out.removeLast(65536 - max(got, 0))
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
        if have > 0 { buffer.withUnsafeBytes { base.copyMemory(from: $0.baseAddress! + start, byteCount: have) }; start = buffer.count }
        while have < size {
            let got = fill(base + have, size - have)
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
            .init(name: "read", flags: METH_VARARGS, function: { o, args in
                var size = -1
                guard parseOptionalSize(args, &size) else { return nil }
                return NativeType.object(o, as: InputStream.self).read(size)
            }),
            .init(name: "readline", flags: METH_VARARGS, function: { o, args in
                var size = -1
                guard parseOptionalSize(args, &size) else { return nil }
                return NativeType.object(o, as: InputStream.self).readline(size)
            }),
            .init(name: "readlines", flags: METH_VARARGS, function: { o, args in
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
