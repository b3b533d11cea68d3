// Waiting for a descriptor with a deadline.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Waits until `fd` is ready for `events` or `timeoutMicros` passes (<= 0: wait forever).
/// Returns false on timeout.
public func waitFD(_ fd: Int32, _ events: Int16, timeoutMicros: Int64) throws(SystemError) -> Bool {
    let deadline = timeoutMicros > 0 ? monotonicMicros() + timeoutMicros : 0
    var p = pollfd(fd: fd, events: events, revents: 0)
    while true {
        var expired = false
        let ready = try syscall("poll") { () -> Int32 in
            guard deadline > 0 else { return poll(&p, 1, -1) }
            let left = deadline - monotonicMicros()
            if left <= 0 {
                expired = true
                return 0
            }
            return poll(&p, 1, Int32(min((left + 999) / 1000, Int64(Int32.max))))
        }
        if ready > 0 { return true }
        if expired { return false }
    }
}
