// UNIX-domain socket addresses (the daemon processes' sockets).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A UNIX socket address for `path`; nil when the path does not fit in sun_path.
public func unixAddress(_ path: String) -> sockaddr_un? {
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
public let maximumSocketPath = MemoryLayout<sockaddr_un>.size - MemoryLayout<sa_family_t>.size - 1
