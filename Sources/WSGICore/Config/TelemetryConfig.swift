/// mod_wsgi 6.1's telemetry directives: WSGITelemetryService, WSGISlowRequests and
/// WSGITelemetryOptions (all in the main server only). The sender is in Telemetry/.
package struct TelemetryConfig: Codable {
    /// The path of the ingester's UNIX datagram socket ("unix:PATH"); nil: telemetry off.
    package var socketPath: String?
    /// Seconds between two samples (interval=N, at least 0.5; default 1).
    package var interval: Double = 1.0
    /// WSGISlowRequests: report a request once it has run this long; 0 or nil: never.
    package var slowRequests: Double?
    /// WSGITelemetryOptions flags (CaptureUserAgent).
    package var options: Int = 0

    package static let captureUserAgent = 0x01
    package static let all = captureUserAgent

    package init() {}

    /// This process's: set from the configuration in the Apache parent (post_config, inherited
    /// by its children) and in a daemon process from its DaemonStart.
    nonisolated(unsafe) package static var current = TelemetryConfig()

    /// WSGITelemetryService unix:/path [interval=N], with mod_wsgi's messages.
    package mutating func parseService(_ args: [String]) -> String? {
        guard let target = args.first, !target.isEmpty else { return "WSGITelemetryService target required" }
        guard target.hasPrefix("unix:") else {
            return
                "WSGITelemetryService target must be 'unix:/path' (remote 'udp:host:port' targets are no longer supported)"
        }
        let path = String(target.dropFirst(5))
        if path.isEmpty { return "WSGITelemetryService target required" }
        if path.utf8.count > 107 {
            return
                "WSGITelemetryService: the socket path '\(path)' is longer than a UNIX socket address allows (107 bytes); use a shorter path"
        }
        if args.count > 1 {
            guard args[1].hasPrefix("interval=") else {
                return "WSGITelemetryService second argument must be 'interval=N'"
            }
            guard let v = Double(args[1].dropFirst(9)), v >= 0.5 else {
                return "WSGITelemetryService interval must be at least 0.5 seconds"
            }
            interval = v
        }
        socketPath = path
        return nil
    }

    /// WSGISlowRequests SECONDS.
    package mutating func parseSlowRequests(_ arg: String) -> String? {
        if arg.isEmpty { return "WSGISlowRequests threshold (seconds) required" }
        guard let v = Double(arg), v.isFinite else {
            return "WSGISlowRequests threshold must be a number of seconds, not '\(arg)'"
        }
        if v < 0 { return "WSGISlowRequests threshold must be non-negative" }
        slowRequests = v
        return nil
    }

    /// WSGITelemetryOptions [+|-]Flag... | None | All: Apache's Options rules (no mixing of
    /// +/- with absolute names in one directive; +/- stack over earlier directives).
    package mutating func parseOptions(_ args: [String]) -> String? {
        if args.isEmpty { return "WSGITelemetryOptions: at least one flag required" }
        var incremental = options
        var absolute = 0
        var seenIncremental = false
        var seenAbsolute = false
        for token in args {
            var name = Substring(token)
            var negate = false
            if token.hasPrefix("+") || token.hasPrefix("-") {
                negate = token.hasPrefix("-")
                seenIncremental = true
                name = name.dropFirst()
                if name.isEmpty { return "WSGITelemetryOptions: bare '+' / '-' is not a flag" }
            } else {
                seenAbsolute = true
            }
            if seenIncremental && seenAbsolute {
                return "WSGITelemetryOptions: cannot mix +/- form with absolute names in a single directive"
            }
            switch name.lowercased() {
            case "none":
                if name.count != token.count { return "WSGITelemetryOptions: 'None' may not have a +/- prefix" }
                absolute = 0
            case "all":
                if name.count != token.count { return "WSGITelemetryOptions: 'All' may not have a +/- prefix" }
                absolute = Self.all
            case "captureuseragent":
                if seenIncremental {
                    if negate { incremental &= ~Self.captureUserAgent } else { incremental |= Self.captureUserAgent }
                } else {
                    absolute |= Self.captureUserAgent
                }
            default:
                return "WSGITelemetryOptions: unknown flag '\(name)'"
            }
        }
        options = seenIncremental ? incremental : absolute
        return nil
    }
}
