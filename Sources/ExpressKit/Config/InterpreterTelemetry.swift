/// mod_wsgi-express 6.1's interpreter and telemetry options:
/// --application-group, --process-group, --python-warnings, --response-flush-delay,
/// --switch-interval, --free-threading, and the telemetry pipeline (--telemetry-service,
/// --telemetry-interval, --telemetry-options, --slow-requests, --enable-telemetry with
/// --telemetry-ui-port), rendered as mod_wsgi-express 6.1.1 renders them.
public struct InterpreterTelemetrySettings: Equatable {
    /// The application group of the handler (quoted for Apache), %{GLOBAL} by default.
    public var applicationGroup = "%{GLOBAL}"
    /// The daemon process group's name (nil: host:port).
    public var processGroup: String?
    public var pythonWarnings: [String] = []
    public var responseFlushDelay = 5
    public var switchInterval: Double?
    public var freeThreading = false
    /// unix:PATH, when telemetry is on.
    public var telemetryService: String?
    public var telemetryInterval = 1.0
    public var telemetryOptions: [String] = []
    public var slowRequests: Double?
    /// --enable-telemetry: the ingester's socket (in a directory the run user owns) and UI port.
    public var telemetrySocket: String?
    public var telemetryUIPort = 8888

    public init() {}

    /// The service that runs the ingester with --enable-telemetry.
    public static let serviceName = "telemetry"

    public var telemetryDirectory: String? { telemetrySocket.map { Path.dirname($0) } }

    static func resolve(
        _ o: ServerOptions, serverRoot: String, services: [ServiceScript], debugMode: Bool,
        module: ModuleInfo, pythonHome: String, pythonPaths: [String]
    ) throws -> InterpreterTelemetrySettings {
        var t = InterpreterTelemetrySettings()
        func plain(_ option: String, _ v: String) throws -> String {
            guard !v.isEmpty, !v.contains(where: { $0 == "'" || $0 == "\\" || $0.isNewline }) else {
                throw ExpressError.badOption(
                    "\(option) takes a name without quotes, backslashes or new lines, not '\(v)'")
            }
            return v
        }
        if let g = o.applicationGroup { t.applicationGroup = "'\(try plain("--application-group", g))'" }
        if let g = o.processGroup {
            t.processGroup = try plain("--process-group", g)
            if g.contains(" ") || g.hasPrefix("%{") || g.contains("=") {
                throw ExpressError.badOption("--process-group takes a name without spaces, '=' or %{...}, not '\(g)'")
            }
        }
        t.pythonWarnings = try o.pythonWarnings.map { try plain("--python-warnings", $0) }
        guard o.responseFlushDelay >= 0 else {
            throw ExpressError.badOption(
                "--response-flush-delay must be 0 or more milliseconds, not \(o.responseFlushDelay)")
        }
        t.responseFlushDelay = o.responseFlushDelay
        if let s = o.switchInterval {
            guard s > 0, s.isFinite else {
                throw ExpressError.badOption("--switch-interval must be a positive number of seconds")
            }
            t.switchInterval = s
        }
        if o.freeThreading {
            guard module.freeThreaded else {
                throw ExpressError.badOption(
                    "--free-threading requires a Python build with free-threading support (PEP 703), and this mod_wsgi is built for Python \(module.pythonVersion ?? "3") with the GIL. Rebuild Python with --disable-gil (and mod_wsgi against it) to use it, or leave the option out."
                )
            }
            t.freeThreading = true
        }
        guard o.telemetryInterval >= 0.5, o.telemetryInterval.isFinite else {
            throw ExpressError.badOption(
                "--telemetry-interval must be at least 0.5 seconds, not \(o.telemetryInterval)")
        }
        t.telemetryInterval = o.telemetryInterval
        guard (1...65535).contains(o.telemetryUIPort) else {
            throw ExpressError.badOption("--telemetry-ui-port must be a port number from 1 to 65535")
        }
        t.telemetryUIPort = o.telemetryUIPort
        if o.enableTelemetry {
            if o.telemetryService != nil {
                throw ExpressError.badOption(
                    "--enable-telemetry and --telemetry-service are mutually exclusive: --enable-telemetry runs an ingester service and points the WSGI processes at it, so an explicit telemetry target would conflict"
                )
            }
            // With --embedded-mode too, as mod_wsgi-express 6.1.1: the Apache children report,
            // and the ingester still runs as a service daemon process. Debug mode runs none.
            if debugMode {
                throw ExpressError.badOption(
                    "--enable-telemetry runs the ingester in a service daemon process, which --debug-mode does not start; use --telemetry-service unix:PATH with an ingester you start (mod_wsgi-telemetry serve)"
                )
            }
            if services.contains(where: { $0.name == serviceName }) {
                throw ExpressError.badOption(
                    "--enable-telemetry generates a service named 'telemetry'; rename the conflicting --service-script entry or drop --enable-telemetry"
                )
            }
            guard telemetryInstalled(module: module, pythonHome: pythonHome, pythonPaths: pythonPaths) else {
                throw ExpressError.badOption(
                    "--enable-telemetry requires the mod_wsgi-telemetry package in the application's Python (\(pythonHome)): install it with 'pip install mod_wsgi-telemetry'"
                )
            }
            t.telemetrySocket = Path.join(serverRoot, "telemetry/telemetry.sock")
            t.telemetryService = "unix:" + t.telemetrySocket!
        } else if let target = o.telemetryService {
            guard target.hasPrefix("unix:"), target.count > 5 else {
                throw ExpressError.badOption(
                    "--telemetry-service must be 'unix:/path' (remote 'udp:host:port' targets are no longer supported)")
            }
            guard target.utf8.count - 5 <= 107, !target.contains(where: { $0 == "'" || $0.isNewline || $0 == " " })
            else {
                throw ExpressError.badOption(
                    "--telemetry-service: '\(target)' is not a usable socket path (at most 107 bytes, no spaces or quotes)"
                )
            }
            t.telemetryService = target
        }
        if let s = o.slowRequests {
            guard s >= 0, s.isFinite else {
                throw ExpressError.badOption("--slow-requests threshold must be non-negative")
            }
            guard t.telemetryService != nil else {
                throw ExpressError.badOption("--slow-requests requires --telemetry-service (or --enable-telemetry)")
            }
            t.slowRequests = s
        }
        if !o.telemetryOptions.isEmpty && t.telemetryService == nil {
            throw ExpressError.badOption("--telemetry-options requires --telemetry-service (or --enable-telemetry)")
        }
        for v in o.telemetryOptions {
            for word in v.split(separator: " ") {
                let name = word.drop { $0 == "+" || $0 == "-" }.lowercased()
                guard ["captureuseragent", "none", "all"].contains(name) else {
                    throw ExpressError.badOption(
                        "--telemetry-options: unknown flag '\(word)' (known: CaptureUserAgent, None, All, with + or -)")
                }
            }
        }
        t.telemetryOptions = o.telemetryOptions
        return t
    }

