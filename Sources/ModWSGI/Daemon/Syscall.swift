import CModWSGI

/// A failed system call: which one, and errno.
struct SyscallError: Error, CustomStringConvertible {
    let call: String
    let errno: Int32

    var description: String { "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))" }
}

// The module's one way to make a system call (as swift-nio's `syscall`): EINTR is retried
// here, never by hand, and a failure is a SyscallError naming the call. `body` runs again on
// each retry, so a call that must resume with what is left (a timeout, a sleep) computes its
// arguments inside it.

/// Runs a system call that returns -1 and sets errno on failure.
@discardableResult
@inline(__always)
func syscall<T: BinaryInteger>(_ name: String, _ body: () -> T) throws -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        let e = wsgi_errno()
        if e != EINTR { throw SyscallError(call: name, errno: e) }
    }
}

/// The same, on a non-blocking descriptor: nil when the call would block (EAGAIN).
@inline(__always)
func syscallUnlessWouldBlock<T: BinaryInteger>(_ name: String, _ body: () -> T) throws -> T? {
    do {
        return try syscall(name, body)
    } catch let e as SyscallError where e.errno == EAGAIN || e.errno == EWOULDBLOCK {
        return nil
    }
}

/// Monotonic time in microseconds (timeouts); wall time (apr_time_now) is for environ.
func monotonicMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

/// Sleeps for `micros` microseconds; a signal does not cut the sleep short.
func sleepMicros(_ micros: Int64) {
    var left = timespec(tv_sec: Int(micros / 1_000_000), tv_nsec: Int((micros % 1_000_000) * 1000))
    _ = try? syscall("nanosleep") { () -> Int32 in
        var rest = timespec()
        let r = nanosleep(&left, &rest)
        left = rest  // after EINTR: what is left
        return r
    }
}

/// Waits until `fd` is ready for `events` or `timeoutMicros` passes (<= 0: wait forever).
/// Returns false on timeout.
func waitFD(_ fd: Int32, _ events: Int16, timeoutMicros: Int64) throws -> Bool {
    let deadline = timeoutMicros > 0 ? monotonicMicros() + timeoutMicros : 0
    var p = pollfd(fd: fd, events: events, revents: 0)
    while true {
        var expired = false
        let ready = try syscall("poll") { () -> Int32 in
            guard deadline > 0 else { return poll(&p, 1, -1) }
            let left = deadline - monotonicMicros()
            if left <= 0 { expired = true; return 0 }
            return poll(&p, 1, Int32(min((left + 999) / 1000, Int64(Int32.max))))
        }
        if ready > 0 { return true }
        if expired { return false }
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
