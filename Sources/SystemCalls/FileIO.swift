// Whole reads and writes on a descriptor: the loops over short reads and writes, once.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Writes all of `bytes` to `fd` (a blocking descriptor), however many calls that takes.
public func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>, subject: String = "") throws(SystemError) {
    let bytes = Array(bytes)
    var off = 0
    while off < bytes.count {
        off += try syscall("write", subject) {
            bytes.withUnsafeBytes { p in write(fd, p.baseAddress! + off, p.count - off) }
        }
    }
}

/// Reads `fd` to its end, or until `limit` bytes; `sizeHint` (a file's size) sizes the first read.
public func readAll(_ fd: Int32, limit: Int = Int.max, sizeHint: Int = 0, subject: String = "") throws(SystemError)
    -> [UInt8]
{
    // One byte past the hinted size, so that the read which finds the end needs no bigger
    // buffer: growing an array of a 12 MB file to look for its end reallocated and copied it
    // (twice the memory, 13 ms more for setup-server, which reads the module's ELF header).
    var out = [UInt8](repeating: 0, count: min(sizeHint > 0 ? sizeHint + 1 : 4096, limit))
    var off = 0
    while off < limit {
        if off == out.count {
            out.append(contentsOf: repeatElement(0, count: min(out.count, limit - off)))
        }
        let n = try syscall("read", subject) {
            out.withUnsafeMutableBytes { p in read(fd, p.baseAddress! + off, p.count - off) }
        }
        if n == 0 { break }
        off += n
    }
    out.removeSubrange(off...)
    return out
}

/// The bytes of the file at `path` (at most `limit`); nil when it cannot be opened or read.
/// Files of /proc, whose size reads as 0, are read to their end too.
public func readFile(_ path: String, limit: Int = Int.max) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var st = stat()
    let size = fstat(fd, &st) == 0 ? Int(st.st_size) : 0
    return try? readAll(fd, limit: limit, sizeHint: size, subject: path)
}
