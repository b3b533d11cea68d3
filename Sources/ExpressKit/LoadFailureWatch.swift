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
    /// The report being collected: its key (see `key`), and its lines so far.
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
            if Self.key(line) == prefix, let text = Self.text(line) {
                lines.append(text)
            }
            return
        }
        guard let key = Self.key(line), let text = Self.text(line) else { return }
        prefix = key
        lines.append(text)
    }

    /// What the lines of one report share: their ID and Apache's `[pid N:tid N]` (one thread
    /// writes a report, a line at a time), e.g. "[pid 12:tid 34] MW1103: "; nil when the line
    /// is not a load failure.
    static func key(_ line: String) -> String? {
        guard let id = ids.first(where: { line.contains($0) }) else { return nil }
        guard let start = line.firstRange(of: "[pid "), let end = line[start.lowerBound...].firstIndex(of: "]") else {
            return id
        }
        return String(line[start.lowerBound...end]) + " " + id
    }

    /// The text after the ID, without the script tag mod_wsgi puts on a report's first line.
    static func text(_ line: String) -> String? {
        guard let id = ids.first(where: { line.contains($0) }), let r = line.firstRange(of: id) else { return nil }
        var text = line[r.upperBound...]
        if text.hasPrefix("[script "), let close = text.firstIndex(of: "]") {
            text = text[text.index(after: close)...].drop { $0 == " " }
        }
        return String(text)
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
