// Time for timeouts and pauses.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Monotonic time in microseconds (timeouts); wall time is for what users read.
@inlinable
public func monotonicMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

/// Sleeps for `micros` microseconds; a signal does not cut the sleep short.
public func sleepMicros(_ micros: Int64) {
    var left = timespec(tv_sec: Int(micros / 1_000_000), tv_nsec: Int((micros % 1_000_000) * 1000))
    _ = try? syscall("nanosleep") { () -> Int32 in
        var rest = timespec()
        let r = nanosleep(&left, &rest)
        left = rest  // after EINTR: what is left
        return r
    }
}
