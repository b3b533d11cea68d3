// --proxy-mount-point / --proxy-url-alias and --proxy-virtual-host: parts of the site, or
// other host names on the same port, passed to other servers by mod_proxy_http.

public struct ProxyMount: Equatable {
    /// The sub URL, as given; `redirectBare` when it has no trailing slash: then `/path/` is
    /// proxied and `/path` redirects to `/path/`, as mod_wsgi-express does.
    public var path: String
    public var url: String
    public var redirectBare: Bool
}

public struct ProxyHost: Equatable {
    public var host: String
    public var url: String
}

public struct ProxySettings: Equatable {
    public var mounts: [ProxyMount] = []
    public var hosts: [ProxyHost] = []
    /// ProxyTimeout (mod_wsgi-express 6.0's --proxy-timeout); Apache's Timeout (60) when nil.
    public var timeout: Int?

    public var isEmpty: Bool { mounts.isEmpty && hosts.isEmpty }
}

extension ProxySettings {
    static func resolve(_ o: ServerOptions) throws -> ProxySettings {
        var s = ProxySettings()
        for p in o.proxyMountPoints {
            guard p.first.hasPrefix("/") else {
                throw ExpressError.badOption("--proxy-mount-point takes a URL path starting with '/', not '\(p.first)'")
            }
            try checkURL(p.second, option: "--proxy-mount-point")
            s.mounts.append(ProxyMount(path: p.first, url: p.second, redirectBare: !p.first.hasSuffix("/")))
        }
        for p in o.proxyVirtualHosts {
            guard !p.first.isEmpty, !p.first.contains("/") else {
                throw ExpressError.badOption("--proxy-virtual-host takes a host name, not '\(p.first)'")
            }
            try checkURL(p.second, option: "--proxy-virtual-host")
            s.hosts.append(ProxyHost(host: p.first, url: p.second))
        }
        if let t = o.proxyTimeout {
            guard t > 0 else { throw ExpressError.badOption("--proxy-timeout must be 1 or more seconds, not \(t)") }
            guard !s.isEmpty else {
                throw ExpressError.badOption("--proxy-timeout needs --proxy-mount-point or --proxy-virtual-host")
            }
            s.timeout = t
        }
        return s
    }

    /// mod_proxy_http proxies http:// and https:// URLs.
    static func checkURL(_ url: String, option: String) throws {
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), url.split(separator: "/").count >= 2 else {
            throw ExpressError.badOption("\(option) takes an http:// or https:// URL, not '\(url)'")
        }
    }
}
