// What a failed system call reports, in the CLI's messages and the module's log lines alike.
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

    @inlinable
    public init(_ call: String, errno: Int32, subject: String = "") {
        self.call = call
        self.errno = errno
        self.subject = subject
    }

    /// strerror's text for errno.
    public var message: String { String(cString: strerror(errno)) }

    public var description: String {
        subject.isEmpty ? "\(call): \(message)" : "\(call) \(subject): \(message)"
    }

    /// The call would have blocked on a non-blocking descriptor (EAGAIN, EWOULDBLOCK).
    @inlinable
    public var wouldBlock: Bool { errno == EAGAIN || errno == EWOULDBLOCK }
}
