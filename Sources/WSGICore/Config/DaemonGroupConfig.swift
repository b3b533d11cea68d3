import CWSGICore

/// One `WSGIDaemonProcess name option=value ...`, with mod_wsgi's option names and
/// defaults. Timeouts are in seconds; 0 means "none" as in mod_wsgi.
package struct DaemonGroupConfig: Codable {
    package var name: String
    package var processes = 1
    /// True when `processes=` was given: wsgi.multiprocess is then True even for 1.
    package var multiprocess = false
    package var threads = 15
    package var displayName: String?
    package var home: String?
    package var pythonHome: String?
    package var pythonPath: [String] = []
    package var pythonEggs: String?
    package var lang: String?
    package var locale: String?
    package var user: String?
    package var group: String?
    package var supplementaryGroups: [String] = []
    package var umask: mode_t?
    package var maximumRequests = 0
    package var inactivityTimeout = 0
    package var requestTimeout = 0
    package var queueTimeout = 0
    package var connectTimeout = 15
    package var socketTimeout = 0  // 0: Apache's Timeout
    package var responseSocketTimeout = 0
    package var gracefulTimeout = 15
    package var shutdownTimeout = 5
    package var startupTimeout = 0
    package var deadlockTimeout = 300
    package var evictionTimeout = 0
    package var restartInterval = 0
    package var listenBacklog = 100
    package var headerBufferSize = 32768
    package var responseBufferSize = 65536
    package var receiveBufferSize = 0
    package var sendBufferSize = 0
    package var stackSize = 0
    package var cpuTimeLimit = 0
    package var memoryLimit = 0
    package var virtualMemoryLimit = 0
    package var cpuPriority = 0
    package var socketUser: String?
    /// server-metrics=On: mod_wsgi.server_metrics() returns the scoreboard in this group.
    package var serverMetrics = false
    /// interrupt-timeout=N (mod_wsgi 6.0): past request-timeout, raise mod_wsgi.RequestTimeout in
    /// the request's thread and give it N seconds to unwind before replacing the process.
    package var interruptTimeout = 0
    package var serverName = ""
    /// The <VirtualHost> the group was defined in (its server_rec's address), 0 for the main
    /// server: such a group serves only that virtual host and those with its ServerName.
    package var virtualHost: UInt = 0
    /// python-executable= (ours, issue 29): nil or "auto" runs the group's Python in the
    /// executable of its Python home when that is faster than libpython (Daemon/DaemonLaunch.swift
    /// in ModWSGI decides); "off" embeds libpython in the process Apache forked, as mod_wsgi
    /// does; a path names the executable.
    package var pythonExecutable: String?
    /// python-threads=N (ours, issue 29): at most N of the threads run a request at once, the
    /// others wait for a turn (without the GIL) before taking it; 0: as many as threads=.
    package var pythonThreads = 0
    /// switch-interval=SECONDS (mod_wsgi 6.1): sys.setswitchinterval in the group's processes.
    package var switchInterval: Double?
    /// response-flush-delay=MS (mod_wsgi 6.1): how long the Apache child waits for more of a
    /// response from the daemon before it flushes what it has to the client (0: at once).
    package var responseFlushDelay = 5

    package static let options: Set<String> = [
        "processes", "threads", "display-name", "home", "python-home", "python-path", "python-eggs",
        "lang", "locale", "user", "group", "supplementary-groups", "umask", "maximum-requests",
        "inactivity-timeout", "request-timeout", "queue-timeout", "connect-timeout", "socket-timeout",
        "response-socket-timeout", "graceful-timeout", "shutdown-timeout", "startup-timeout",
        "deadlock-timeout", "eviction-timeout", "restart-interval", "listen-backlog",
        "header-buffer-size", "response-buffer-size", "receive-buffer-size", "send-buffer-size",
        "stack-size", "cpu-time-limit", "memory-limit", "virtual-memory-limit", "cpu-priority",
        "socket-user", "server-metrics", "script-user", "chroot", "maximum-requests", "interrupt-timeout",
        "switch-interval", "response-flush-delay", "script-group", "python-executable", "python-threads",
    ]

    package static func parse(_ args: [String], serverName: String) -> Result<DaemonGroupConfig, DirectiveError> {
        func fail(_ m: String) -> Result<DaemonGroupConfig, DirectiveError> {
            .failure(DirectiveError(message: "WSGIDaemonProcess: \(m)"))
        }
        guard let name = args.first, !name.isEmpty, !name.contains("="), !name.hasPrefix("%{") else {
            return fail("the first argument is the process group's name")
        }
        var g = DaemonGroupConfig(name: name)
        g.serverName = serverName
        for arg in args.dropFirst() {
            guard let (k, v) = splitOption(arg) else { return fail("options are name=value, not '\(arg)'") }
            func int(_ range: ClosedRange<Int> = 0...Int(Int32.max)) -> Int? {
                guard let n = Int(v), range.contains(n) else { return nil }
                return n
            }
            func bad(_ what: String) -> Result<DaemonGroupConfig, DirectiveError> {
                fail("\(k) must be \(what), not '\(v)'")
            }
            switch k {
            case "processes":
                guard let n = int(1...1000) else { return bad("a number from 1 to 1000") }
                g.processes = n; g.multiprocess = true
            case "threads":
                guard let n = int(0...1000) else { return bad("a number from 0 to 1000") }
                g.threads = n
            case "display-name": g.displayName = v
            case "home": g.home = v
            case "python-home": g.pythonHome = v
            case "python-path": g.pythonPath = v.split(separator: ":").map(String.init)
            case "python-eggs": g.pythonEggs = v
            case "lang": g.lang = v
            case "locale": g.locale = v
            case "user": g.user = v
            case "group": g.group = v
            case "supplementary-groups": g.supplementaryGroups = v.split(separator: ",").map(String.init)
            case "umask":
                guard let m = mode_t(v, radix: 8) else { return bad("an octal mask such as 0022") }
                g.umask = m
            case "maximum-requests": guard let n = int() else { return bad("a number") }; g.maximumRequests = n
            case "inactivity-timeout": guard let n = int() else { return bad("seconds") }; g.inactivityTimeout = n
            case "request-timeout": guard let n = int() else { return bad("seconds") }; g.requestTimeout = n
            case "queue-timeout": guard let n = int() else { return bad("seconds") }; g.queueTimeout = n
            case "connect-timeout": guard let n = int() else { return bad("seconds") }; g.connectTimeout = n
            case "socket-timeout": guard let n = int() else { return bad("seconds") }; g.socketTimeout = n
            case "response-socket-timeout":
                guard let n = int() else { return bad("seconds") }; g.responseSocketTimeout = n
            case "graceful-timeout": guard let n = int() else { return bad("seconds") }; g.gracefulTimeout = n
            case "shutdown-timeout": guard let n = int() else { return bad("seconds") }; g.shutdownTimeout = n
            case "startup-timeout": guard let n = int() else { return bad("seconds") }; g.startupTimeout = n
            case "deadlock-timeout": guard let n = int() else { return bad("seconds") }; g.deadlockTimeout = n
            case "eviction-timeout": guard let n = int() else { return bad("seconds") }; g.evictionTimeout = n
            case "restart-interval": guard let n = int() else { return bad("seconds") }; g.restartInterval = n
            case "listen-backlog":
                guard let n = int(1...65535) else { return bad("a number from 1 to 65535") }; g.listenBacklog = n
            case "header-buffer-size":  // 0: the default (as mod_wsgi; mod_wsgi-express renders 0)
                guard let n = int(), n == 0 || n >= 4096 else { return bad("0 (the default) or at least 4096 bytes") }
                if n > 0 { g.headerBufferSize = n }
            case "response-buffer-size":
                guard let n = int() else { return bad("0 (the default) or bytes") }
                if n > 0 { g.responseBufferSize = n }
            case "receive-buffer-size": guard let n = int() else { return bad("bytes") }; g.receiveBufferSize = n
            case "send-buffer-size": guard let n = int() else { return bad("bytes") }; g.sendBufferSize = n
            case "stack-size": guard let n = int() else { return bad("bytes") }; g.stackSize = n
            case "cpu-time-limit": guard let n = int() else { return bad("seconds") }; g.cpuTimeLimit = n
            case "memory-limit": guard let n = int(0...Int.max) else { return bad("bytes") }; g.memoryLimit = n
            case "virtual-memory-limit":
                guard let n = int(0...Int.max) else { return bad("bytes") }; g.virtualMemoryLimit = n
            case "cpu-priority":
                guard let n = Int(v), (-20...20).contains(n) else { return bad("a number from -20 to 20") };
                g.cpuPriority = n
            case "socket-user": g.socketUser = v
            case "interrupt-timeout": guard let n = int() else { return bad("seconds") }; g.interruptTimeout = n
            case "python-threads":
                guard let n = int(0...1000) else { return bad("a number from 0 (no limit) to 1000") }
                g.pythonThreads = n
            case "python-executable":
                guard v == "auto" || v == "off" || v.hasPrefix("/") else {
                    return bad("auto, off or the absolute path of a Python executable")
                }
                g.pythonExecutable = v == "auto" ? nil : v
            case "server-metrics":
                switch v.lowercased() {
                case "on": g.serverMetrics = true
                case "off": g.serverMetrics = false
                default: return bad("On or Off")
                }
            case "script-user":
                return fail(
                    "option 'script-user' is not supported yet by this mod_wsgi (the owner of a WSGI script is not checked); leave it out and keep the scripts writable only by their owner"
                )
            case "switch-interval":
                guard let d = Double(v), d.isFinite, d > 0 else {
                    return fail(
                        "Invalid switch interval for WSGI daemon process: '\(v)' (a positive number of seconds).")
                }
                g.switchInterval = d
            case "response-flush-delay":
                guard let n = int() else {
                    return fail(
                        "Invalid response flush delay for WSGI daemon process: '\(v)' (milliseconds, 0 or more).")
                }
                g.responseFlushDelay = n
            case "script-group":
                return fail(
                    "option 'script-group' is not supported yet by this mod_wsgi (the group of a WSGI script is not checked); leave it out and keep the scripts writable only by their owner"
                )
            case "chroot":
                return fail(
                    "option 'chroot' is not supported yet by this mod_wsgi (Python and the application would have to be inside the new root); leave it out, or run Apache in a container"
                )
            default:
                return fail("unknown option '\(k)'")
            }
        }
        return .success(g)
    }
}