    /// mod_wsgi/telemetry/server.py in the Python the application runs with.
    static func telemetryInstalled(module: ModuleInfo, pythonHome: String, pythonPaths: [String]) -> Bool {
        let v = module.pythonVersion ?? ""
        var dirs = pythonPaths
        for home in [pythonHome, PythonHome.base(ofVenv: pythonHome)].compactMap({ $0 }) {
            dirs += ["\(home)/lib/python\(v)/site-packages", "\(home)/lib/python\(v)/dist-packages"]
        }
        dirs += ["/usr/lib/python3/dist-packages", "/usr/local/lib/python\(v)/dist-packages"]
        return dirs.contains { Sys.isFile(Path.join($0, "mod_wsgi/telemetry/server.py")) }
    }

    /// The ingester's script (telemetry-service.py in the server root), as mod_wsgi-express 6.1.1 writes it.
    public func serviceScriptSource() -> String? {
        guard let socket = telemetrySocket else { return nil }
        return """
            # Written by mod_wsgi-express --enable-telemetry: runs the mod_wsgi-telemetry ingester and
            # web UI in a service daemon process (threads=0). The WSGI processes send to the socket
            # below (WSGITelemetryService in httpd.conf).

            from mod_wsgi.telemetry.server import main

            main([
                "--listen",    "unix:\(Quote.python(socket))",
                "--http-host", "127.0.0.1",
                "--http-port", "\(telemetryUIPort)",
                "--log-level", "INFO",
            ])

            """
    }

    func context() -> [String: Any] {
        [
            "applicationGroup": applicationGroup,
            "importHandler": applicationGroup == "%{GLOBAL}" || !applicationGroup.contains("%{"),
            "pythonWarnings": pythonWarnings.map { Quote.apache($0) },
            "responseFlushDelay": responseFlushDelay,
            "switchInterval": switchInterval.map { "\($0)" } ?? "",
            "freeThreading": freeThreading,
            "telemetryService": telemetryService ?? "",
            "telemetryInterval": "\(telemetryInterval)",
            "telemetryOptions": telemetryOptions,
            "slowRequests": slowRequests.map { "\($0)" } ?? "",
        ]
    }
}
