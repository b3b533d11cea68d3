// Whether Apache will be able to listen where httpd.conf tells it to, checked before it
// starts, so that a taken port is one line instead of Apache's AH00072 / AH00015 lines.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why Apache could not listen: the address it would bind, the error, and what already
/// listens on that port (when /proc/net tells).
struct PortConflict: Equatable {
    var errno: Int32
    /// The address Apache would bind, as `[::]:8000` or `127.0.0.1:8000`.
    var address: String
    /// Listening sockets on the same port, as `127.0.0.1:8000`.
    var listeners: [String]
}

enum PortCheck {
    /// Binds every address Apache binds for `Listen [host:]port`, the way Apache does it:
    /// the host resolved as a passive address of any family (no host: the wildcards), each
    /// socket with SO_REUSEADDR, and IPv6 ones dual-stack (IPV6_V6ONLY off: Debian's Apache
    /// is built with IPv4-mapped addresses enabled, so `Listen 8000` binds `[::]:8000` and
    /// with it every IPv4 address of the port). Nil when every bind succeeds.
    static func conflict(host: String?, port: Int) -> PortConflict? {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let first = res else {
            return nil  // a name that does not resolve: Apache says so itself
        }
        defer { freeaddrinfo(res) }
        var addresses: [UnsafeMutablePointer<addrinfo>] = []
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai { addresses.append(a); ai = a.pointee.ai_next }
        // IPv6 first, as Apache: without a host it binds [::] and skips 0.0.0.0, which [::] covers.
        addresses.sort { $0.pointee.ai_family == AF_INET6 && $1.pointee.ai_family != AF_INET6 }
        for a in addresses {
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            guard fd >= 0 else { continue }  // a family this machine lacks (no IPv6)
            defer { close(fd) }
            var one: Int32 = 1, zero: Int32 = 0
            let size = socklen_t(MemoryLayout<Int32>.size)
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size)
            if a.pointee.ai_family == AF_INET6 {
                setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &zero, size)
            }
            if bind(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) != 0 {
                let e = Glibc.errno
                guard e == EADDRINUSE || e == EACCES else { continue }  // EADDRNOTAVAIL: Apache's to report
                return PortConflict(
                    errno: e, address: describe(a.pointee.ai_addr, port: port),
                    listeners: e == EADDRINUSE ? listening(port: port) : [])
            }
        }
        return nil
    }

    /// `[::1]:8000`, `0.0.0.0:8000`.
    static func describe(_ sa: UnsafePointer<sockaddr>, port: Int) -> String {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if Int32(sa.pointee.sa_family) == AF_INET6 {
            var a6 = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            inet_ntop(AF_INET6, &a6, &buf, socklen_t(buf.count))
            return "[\(string(buf))]:\(port)"
        }
        var a4 = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
        inet_ntop(AF_INET, &a4, &buf, socklen_t(buf.count))
        return "\(string(buf)):\(port)"
    }

    private static func string(_ buf: [CChar]) -> String {
        String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The TCP sockets listening on `port` in this network namespace (/proc/net/tcp and tcp6).
    static func listening(port: Int) -> [String] {
        var found: [String] = []
        for (file, family) in [("/proc/net/tcp", AF_INET), ("/proc/net/tcp6", AF_INET6)] {
            guard let text = Sys.readText(file) else { continue }  // size 0: read to the end
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                // sl local_address rem_address st ...; st 0A is LISTEN
                guard fields.count > 3, fields[3] == "0A" else { continue }
                let local = fields[1].split(separator: ":")
                guard local.count == 2, Int(local[1], radix: 16) == port,
                    let address = procAddress(local[0], family: family)
                else { continue }
                let entry = family == AF_INET6 ? "[\(address)]:\(port)" : "\(address):\(port)"
                if !found.contains(entry) { found.append(entry) }
            }
        }
        return found
    }

    /// An address as /proc/net/tcp* prints it: 32-bit words in hex, each in host byte order.
    static func procAddress(_ hex: Substring, family: Int32) -> String? {
        let words = family == AF_INET6 ? 4 : 1
        guard hex.count == words * 8 else { return nil }
        var bytes: [UInt8] = []
        var i = hex.startIndex
        for _ in 0..<words {
            let j = hex.index(i, offsetBy: 8)
            guard let w = UInt32(hex[i..<j], radix: 16) else { return nil }
            withUnsafeBytes(of: w) { bytes.append(contentsOf: $0) }  // host order, as the kernel wrote it
            i = j
        }
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buf, socklen_t(buf.count)) != nil }
        return ok ? string(buf) : nil
    }
}
