/// Server metrics and status: `--server-metrics` (WSGIServerMetrics On, `server-metrics=On` on
/// the daemon process group, mod_status with ExtendedStatus On, as mod_wsgi-express 4.9),
/// `--server-status` (also /server-status, local clients only), and beyond 4.9 the Prometheus
/// endpoint `--metrics-url PATH` (WSGIMetricsURL) with `--metrics-allow NETWORK`
/// (WSGIMetricsAllow).
public struct MetricsSettings: Equatable {
    public var serverMetrics = false
    public var serverStatus = false
    public var metricsURL: String?
    public var metricsAllow: [String] = []

    public init() {}

    static func resolve(_ o: ServerOptions) throws -> MetricsSettings {
        var m = MetricsSettings()
        m.serverMetrics = o.serverMetrics
        m.serverStatus = o.serverStatus
        if let url = o.metricsURL {
            guard url.hasPrefix("/"), !url.contains(where: { $0 == " " || $0 == "'" || $0 == "\"" || $0.isNewline })
            else {
                throw ExpressError.badOption("--metrics-url must be a URL path such as /metrics, not '\(url)'")
            }
            if url == "/server-status" && o.serverStatus {
                throw ExpressError.badOption(
                    "--metrics-url /server-status is where --server-status serves Apache's status page; choose another path"
                )
            }
            m.metricsURL = url
        }
        if !o.metricsAllow.isEmpty && o.metricsURL == nil {
            throw ExpressError.badOption(
                "--metrics-allow needs --metrics-url: it says who may read the metrics served there")
        }
        for net in o.metricsAllow {
            guard isNetwork(net) else {
                throw ExpressError.badOption(
                    "--metrics-allow takes an IP address or a network (address/bits), not '\(net)'")
            }
        }
        m.metricsAllow = o.metricsAllow
        return m
    }

    /// An IPv4 or IPv6 address, optionally /bits (what Apache's apr_ipsubnet_create takes,
    /// checked here so a typo is one line before Apache starts).
    static func isNetwork(_ s: String) -> Bool {
        let parts = s.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let address = String(parts[0])
        var bits = 32
        if address.contains(":") {
            guard address.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }),
                address.contains("::") || address.split(separator: ":").count == 8
            else { return false }
            bits = 128
        } else {
            let octets = address.split(separator: ".", omittingEmptySubsequences: false)
            guard octets.count == 4, octets.allSatisfy({ Int($0).map { (0...255).contains($0) } ?? false }) else {
                return false
            }
        }
        if parts.count == 2 {
            guard let n = Int(parts[1]), (1...bits).contains(n) else { return false }
        }
        return true
    }

    /// mod_status is loaded for either flag (ExtendedStatus needs it).
    var needsStatusModule: Bool { serverMetrics || serverStatus }

    func context() -> [String: Any] {
        [
            "serverMetrics": serverMetrics,
            "extendedStatus": needsStatusModule,
            "metricsURL": metricsURL.map { Quote.apache($0) } ?? "",
            "metricsAllow": metricsAllow.joined(separator: " "),
            "any": serverMetrics || serverStatus || metricsURL != nil,
        ]
    }
}
