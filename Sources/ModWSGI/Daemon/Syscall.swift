import CModWSGI

/// A failed system call: which one, and errno.
struct SyscallError: Error, CustomStringConvertible {
    let call: String
    let errno: Int32

    var description: String { "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
    var isTimeout: Bool { errno == EAGAIN || errno == EWOULDBLOCK || errno == ETIMEDOUT }
}

/// Runs a system call, retrying on EINTR; a -1 result becomes a SyscallError with errno.
@discardableResult
@inline(__always)
func syscall<T: BinaryInteger>(_ name: String, _ body: () -> T) throws -> T {
    while true {
        let r = body()
        if r == -1 {
            let e = wsgi_errno()
            if e == EINTR { continue }
            throw SyscallError(call: name, errno: e)
        }
        return r
    }
}

/// Monotonic time in microseconds (timeouts); wall time (apr_time_now) is for environ.
func monotonicMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

/// Sleeps, restarting after signals, for `micros` microseconds.
func sleepMicros(_ micros: Int64) {
    var req = timespec(tv_sec: Int(micros / 1_000_000), tv_nsec: Int((micros % 1_000_000) * 1000))
    var rem = timespec()
    while nanosleep(&req, &rem) == -1 && wsgi_errno() == EINTR { req = rem }
}

/// Waits until `fd` is ready for `events` or `timeoutMicros` passes (<= 0: wait forever).
/// Returns false on timeout.
func waitFD(_ fd: Int32, _ events: Int16, timeoutMicros: Int64) throws -> Bool {
    let deadline = timeoutMicros > 0 ? monotonicMicros() + timeoutMicros : 0
    while true {
        var p = pollfd(fd: fd, events: events, revents: 0)
        var ms: Int32 = -1
        if deadline > 0 {
            let left = deadline - monotonicMicros()
            if left <= 0 { return false }
            ms = Int32(min((left + 999) / 1000, Int64(Int32.max)))
        }
        let r = poll(&p, 1, ms)
        if r == -1 {
            if wsgi_errno() == EINTR { continue }
            throw SyscallError(call: "poll", errno: wsgi_errno())
        }
        if r == 0 { if deadline > 0 { continue } else { return false } }
        return true
    }
}

/// A UNIX socket address for `path`; nil when the path does not fit in sun_path.
func unixAddress(_ path: String) -> sockaddr_un? {
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: addr.sun_path)
    guard bytes.count < capacity else { return nil }
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return addr
}

/// The largest socket path a UNIX socket can hold (without the NUL).
let maximumSocketPath = MemoryLayout<sockaddr_un>.size - MemoryLayout<sa_family_t>.size - 1
