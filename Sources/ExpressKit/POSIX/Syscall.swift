// The one wrapper for system calls in the command: EINTR retried, errors typed.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed system call: which call, on what, and errno.
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public let call: String
    public let errno: Int32
    public let subject: String

    public init(_ call: String, errno: Int32, subject: String = "") {
        self.call = call
        self.errno = errno
        self.subject = subject
    }

    public var message: String { String(cString: strerror(errno)) }

    public var description: String {
        subject.isEmpty ? "\(call): \(message)" : "\(call) \(subject): \(message)"
    }
}

/// Runs a system call that reports failure as -1 with errno (as swift-nio's `syscall` does):
/// retries it while it is interrupted by a signal (EINTR) and turns any other failure into a
/// `SystemError` naming the call and what it was applied to. Every call that can be
/// interrupted goes through here; nothing else loops on EINTR.
@discardableResult
public func syscall<T: BinaryInteger>(
    _ call: String, _ subject: String = "", _ body: () -> T
) throws(SystemError) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        let e = Glibc.errno
        if e == EINTR { continue }
        throw SystemError(call, errno: e, subject: subject)
    }
}
