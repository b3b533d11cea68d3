// On a terminal, start-server tells the user when the application fails to load, instead of
// leaving the reason in an error log they may not know about.
#if canImport(Glibc)
import Glibc
#endif

/// Follows the error log from where it ended when Apache started, until the module reports
/// the first failure to load the application (MW1102 script not found, MW1103 cannot be
/// loaded): then `poll` returns that report's lines, once.
struct LoadFailureWatch {
    static let ids = ["MW1102: ", "MW1103: "]

    let path: String
    private var offset: Int
    private var partial: [UInt8] = []
    /// The report being collected: its ID and pid prefix, and its lines so far.
    private var prefix: String?
    private var lines: [String] = []
    private(set) var done = false

    /// Watches `path` from its current end (earlier runs' lines are not this run's).
    init(path: String) {
        self.path = path
        offset = Sys.stat(path).map { Int($0.st_size) } ?? 0
    }

    /// Call a few times a second. The report is returned once no more of its lines arrived
    /// since the previous call (a traceback is written a line at a time).
    mutating func poll() -> [String]? {
        guard !done else { return nil }
        let before = lines.count
        for line in newLines() { take(line) }
        if prefix != nil && lines.count == before {
            done = true
            return lines
        }
        return nil
    }

    private mutating func take(_ line: String) {
        if let prefix {
            if let r = line.firstRange(of: prefix) { lines.append(Self.message(String(line[r.upperBound...]))) }
            return
        }
        for id in Self.ids {
            // "MW1103: mod_wsgi (pid=123): text": lines of the same report share that prefix.
            guard let start = line.firstRange(of: id),
                let end = line[start.upperBound...].firstRange(of: "): ")
            else { continue }
            prefix = String(line[start.lowerBound..<end.upperBound])
            lines.append(Self.message(String(line[end.upperBound...])))
            return
        }
    }

    /// The message without the daemon's "[client 127.0.0.1:1234] ".
    static func message(_ text: String) -> String {
        guard text.hasPrefix("[client "), let close = text.firstIndex(of: "]") else { return text }
        return String(text[text.index(after: close)...].drop { $0 == " " })
    }

    /// The complete lines appended since the last call.
    private mutating func newLines() -> [String] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return [] }
        if Int(st.st_size) < offset { offset = 0; partial = [] }  // truncated or replaced
        let size = min(Int(st.st_size) - offset, 1 << 20)
        guard size > 0 else { return [] }
        var buf = [UInt8](repeating: 0, count: size)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, size, off_t(offset)) }
        guard n > 0 else { return [] }
        offset += n
        partial += buf[..<n]
        guard let lastNewline = partial.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let complete = partial[...lastNewline]
        partial.removeSubrange(...lastNewline)
        return complete.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
    }

    /// What the terminal shows.
    static func report(_ lines: [String], log: String) -> String {
        var out = "mod_wsgi-express: the application failed to load (from \(log)):\n"
        for l in lines { out += "    " + l + "\n" }
        out += "mod_wsgi-express: the server keeps running and loads the application again on its next request.\n"
        return out
    }
}
