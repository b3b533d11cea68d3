import CWSGICore
import SystemCalls

/// The framing between an Apache child and a daemon process over the UNIX socket.
///
/// Every frame is a type byte, a 4-byte little-endian payload length, and the payload.
///
///   child → daemon   'Q' request: meta pairs (script, groups, flags) then the CGI environ pairs
///                    'D' a block of the request body (only in answer to 'R')
///                    'E' end of the request body (in answer to 'R')
///   daemon → child   'R' read: the application wants up to N more body bytes
///                    'H' status, status line and headers (each header its own pair: never merged)
///                    'D' / 'F' response body bytes (F: flush them to the client now)
///                    'A' abort: end the client's connection without terminating the response
///                    'Z' done: the handler status (OK, or 500/503/404 when nothing was sent)
///
/// The body is pulled by the daemon ('R') rather than pushed: neither side ever buffers a
/// whole body, and a daemon that answers without reading the body cannot deadlock with a
/// child still pushing it.
package enum Frame: UInt8 {
    case request = 0x51  // Q
    case data = 0x44  // D
    case flush = 0x46  // F
    case bodyEnd = 0x45  // E
    case read = 0x52  // R
    case headers = 0x48  // H
    case done = 0x5A  // Z
    case abort = 0x41  // A: cut the client connection (the response cannot be completed)
    case rejected = 0x58  // X: not run; the process restarts: send the request again
}

package enum WireError: Error, CustomStringConvertible {
    case closed
    /// The peer's socket went away with our data unread (ECONNRESET): for the Apache child
    /// before any frame, the daemon never took the request (see DaemonClient).
    case reset
    case timeout
    case system(SystemError)
    case malformed(String)

    package var description: String {
        switch self {
        case .closed: return "connection closed by peer"
        case .reset: return "connection reset by peer"
        case .timeout: return "timed out"
        case .system(let e): return e.description
        case .malformed(let m): return "malformed frame: \(m)"
        }
    }
}

/// Builds a payload.
package struct Encoder {
    package var bytes: [UInt8] = []
    package init() {}
    package mutating func u32(_ v: UInt32) {
        bytes.append(UInt8(v & 0xff)); bytes.append(UInt8((v >> 8) & 0xff))
        bytes.append(UInt8((v >> 16) & 0xff)); bytes.append(UInt8(v >> 24))
    }
    package mutating func i64(_ v: Int64) {
        let u = UInt64(bitPattern: v)
        for i in 0..<8 { bytes.append(UInt8((u >> (8 * UInt64(i))) & 0xff)) }
    }
    package mutating func string(_ s: String) { let u = Array(s.utf8); u32(UInt32(u.count)); bytes += u }
    package mutating func cstring(_ p: UnsafePointer<CChar>) {
        let n = strlen(p)
        u32(UInt32(n))
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: p, count: n))
    }
    /// A NUL-terminated byte array ([CChar] as in `Header`), without the NUL.
    mutating func chars(_ c: [CChar]) {
        let n = c.last == 0 ? c.count - 1 : c.count
        u32(UInt32(n))
        c.withUnsafeBytes { bytes.append(contentsOf: $0.prefix(n)) }
    }
}

