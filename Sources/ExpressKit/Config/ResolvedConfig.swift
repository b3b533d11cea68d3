public struct URLAlias: Equatable {
    public var url: String
    public var directory: String
    public var filename: String?
}

/// The server to set up: every option of `ServerOptions` resolved to a value, paths made
/// absolute, Apache/module/Python found. Rendering the templates needs nothing else.
public struct ResolvedConfig {
    public var command: String
    public var commandLine: String

    // application
    public var applicationType: String
    public var entryPoint: String
    public var isDefaultApplication: Bool
    public var callableObject: String
    public var callableObjectGiven: Bool
    public var mountPoint: String
    public var workingDirectory: String
    public var pythonPaths: [String]
    public var pythonHome: String
    public var pythonEggs: String
    public var documentRoot: String
    public var directoryIndex: String?
    public var directoryListing: Bool
    public var allowOverride: String
    public var urlAliases: [URLAlias]
    public var errorDocuments: [(status: String, document: String)]
    public var mapHEADToGET: String
    public var chunkedRequest: Bool
    public var enableSendfile: Bool
    public var setenv: [(name: String, value: String)]
    public var passenv: [String]
    public var locale: String
    public var disableReloading: Bool
    public var reloadOnChanges: Bool

    // server
    public var host: String
    public var listenerHost: String?
    public var port: Int
    public var serverName: String?
    public var serverAliases: [String]
    public var allowLocalhost: Bool
    public var http2: Bool
    public var serverRoot: String
    public var pidFile: String
    public var account: Account
    public var accountPicked: Bool
    public var includeFiles: [String]
    public var rewriteRules: String
    public var rewriteRulesGiven: Bool
    public var envvarsScript: String?
    public var keepAliveTimeout: Int
    /// --next-request-wait: milliseconds (WSGINextRequestWait; 0: off).
    public var nextRequestWait: Int
    public var limitRequestBody: Int
    public var requestReadTimeout: String
    public var serverBacklog: Int
    public var compressResponses: Bool
    public var serverStatus: Bool
    /// --host-access-script, --auth-*, --dispatch-script, --trust-proxy*.
    public var accessHooks: AccessHooks
    /// --server-metrics, --server-status, --metrics-url, --metrics-allow.
    public var metrics = MetricsSettings()
    /// mod_wsgi 6.1's interpreter and telemetry options (Config/InterpreterTelemetry.swift).
    public var interpreter = InterpreterTelemetrySettings()
    /// --drain-timeout, --drain-delay, --health-url, --health-allow.
    public var lifecycle = LifecycleSettings()

    // processes
    public var embeddedMode: Bool
    public var processes: Int
    public var threads: Int
    public var multiprocess: Bool
    public var mpm: String
    public var mpmPreference: [String]
    public var mpmSizing: MPMSizing
    public var daemon: DaemonSettings
    public var orphanInterpreter: Bool
    public var serviceScripts: [ServiceScript]

    // logging
    public var logDirectory: String
    public var logLevel: String
    public var logToTerminal: Bool
    public var errorLogFile: String
    public var accessLog: Bool
    public var accessLogFile: String
    public var accessLogFormat: String?
    public var logFormatNickname: String
    public var errorLogFormat: String?
    public var startupLogFile: String?
    public var rotateLogs: Bool
    public var maxLogSize: Int
    public var rotatelogs: String
    public var errorLogName: String
    public var accessLogName: String

    // apache
    public var apache: ApacheInstall
    public var mimeTypes: String
    public var shell: String
    public var processName: String
    public var setupOnly: Bool
    /// --isatty: run Apache as on a terminal (supervised child) even without one.
    public var assumeTerminal: Bool
    public var module: ModuleInfo
    public var httpdDefines: [String]

    // debugging
    public var debugMode: Bool
    public var enableDebugger: Bool
    public var debugTools: DebugTools

    public var url: String
    // HTTPS, proxying and the site-facing flags of issue 14 (set after the rest by `resolveSite`)
    public var https: HTTPSSettings? = nil
    public var proxy = ProxySettings()
    public var errorOverride = false
    /// --add-handler: (extension, absolute script path), served through resource.wsgi.
    public var handlerScripts: [(extension: String, script: String)] = []
    public var withCGI = false
    /// The shared libpython to `LoadFile` before the module, for a wheel's module (which does not
    /// name it in its DT_NEEDED); nil when the module loads it itself.
    public var pythonLibrary: String? = nil
    /// The HTTPS URL, printed only when HTTPS is really served.
    public var httpsURL: String? {
        guard let h = https else { return nil }
        let name = serverName ?? host
        return h.port == 443 ? "https://\(name)/" : "https://\(name):\(h.port)/"
    }
    public var httpdConf: String { Path.join(serverRoot, "httpd.conf") }
    public var daemonGroup: String { interpreter.processGroup ?? "\(host):\(port)" }
    public var operatingMode: String { debugMode ? "debug" : (embeddedMode ? "embedded" : "daemon") }
}
