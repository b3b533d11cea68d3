/// What the command line of start-server/setup-server said: one property per implemented
/// option (refused options land nowhere), filled by the rows of `OptionTable`. A property's
/// initial value is the option's default (the table and --list-options-json read it from
/// here); an optional one is nil when the option was not given and its default is computed
/// when the configuration is resolved (from the server root, the environment, ...).
public struct ServerOptions: Equatable, Sendable {
    public init() {}

    /// The positional argument: the WSGI script, module or directory.
    public var script: String?

    /// Indexes into `OptionTable.all` of the options given, each once.
    var givenRows: Set<Int> = []

    /// The options given on the command line, in table order.
    public var given: [String] {
        OptionTable.all.indices.filter { givenRows.contains($0) }.map { OptionTable.all[$0].name }
    }

    public func isGiven(_ name: String) -> Bool {
        OptionTable.index[name].map { givenRows.contains($0) } ?? false
    }

    // application
    public var applicationType: String = "script"
    public var entryPoint: String?
    public var callableObject: String = "application"
    public var mountPoint: String = "/"
    public var workingDirectory: String?
    public var pythonPaths: [String] = []
    public var pythonHome: String?
    public var pythonEggs: String?
    public var documentRoot: String?
    public var directoryIndex: String?
    public var directoryListing: Bool = false
    public var allowOverrides: [String] = []
    public var urlAliases: [OptionPair] = []
    public var errorDocuments: [OptionPair] = []
    public var mapHEADToGET: String = "Auto"
    public var chunkedRequest: Bool = false
    public var enableSendfile: Bool = false
    public var setenv: [OptionPair] = []
    public var passenv: [String] = []
    public var lang: String?
    public var locale: String?
    public var disableReloading: Bool = false
    public var reloadOnChanges: Bool = false

    // server
    public var host: String?
    public var port: Int = 8000
    public var serverName: String?
    public var serverAliases: [String] = []
    public var allowLocalhost: Bool = false
    public var http2: Bool = false
    public var serverRoot: String?
    public var pidFile: String?
    public var user: String?
    public var group: String?
    public var includeFiles: [String] = []
    public var rewriteRules: String?
    public var envvarsScript: String?
    public var keepAliveTimeout: Int = 2
    public var nextRequestWait: Int = 2
    public var limitRequestBody: Int = 10_485_760
    public var headerTimeout: Int = 15
    public var headerMaxTimeout: Int = 30
    public var headerMinRate: Int = 500
    public var bodyTimeout: Int = 15
    public var bodyMaxTimeout: Int = 0
    public var bodyMinRate: Int = 500
    public var serverBacklog: Int = 500
    public var compressResponses: Bool = false
    public var serverStatus: Bool = false
    public var serverMetrics: Bool = false
    public var metricsURL: String?
    public var metricsAllow: [String] = []
    // drain and health (issue 24)
    public var drainTimeout: Int?
    public var drainDelay: Int = 0
    public var healthURL: String?
    public var healthAllow: [String] = []
    // access, authentication, dispatch and trusted-proxy hooks
    public var trustProxyHeaders: [String] = []
    public var trustProxies: [String] = []
    public var hostAccessScript: String?
    public var authUserScript: String?
    public var authType: String = "Basic"
    public var authGroupScript: String?
    public var authGroup: String = "wsgi"
    public var dispatchScript: String?

    // server: HTTPS and proxying (issue 14)
    public var httpsPort: Int?
    public var sslCertificateFile: String?
    public var sslCertificateKeyFile: String?
    public var sslCertificate: String?
    public var sslCACertificateFile: String?
    public var sslVerifyClient: [String] = []
    public var sslCertificateChainFile: String?
    public var sslEnvironment: Bool = false
    public var httpsOnly: Bool = false
    public var hstsPolicy: String?
    public var proxyMountPoints: [OptionPair] = []
    public var proxyVirtualHosts: [OptionPair] = []
    public var proxyTimeout: Int?

    // application and apache: site-facing flags (issue 14)
    public var errorOverride: Bool = false
    public var handlerScripts: [OptionPair] = []
    public var withCGI: Bool = false

    // processes
    public var processes: Int = 1
    public var threads: Int = 5
    public var maxClients: Int?
    public var initialWorkers: Double?
    public var minimumSpareWorkers: Double?
    public var maximumSpareWorkers: Double?
    public var embeddedMode: Bool = false
    public var serverMPMs: [String] = []
    public var maximumRequests: Int = 0
    public var startupTimeout: Int = 15
    public var shutdownTimeout: Int = 5
    public var restartInterval: Int = 0
    public var cpuTimeLimit: Int = 0
    public var gracefulTimeout: Int = 15
    public var evictionTimeout: Int = 0
    public var deadlockTimeout: Int = 60
    public var inactivityTimeout: Int = 0
    public var ignoreActivity: [String] = []
    public var requestTimeout: Int = 60
    public var interruptTimeout: Int = 0
    /// --python-executable (ours): auto, off or a path; nil is auto.
    public var pythonExecutable: String?
    /// --python-threads (ours): how many threads of a daemon process run requests at once.
    public var pythonThreads: Int?
    public var connectTimeout: Int = 15
    public var socketTimeout: Int = 60
    public var queueTimeout: Int = 45
    public var daemonBacklog: Int = 100
    public var sendBufferSize: Int = 0
    public var receiveBufferSize: Int = 0
    public var headerBufferSize: Int = 0
    public var responseBufferSize: Int = 0
    public var responseSocketTimeout: Int = 0
    public var socketPrefix: String?
    public var orphanInterpreter: Bool = false
    public var serviceScripts: [OptionPair] = []
    public var serviceUsers: [OptionPair] = []
    public var serviceGroups: [OptionPair] = []
    public var serviceLogFiles: [OptionPair] = []
    // mod_wsgi 6.1 (Config/InterpreterTelemetry.swift)
    public var applicationGroup: String?
    public var processGroup: String?
    public var pythonWarnings: [String] = []
    public var responseFlushDelay: Int = 5
    public var switchInterval: Double?
    public var freeThreading: Bool = false
    public var slowRequests: Double?
    public var telemetryService: String?
    public var telemetryInterval: Double = 1.0
    public var telemetryOptions: [String] = []
    public var enableTelemetry: Bool = false
    public var telemetryUIPort: Int = 8888

    // logging
    public var logDirectory: String?
    public var logLevel: String = "warn"
    public var logToTerminal: Bool = false
    public var accessLog: Bool = false
    public var startupLog: Bool = false
    public var accessLogFormat: String?
    public var errorLogFormat: String?
    public var errorLogName: String = "error_log"
    public var accessLogName: String = "access_log"
    public var startupLogName: String = "startup_log"
    public var rotateLogs: Bool = false
    public var maxLogSize: Int = 5
    public var rotatelogsExecutable: String?

    // apache
    public var httpdExecutable: String?
    public var modulesDirectory: String?
    public var mimeTypes: String = "/etc/mime.types"
    public var shellExecutable: String?
    public var processName: String?
    public var isatty: Bool = false
    public var setupOnly: Bool = false

    // debugging
    public var debugMode: Bool = false
    public var enableDebugger: Bool = false
    public var debuggerStartup: Bool = false
    public var enableCoverage: Bool = false
    public var coverageDirectory: String?
    public var enableProfiler: Bool = false
    public var profilerDirectory: String?
    public var enableRecorder: Bool = false
    public var recorderDirectory: String?
    public var enableGdb: Bool = false
    public var gdbExecutable: String?
}