/// Reads a payload.
package struct Decoder {
    let bytes: [UInt8]
    package private(set) var pos = 0
    init(_ b: [UInt8]) { bytes = b }

    package mutating func u32() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw WireError.malformed("short integer") }
        let v =
            UInt32(bytes[pos]) | UInt32(bytes[pos + 1]) << 8 | UInt32(bytes[pos + 2]) << 16 | UInt32(bytes[pos + 3])
            << 24
        pos += 4
        return v
    }
    package mutating func i64() throws -> Int64 {
        guard pos + 8 <= bytes.count else { throw WireError.malformed("short integer") }
        var u: UInt64 = 0
        for i in 0..<8 { u |= UInt64(bytes[pos + i]) << (8 * UInt64(i)) }
        pos += 8
        return Int64(bitPattern: u)
    }
    /// Raw bytes of a length-prefixed string, NUL-terminated (for C and for latin-1 decoding).
    mutating func chars() throws -> [CChar] {
        let n = Int(try u32())
        guard pos + n <= bytes.count else { throw WireError.malformed("short string") }
        var out = [CChar](repeating: 0, count: n + 1)
        out.withUnsafeMutableBytes { $0.copyBytes(from: bytes[pos..<(pos + n)]) }
        pos += n
        return out
    }
    /// Where a length-prefixed string lies in the payload (no copy).
    mutating func range() throws -> Range<Int> {
        let n = Int(try u32())
        guard pos + n <= bytes.count else { throw WireError.malformed("short string") }
        defer { pos += n }
        return pos..<(pos + n)
    }
    package mutating func string() throws -> String {
        let c = try chars()
        return c.withUnsafeBufferPointer {
            String(decoding: UnsafeRawBufferPointer($0).prefix(c.count - 1), as: UTF8.self)
        }
    }
}

