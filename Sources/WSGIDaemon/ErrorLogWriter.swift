import CWSGICore
import WSGICore

/// The error log of a daemon process that runs the application's Python executable: the lines
/// a forked daemon writes through ap_log_error on the main server, written here as Apache
/// writes them (the same ErrorLogFormat, or Apache's default format; the module's LogLevel)
/// to the log Apache opened, which the process has as its standard error (a file or a piped
/// logger), or to syslog with `ErrorLog syslog[:facility]`.
final class ErrorLogWriter {
    let settings: ErrorLogSettings
    private let items: [Item]?
    /// This process (a child the application forks writes its own pid, as Apache would).
    private var pid: pid_t { wsgi_pid() }

    init(_ settings: ErrorLogSettings) {
        self.settings = settings
        items = settings.format.map(Self.parse)
        if let facility = settings.syslogFacility {
            openlog(strdup(settings.syslogIdent), LOG_NDELAY | LOG_CONS | LOG_PID, facility)
        }
    }

    /// One line to the log on descriptor `fd` (standard error: the main server's).
    func write(level: Int32, status: Int32, _ message: String, fd: Int32 = 2) {
        guard level <= settings.level else { return }
        if settings.syslogFacility != nil {
            // syslog adds the time and pid; Apache sends the rest of its line as the message.
            let text =
                items == nil ? defaultLine(level, status, message, time: false) : formatted(level, status, message)
            guard let text else { return }
            wsgi_syslog(level & 7, text)
            return
        }
        guard
            let line = items == nil
                ? defaultLine(level, status, message, time: true) : formatted(level, status, message)
        else { return }
        let text = line + "\n"
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buf in
            var done = 0
            while done < buf.count {
                let n = CWSGICore.write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 && wsgi_errno() == EINTR { continue }
                if n <= 0 { return }
                done += n
            }
        }
    }

    // MARK: Apache's default format (ErrorLogFormat unset): do_errorlog_default in server/log.c

    private func defaultLine(_ level: Int32, _ status: Int32, _ message: String, time: Bool) -> String {
        var s = ""
        if time { s += "[" + Self.time("u") + "] " }
        s += "[wsgi:" + Self.levelName(level) + "] [pid \(pid):tid \(Self.threadID())] "
        if status != 0 { s += Self.status(status) + ": " }
        return s + message
    }

    // MARK: ErrorLogFormat

    /// One element of a format: text, a field separator (a space, which it writes, or "% ",
    /// which writes nothing; "\\ " is a space within a field), or an item (%X with its modifiers:
    /// '-' writes a hyphen when empty, '+' drops the line when empty, a digit is the least
    /// severe level the item is written at, {arg}).
    enum Item {
        case text(String)
        case separator(String)
        case item(code: Character, arg: String?, hyphen: Bool, required: Bool, minLevel: Int32?)
    }

    static func parse(_ format: String) -> [Item] {
        var out: [Item] = []
        var text = ""
        var chars = Array(format)
        chars.append("\u{0}")
        var i = 0
        func flush() {
            if !text.isEmpty {
                out.append(.text(text))
                text = ""
            }
        }
        while chars[i] != "\u{0}" {
            let c = chars[i]
            if c == "\\" && chars[i + 1] != "\u{0}" {
                let n = chars[i + 1]
                text.append(n == "n" ? "\n" : n == "t" ? "\t" : n)
                i += 2
                continue
            }
            if c == " " {
                flush()
                out.append(.separator(" "))
                i += 1
                continue
            }
            guard c == "%" else {
                text.append(c)
                i += 1
                continue
            }
            i += 1
            if chars[i] == "%" {
                text.append("%")
                i += 1
                continue
            }
            if chars[i] == " " {
                flush()
                out.append(.separator(""))
                i += 1
                continue
            }
            var hyphen = false
            var required = false
            var minLevel: Int32?
            var arg: String?
            if chars[i] == "-" {
                hyphen = true
                i += 1
            } else if chars[i] == "+" {
                required = true
                i += 1
            }
            if let d = chars[i].wholeNumberValue {
                minLevel = Int32(d)
                i += 1
            }
            if chars[i] == "{" {
                var a = ""
                i += 1
                while chars[i] != "}" && chars[i] != "\u{0}" {
                    a.append(chars[i])
                    i += 1
                }
                if chars[i] == "}" { i += 1 }
                arg = a
            }
            guard chars[i] != "\u{0}" else { break }
            flush()
            out.append(.item(code: chars[i], arg: arg, hyphen: hyphen, required: required, minLevel: minLevel))
            i += 1
        }
        flush()
        return out
    }

    /// A line in the configured format, as do_errorlog_format writes it: an item that is empty
    /// (or below its level) takes its whole field out, with the separator before it; nil when a
    /// required ('+') item is empty.
    private func formatted(_ level: Int32, _ status: Int32, _ message: String) -> String? {
        var line: [UInt8] = []
        var fieldStart = 0
        var skipping = false
        for item in items ?? [] {
            switch item {
            case .separator(let out):
                if skipping { skipping = false } else { fieldStart = line.count }
                line += Array(out.utf8)
            case .text(let t):
                if !skipping { line += Array(t.utf8) }
            case .item(let code, let arg, let hyphen, let required, let minLevel):
                if skipping { continue }
                if let minLevel, level < minLevel {
                    skipping = true
                    line.removeSubrange(fieldStart...)
                    continue
                }
                let value = self.value(code, arg, level, status, message)
                if !value.isEmpty {
                    line += Array(value.utf8)
                } else if required {
                    return nil
                } else if hyphen {
                    line.append(UInt8(ascii: "-"))
                } else {
                    skipping = true
                    line.removeSubrange(fieldStart...)
                }
            }
        }
        return String(decoding: line, as: UTF8.self)
    }

    private func value(_ code: Character, _ arg: String?, _ level: Int32, _ status: Int32, _ message: String)
        -> String
    {
        switch code {
        case "M": return message
        case "l": return Self.levelName(level)
        case "m": return "wsgi"
        case "P": return String(pid)
        case "T": return arg == "g" ? String(gettid()) : String(UInt(pthread_self()))
        case "t": return Self.time(arg ?? "")
        case "E": return status != 0 ? Self.status(status) : ""
        case "v", "V": return settings.serverName
        // About a request or connection (client address, headers, notes, log IDs, keep-alive
        // count) or the source line: nothing a daemon process's own lines have.
        default: return ""
        }
    }

    // MARK: pieces

    static let levelNames = [
        "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
        "trace1", "trace2", "trace3", "trace4", "trace5", "trace6", "trace7", "trace8",
    ]

    static func levelName(_ level: Int32) -> String {
        let l = Int(level & APLOG_LEVELMASK)
        return l < levelNames.count ? levelNames[l] : String(l)
    }

    /// The thread as Apache 2.4's default format prints it on Linux: the kernel's thread id
    /// (what a forked daemon's lines show, and top).
    static func threadID() -> Int32 { gettid() }

    static func status(_ status: Int32) -> String {
        "(\(status))" + String(cString: strerror(status))
    }

    static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Apache's %t: "Wed Jun 30 21:49:08 1993" ("u": with .microseconds after the seconds; "c":
    /// "1993-06-30 21:49:08", "cu" with microseconds).
    static func time(_ option: String) -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var secs = tv.tv_sec
        var t = tm()
        localtime_r(&secs, &t)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let usec = String(tv.tv_usec)
        let micros = "." + String(repeating: "0", count: max(0, 6 - usec.count)) + usec
        let clock = two(t.tm_hour) + ":" + two(t.tm_min) + ":" + two(t.tm_sec)
        if option.hasPrefix("c") {
            let date = "\(t.tm_year + 1900)-" + two(t.tm_mon + 1) + "-" + two(t.tm_mday)
            return date + " " + clock + (option.contains("u") ? micros : "")
        }
        return days[Int(t.tm_wday)] + " " + months[Int(t.tm_mon)] + " " + two(t.tm_mday) + " " + clock
            + (option.contains("u") ? micros : "") + " \(t.tm_year + 1900)"
    }
}
