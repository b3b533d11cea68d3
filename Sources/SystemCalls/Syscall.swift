// The one wrapper for system calls, in the CLI and in the Apache module: EINTR retried here
// and nowhere else, a failure typed as the SystemError naming the call.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs a system call that reports failure as -1 with errno (as swift-nio's `syscall` does):
/// retries it while it is interrupted by a signal (EINTR) and turns any other failure into a
/// `SystemError` naming the call and what it was applied to. `body` runs again on each retry,
/// so a call that must resume with what is left (a timeout, a sleep) computes its arguments
/// inside it.
@inlinable
@discardableResult
public func syscall<T: BinaryInteger>(
    _ call: String, _ subject: String = "", _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        let e = errno
        if e == EINTR { continue }
        throw SystemError(call, errno: e, subject: subject)
    }
}

/// The same, on a non-blocking descriptor: nil when the call would block (EAGAIN).
@inlinable
public func syscallUnlessWouldBlock<T: BinaryInteger>(
    _ call: String, _ subject: String = "", _ body: () -> T
) throws(SystemError) -> T? {
    do {
        return try syscall(call, subject, body)
    } catch let e where e.wouldBlock {
        return nil
    }
}