/// One end of a daemon connection: framed, with a timeout on every wait. Blocking
/// calls here are made WITHOUT the GIL (a write that comes with it waits only after
/// releasing it: see `writeAll`).
///
/// The socket is blocking, with the timeouts set on it (SO_RCVTIMEO / SO_SNDTIMEO) once per
/// connection. A read first takes what is there without waiting; a wait for input is a poll()
/// then the recv (see `receive`: a thread asleep in recv() is also woken by the peer's reads);
/// a write is one sendmsg. Connections live for many requests (DaemonConnectionPool in the
/// Apache child, DaemonPoller in the daemon), so the set-up is paid once.
package final class WireConnection {
    let fd: Int32
    /// Microseconds to wait for the peer on each read (<= 0: forever).
    private(set) var timeout: Int64 = -1
    /// Microseconds to wait for the peer to take written data (response-socket-timeout).
    private(set) var writeTimeout: Int64 = -1
    private var inbuf = [UInt8](repeating: 0, count: 16384)
    private var inStart = 0
    private var inEnd = 0
    /// Frames held back to go out with the next write (see `hold`): the response head with the
    /// first body block, the last body block with 'Z'.
    private var pending: [UInt8] = []
    /// Daemon side: the poller's token while the connection waits there for its next request.
    var token: UInt64 = 0
    var registered = false

    package init(fd: Int32, timeout: Int64, writeTimeout: Int64? = nil) {
        self.fd = fd
        setTimeouts(read: timeout, write: writeTimeout ?? timeout)
    }

    package func close() { _ = CWSGICore.close(fd) }

    /// Sets the socket's timeouts where they changed (a pooled connection serves requests of
    /// virtual hosts with different Timeouts).
    package func setTimeouts(read: Int64, write: Int64) {
        func apply(_ option: Int32, _ micros: Int64) {
            var tv = timeval(tv_sec: Int(max(micros, 0) / 1_000_000), tv_usec: Int(max(micros, 0) % 1_000_000))
            _ = setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        if read != timeout { apply(SO_RCVTIMEO, read); timeout = read }
        if write != writeTimeout { apply(SO_SNDTIMEO, write); writeTimeout = write }
    }

    // MARK: writing

    /// Writes every byte of the buffers, in one sendmsg when the socket takes them.
    ///
    /// `gilHeld`: the caller holds the GIL (a daemon thread writing a response that is still
    /// small). The first sendmsg then does not wait (MSG_DONTWAIT): a socket with room takes
    /// the bytes with no GIL hand-over. If the Apache child is slow to read and the socket
    /// is full, the GIL is released for the rest of the write, as for any other wait.
    private func writeAll(_ parts: [UnsafeRawBufferPointer], gilHeld: Bool = false) throws {
        var iov = parts.filter { $0.count > 0 }.map {
            iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)
        }
        var first = 0
        var flags = Int32(MSG_NOSIGNAL) | (gilHeld ? Int32(MSG_DONTWAIT) : 0)
        var released: UnsafeMutablePointer<PyThreadState>?
        defer { if let released { PyEval_RestoreThread(released) } }
        while first < iov.count {
            var result: Result<Int, SystemError> = .success(0)
            iov.withUnsafeMutableBufferPointer { v in
                var msg = msghdr()
                msg.msg_iov = v.baseAddress! + first
                msg.msg_iovlen = v.count - first
                result = Result { () throws(SystemError) -> Int in
                    try syscall("sendmsg") { sendmsg(fd, &msg, flags) }
                }
            }
            let sent: Int
            switch result {
            case .failure(let e) where e.wouldBlock && flags & Int32(MSG_DONTWAIT) != 0:
                // Full: wait for the Apache child without the GIL (and with SO_SNDTIMEO).
                flags = Int32(MSG_NOSIGNAL)
                released = PyEval_SaveThread()
                continue
            case .success(let n): sent = n
            case .failure(let e) where e.errno == EPIPE || e.errno == ECONNRESET: throw WireError.closed
            case .failure(let e) where e.wouldBlock: throw WireError.timeout
            case .failure(let e): throw WireError.system(e)
            }
            var left = sent
            while first < iov.count && left >= iov[first].iov_len { left -= iov[first].iov_len; first += 1 }
            if left > 0 {
                iov[first].iov_base += left
                iov[first].iov_len -= left
            }
        }
    }

    private static func head(_ type: Frame, _ n: Int) -> (UInt8, UInt8, UInt8, UInt8, UInt8) {
        let v = UInt32(n)
        return (type.rawValue, UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24))
    }

    /// Sends a frame, with the held frames before it, in one write.
    package func send(_ type: Frame, _ payload: UnsafeRawBufferPointer, gilHeld: Bool = false) throws {
        var head = Self.head(type, payload.count)
        try withUnsafeBytes(of: &head) { h in
            try pending.withUnsafeBytes { held in try writeAll([held, h, payload], gilHeld: gilHeld) }
        }
        dropPending()
    }

    package func send(_ type: Frame, _ bytes: [UInt8] = []) throws {
        try bytes.withUnsafeBytes { try send(type, $0) }
    }

    /// Keeps a frame to go out with the next one sent (nothing is written now).
    func hold(_ type: Frame, _ payload: UnsafeRawBufferPointer) {
        var head = Self.head(type, payload.count)
        withUnsafeBytes(of: &head) { pending.append(contentsOf: $0) }
        pending.append(contentsOf: payload)
    }

    private func dropPending() {
        if pending.isEmpty { return }
        // A large held body block is not kept allocated for the connection's idle time.
        pending.removeAll(keepingCapacity: pending.capacity <= 16384)
    }

    /// Body bytes, split into frames of at most 1 MiB.
    func sendData(_ p: UnsafeRawPointer, _ n: Int, flush: Bool, gilHeld: Bool = false) throws {
        var off = 0
        let limit = 1 << 20
        repeat {
            let len = min(limit, n - off)
            let last = off + len >= n
            try send(
                flush && last ? .flush : .data, UnsafeRawBufferPointer(start: p + off, count: len), gilHeld: gilHeld)
            off += len
        } while off < n
    }

    // MARK: reading

    /// One recv into `p`: the count read (> 0). With nothing to read yet (and no MSG_DONTWAIT)
    /// the thread sleeps in poll() for input, not in recv(): a thread asleep in recv() on a
    /// UNIX socket is also woken whenever the peer reads what this end wrote (the kernel's
    /// write-space wake-up reaches every sleeper on the socket, whatever it waits for), so an
    /// Apache child waiting for a response woke once more per request, when the daemon read
    /// the request. poll() is woken only by input; the timeout is the connection's.
    private func receive(_ p: UnsafeMutableRawPointer, _ n: Int, _ flags: Int32 = 0) throws -> Int {
        /// nil: nothing to read yet.
        func once(_ flags: Int32) throws -> Int? {
            switch Result(catching: { () throws(SystemError) -> Int in try syscall("recv") { recv(fd, p, n, flags) } })
            {
            case .success(let got):
                if got == 0 { throw WireError.closed }
                return got
            case .failure(let e) where e.errno == ECONNRESET: throw WireError.reset
            case .failure(let e) where e.wouldBlock: return nil
            case .failure(let e): throw WireError.system(e)
            }
        }
        if let got = try once(flags | Int32(MSG_DONTWAIT)) { return got }
        if flags & Int32(MSG_DONTWAIT) != 0 { throw WireError.timeout }
        let ready: Bool
        do { ready = try waitFD(fd, Int16(POLLIN), timeoutMicros: timeout) } catch { throw WireError.system(error) }
        guard ready else { throw WireError.timeout }
        // Readable: data, the end (0) or an error. Should another wait be needed after all,
        // the blocking recv has the same timeout (SO_RCVTIMEO).
        guard let got = try once(flags) else { throw WireError.timeout }
        return got
    }

    /// Waits for at least one byte in the buffer.
    private func fill() throws {
        if inStart < inEnd { return }
        inStart = 0; inEnd = 0
        inEnd = try inbuf.withUnsafeMutableBytes { try receive($0.baseAddress!, $0.count) }
    }

    /// Bytes of the peer already read and not yet taken.
    package var hasBufferedInput: Bool { inStart < inEnd }
    package var bufferedCount: Int { inEnd - inStart }

    /// Whether more bytes from the peer are ready now (buffered, or readable at once; what is
    /// readable is read into the buffer).
    package func hasPendingInput() -> Bool {
        if inStart < inEnd { return true }
        inStart = 0; inEnd = 0
        let got = inbuf.withUnsafeMutableBytes { b in (try? receive(b.baseAddress!, b.count, Int32(MSG_DONTWAIT))) ?? 0
        }
        inEnd = got
        return got > 0
    }

    /// Nothing is buffered: waits up to `micros` for the daemon to send more (response-flush-delay).
    package func waitForInput(micros: Int64) -> Bool {
        if hasPendingInput() { return true }
        guard micros > 0 else { return false }
        return (try? waitFD(fd, Int16(POLLIN), timeoutMicros: micros)) ?? true
    }

    package func readExactly(_ p: UnsafeMutableRawPointer, _ n: Int) throws {
        var got = 0
        while got < n {
            if inStart == inEnd && n - got >= inbuf.count {
                // A large block: straight into the caller's memory, no copy through the buffer.
                got += try receive(p + got, n - got)
                continue
            }
            try fill()
            let take = min(n - got, inEnd - inStart)
            inbuf.withUnsafeBytes { (p + got).copyMemory(from: $0.baseAddress! + inStart, byteCount: take) }
            inStart += take
            got += take
        }
    }

    /// Hands `body` up to `max` bytes already read into the buffer (valid only during the call)
    /// and consumes them; 0 when nothing is buffered.
    package func takeBuffered(max: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        let n = min(max, inEnd - inStart)
        guard n > 0 else { return 0 }
        inbuf.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[inStart..<(inStart + n)])) }
        inStart += n
        return n
    }

    /// The next frame's type and payload length.
    package func readHeader() throws -> (Frame, Int) {
        var head: (UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0)
        try withUnsafeMutableBytes(of: &head) { try readExactly($0.baseAddress!, 5) }
        guard let t = Frame(rawValue: head.0) else { throw WireError.malformed("unknown frame type \(head.0)") }
        let n = Int(UInt32(head.1) | UInt32(head.2) << 8 | UInt32(head.3) << 16 | UInt32(head.4) << 24)
        return (t, n)
    }

    /// The next frame's header, or nil when the peer ended the connection between requests
    /// (an Apache child closing a connection of its pool: no request was started).
    func readHeaderUnlessEnded() throws -> (Frame, Int)? {
        if inStart == inEnd {
            do { try fill() } catch WireError.closed { return nil } catch WireError.reset { return nil }
        }
        return try readHeader()
    }

    package func readPayload(_ n: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        if n > 0 { try out.withUnsafeMutableBytes { try readExactly($0.baseAddress!, n) } }
        return out
    }
}
