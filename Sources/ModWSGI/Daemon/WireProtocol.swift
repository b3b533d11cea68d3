import CModWSGI
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
enum Frame: UInt8 {
    case request = 0x51   // Q
    case data = 0x44      // D
    case flush = 0x46     // F
    case bodyEnd = 0x45   // E
    case read = 0x52      // R
    case headers = 0x48   // H
    case done = 0x5A      // Z
    case abort = 0x41     // A: cut the client connection (the response cannot be completed)
}

enum WireError: Error, CustomStringConvertible {
    case closed
    /// The peer's socket went away with our data unread (ECONNRESET): for the Apache child
    /// before any frame, the daemon never took the request (see DaemonClient).
    case reset
    case timeout
    case system(SystemError)
    case malformed(String)

    var description: String {
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
struct Encoder {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) {
        bytes.append(UInt8(v & 0xff)); bytes.append(UInt8((v >> 8) & 0xff))
        bytes.append(UInt8((v >> 16) & 0xff)); bytes.append(UInt8(v >> 24))
    }
    mutating func i64(_ v: Int64) {
        let u = UInt64(bitPattern: v)
        for i in 0..<8 { bytes.append(UInt8((u >> (8 * UInt64(i))) & 0xff)) }
    }
    mutating func string(_ s: String) { let u = Array(s.utf8); u32(UInt32(u.count)); bytes += u }
    mutating func cstring(_ p: UnsafePointer<CChar>) {
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
struct Decoder {
    let bytes: [UInt8]
    var pos = 0
    init(_ b: [UInt8]) { bytes = b }

    mutating func u32() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw WireError.malformed("short integer") }
        let v = UInt32(bytes[pos]) | UInt32(bytes[pos + 1]) << 8 | UInt32(bytes[pos + 2]) << 16 | UInt32(bytes[pos + 3]) << 24
        pos += 4
        return v
    }
    mutating func i64() throws -> Int64 {
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
    mutating func string() throws -> String {
        let c = try chars()
        return c.withUnsafeBufferPointer { String(decoding: UnsafeRawBufferPointer($0).prefix(c.count - 1), as: UTF8.self) }
    }
}

/// One end of a daemon connection: framed, with a timeout on every wait. Blocking
/// calls here are made WITHOUT the GIL.
final class WireConnection {
    let fd: Int32
    /// Microseconds to wait for the peer on each read or write (<= 0: forever).
    var timeout: Int64
    /// Microseconds to wait for the peer to take written data (response-socket-timeout).
    lazy var writeTimeout: Int64 = timeout
    private var inbuf = [UInt8](repeating: 0, count: 16384)
    private var inStart = 0
    private var inEnd = 0

    init(fd: Int32, timeout: Int64) {
        self.fd = fd
        self.timeout = timeout
        _ = wsgi_set_nonblock(fd, 1)
    }

    func close() { _ = CModWSGI.close(fd) }

    // MARK: writing

    private func writeAll(_ p: UnsafeRawPointer, _ n: Int) throws {
        var off = 0
        while off < n {
            let sent: Int?
            do {
                sent = try syscallUnlessWouldBlock("send") { CModWSGI.send(fd, p + off, n - off, Int32(MSG_NOSIGNAL)) }
            } catch let e where e.errno == EPIPE || e.errno == ECONNRESET {
                throw WireError.closed
            } catch let e {
                throw WireError.system(e)
            }
            if let sent {
                off += sent
            } else {
                try wait(Int16(POLLOUT), timeoutMicros: writeTimeout)
            }
        }
    }

    /// Waits for the socket to be ready (it is non-blocking); a timeout is WireError.timeout.
    private func wait(_ events: Int16, timeoutMicros: Int64) throws {
        do {
            if !(try waitFD(fd, events, timeoutMicros: timeoutMicros)) { throw WireError.timeout }
        } catch let e as SystemError {
            throw WireError.system(e)
        }
    }

    func send(_ type: Frame, _ payload: UnsafeRawBufferPointer) throws {
        var head: (UInt8, UInt8, UInt8, UInt8, UInt8) = (type.rawValue, 0, 0, 0, 0)
        let n = UInt32(payload.count)
        head.1 = UInt8(n & 0xff); head.2 = UInt8((n >> 8) & 0xff); head.3 = UInt8((n >> 16) & 0xff); head.4 = UInt8(n >> 24)
        if payload.count <= 4096 {
            // One write for small frames.
            var small = [UInt8](repeating: 0, count: 5 + payload.count)
            small[0] = head.0; small[1] = head.1; small[2] = head.2; small[3] = head.3; small[4] = head.4
            if payload.count > 0 { small.withUnsafeMutableBytes { ($0.baseAddress! + 5).copyMemory(from: payload.baseAddress!, byteCount: payload.count) } }
            try small.withUnsafeBytes { try writeAll($0.baseAddress!, $0.count) }
            return
        }
        try withUnsafeBytes(of: &head) { try writeAll($0.baseAddress!, 5) }
        try writeAll(payload.baseAddress!, payload.count)
    }

    func send(_ type: Frame, _ bytes: [UInt8] = []) throws {
        try bytes.withUnsafeBytes { try send(type, $0) }
    }

    /// Body bytes, split into frames of at most 1 MiB.
    func sendData(_ p: UnsafeRawPointer, _ n: Int, flush: Bool) throws {
        var off = 0
        let limit = 1 << 20
        repeat {
            let len = min(limit, n - off)
            let last = off + len >= n
            try send(flush && last ? .flush : .data, UnsafeRawBufferPointer(start: p + off, count: len))
            off += len
        } while off < n
    }

    // MARK: reading

    /// Waits for at least one byte in the buffer.
    private func fill() throws {
        if inStart < inEnd { return }
        inStart = 0; inEnd = 0
        while true {
            let got: Int?
            do {
                got = try inbuf.withUnsafeMutableBytes { buf in
                    try syscallUnlessWouldBlock("recv") { recv(fd, buf.baseAddress, buf.count, 0) }
                }
            } catch let e as SystemError where e.errno == ECONNRESET {
                throw WireError.reset
            } catch let e as SystemError {
                throw WireError.system(e)
            }
            guard let got else {
                try wait(Int16(POLLIN), timeoutMicros: timeout)
                continue
            }
            if got == 0 { throw WireError.closed }
            inEnd = got
            return
        }
    }

    /// Whether more bytes from the peer are ready now (buffered, or readable at once).
    func hasPendingInput() -> Bool {
        if inStart < inEnd { return true }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return ((try? syscall("poll") { poll(&p, 1, 0) }) ?? 0) > 0
    }

    func readExactly(_ p: UnsafeMutableRawPointer, _ n: Int) throws {
        var got = 0
        while got < n {
            try fill()
            let take = min(n - got, inEnd - inStart)
            inbuf.withUnsafeBytes { (p + got).copyMemory(from: $0.baseAddress! + inStart, byteCount: take) }
            inStart += take
            got += take
        }
    }

    /// The next frame's type and payload length.
    func readHeader() throws -> (Frame, Int) {
        var head: (UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0)
        try withUnsafeMutableBytes(of: &head) { try readExactly($0.baseAddress!, 5) }
        guard let t = Frame(rawValue: head.0) else { throw WireError.malformed("unknown frame type \(head.0)") }
        let n = Int(UInt32(head.1) | UInt32(head.2) << 8 | UInt32(head.3) << 16 | UInt32(head.4) << 24)
        return (t, n)
    }

    func readPayload(_ n: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        if n > 0 { try out.withUnsafeMutableBytes { try readExactly($0.baseAddress!, n) } }
        return out
    }
}
