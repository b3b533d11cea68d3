/// Running behind a load balancer or an orchestrator (beyond mod_wsgi-express):
///
/// - `--drain-timeout SECONDS`: SIGTERM drains instead of stopping at once (4.9's meaning,
///   still the default): Apache stops accepting, the requests in flight get SECONDS to finish
///   (`GracefulShutdownTimeout`), then the daemon processes stop and the exit status is 0
///   (`WSGIDrainOnTerm On`). `--drain-delay SECONDS` first keeps serving that long while the
///   health URL answers 503, so that a load balancer's health checks take the server out
///   before it stops accepting (`WSGIDrainDelay`).
/// - `--health-url PATH` (`WSGIHealthURL`): 200 while every daemon process group has a live
///   process accepting requests, 503 from the moment a drain starts; answered by Apache's
///   children without Python. Local clients only unless `--health-allow NETWORK`.
public struct LifecycleSettings: Equatable {
    public var drainTimeout: Int?
    public var drainDelay = 0
    public var healthURL: String?
    public var healthAllow: [String] = []

    public init() {}

    static func resolve(_ o: ServerOptions, debugMode: Bool, metrics: MetricsSettings) throws -> LifecycleSettings {
        var l = LifecycleSettings()
        if let t = o.drainTimeout {
            guard (1...86400).contains(t) else {
                throw ExpressError.badOption("--drain-timeout must be a number of seconds from 1 to 86400, not \(t)")
            }
            if debugMode {
                throw ExpressError.badOption(
                    "--drain-timeout has no effect in debug mode (one Apache process in the foreground, stopped with Ctrl-C): leave one of them out"
                )
            }
            l.drainTimeout = t
        }
        if o.isGiven("--drain-delay") {
            guard l.drainTimeout != nil else {
                throw ExpressError.badOption(
                    "--drain-delay needs --drain-timeout: it is the first part of the drain that SIGTERM starts")
            }
            guard (0...3600).contains(o.drainDelay) else {
                throw ExpressError.badOption(
                    "--drain-delay must be a number of seconds from 0 to 3600, not \(o.drainDelay)")
            }
            l.drainDelay = o.drainDelay
        }
        if let url = o.healthURL {
            guard url.hasPrefix("/"), !url.contains(where: { $0 == " " || $0 == "'" || $0 == "\"" || $0.isNewline })
            else {
                throw ExpressError.badOption("--health-url must be a URL path such as /healthz, not '\(url)'")
            }
            if url == metrics.metricsURL {
                throw ExpressError.badOption(
                    "--health-url and --metrics-url are both '\(url)': give them different paths")
            }
            if url == "/server-status" && metrics.serverStatus {
                throw ExpressError.badOption(
                    "--health-url /server-status is where --server-status serves Apache's status page; choose another path"
                )
            }
            l.healthURL = url
        }
        if !o.healthAllow.isEmpty && o.healthURL == nil {
            throw ExpressError.badOption("--health-allow needs --health-url: it says who may ask the health URL")
        }
        for net in o.healthAllow where !MetricsSettings.isNetwork(net) {
            throw ExpressError.badOption("--health-allow takes an IP address or a network (address/bits), not '\(net)'")
        }
        l.healthAllow = o.healthAllow
        return l
    }

    func context() -> [String: Any] {
        [
            "drainTimeout": drainTimeout.map { String($0) } ?? "",
            "drainDelay": drainDelay > 0 ? String(drainDelay) : "",
            "healthURL": healthURL.map { Quote.apache($0) } ?? "",
            "healthAllow": healthAllow.joined(separator: " "),
            "any": drainTimeout != nil || healthURL != nil,
        ]
    }
}
