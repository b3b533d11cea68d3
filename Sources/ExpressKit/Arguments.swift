// The options of mod_wsgi-express 4.9 start-server/setup-server: same names, forms and
// meanings. Every option parses; `status` says whether it is implemented (`.supported`),
// needs daemon mode (`.daemonMode`, refused while `Features.daemonModeAvailable` is false)
// or is not implemented yet (`.notYet`) -- those are refused, never silently ignored.
// Defaults live in `ServerConfig` (resolution), so a nil value here means 'not given'.
// Options taking two values (--url-alias URL PATH) are joined by `Argv.normalize` into one
// value separated by `Argv.pairSeparator` before swift-argument-parser sees them.
import ArgumentParser

public enum OptionStatus: Sendable { case supported, daemonMode, notYet }

/// Every long option with its kind and status, in mod_wsgi-express's order of sections.
public enum OptionTable {
    public enum Kind: Sendable { case flag, value, pair }
    public static let all: [(name: String, kind: Kind, status: OptionStatus)] = [
        ("--application-type", .value, .supported),
        ("--entry-point", .value, .supported),
        ("--callable-object", .value, .supported),
        ("--mount-point", .value, .supported),
        ("--working-directory", .value, .supported),
        ("--python-path", .value, .supported),
        ("--python-home", .value, .supported),
        ("--python-eggs", .value, .supported),
        ("--document-root", .value, .supported),
        ("--directory-index", .value, .supported),
        ("--directory-listing", .flag, .supported),
        ("--allow-override", .value, .supported),
        ("--url-alias", .pair, .supported),
        ("--error-document", .pair, .supported),
        ("--error-override", .flag, .notYet),
        ("--add-handler", .pair, .notYet),
        ("--map-head-to-get", .value, .supported),
        ("--chunked-request", .flag, .supported),
        ("--enable-sendfile", .flag, .supported),
        ("--setenv", .pair, .supported),
        ("--passenv", .value, .supported),
        ("--lang", .value, .supported),
        ("--locale", .value, .supported),
        ("--disable-reloading", .flag, .supported),
        ("--reload-on-changes", .flag, .daemonMode),
        ("--host", .value, .supported),
        ("--port", .value, .supported),
        ("--server-name", .value, .supported),
        ("--server-alias", .value, .supported),
        ("--allow-localhost", .flag, .supported),
        ("--http2", .flag, .supported),
        ("--https-port", .value, .notYet),
        ("--ssl-port", .value, .notYet),
        ("--ssl-certificate-file", .value, .notYet),
        ("--ssl-certificate-key-file", .value, .notYet),
        ("--ssl-certificate", .value, .notYet),
        ("--ssl-ca-certificate-file", .value, .notYet),
        ("--ssl-verify-client", .value, .notYet),
        ("--ssl-certificate-chain-file", .value, .notYet),
        ("--ssl-environment", .flag, .notYet),
        ("--https-only", .flag, .notYet),
        ("--hsts-policy", .value, .notYet),
        ("--server-root", .value, .supported),
        ("--pid-file", .value, .supported),
        ("--user", .value, .supported),
        ("--group", .value, .supported),
        ("--include-file", .value, .supported),
        ("--rewrite-rules", .value, .supported),
        ("--envvars-script", .value, .supported),
        ("--keep-alive-timeout", .value, .supported),
        ("--limit-request-body", .value, .supported),
        ("--header-timeout", .value, .supported),
        ("--header-max-timeout", .value, .supported),
        ("--header-min-rate", .value, .supported),
        ("--body-timeout", .value, .supported),
        ("--body-max-timeout", .value, .supported),
        ("--body-min-rate", .value, .supported),
        ("--server-backlog", .value, .supported),
        ("--compress-responses", .flag, .supported),
        ("--server-status", .flag, .supported),
        ("--server-metrics", .flag, .notYet),
        ("--proxy-mount-point", .pair, .notYet),
        ("--proxy-url-alias", .pair, .notYet),
        ("--proxy-virtual-host", .pair, .notYet),
        ("--trust-proxy-header", .value, .notYet),
        ("--trust-proxy", .value, .notYet),
        ("--host-access-script", .value, .notYet),
        ("--auth-user-script", .value, .notYet),
        ("--auth-type", .value, .notYet),
        ("--auth-group-script", .value, .notYet),
        ("--auth-group", .value, .notYet),
        ("--processes", .value, .supported),
        ("--threads", .value, .supported),
        ("--max-clients", .value, .daemonMode),
        ("--initial-workers", .value, .daemonMode),
        ("--minimum-spare-workers", .value, .daemonMode),
        ("--maximum-spare-workers", .value, .daemonMode),
        ("--embedded-mode", .flag, .supported),
        ("--server-mpm", .value, .supported),
        ("--maximum-requests", .value, .daemonMode),
        ("--startup-timeout", .value, .daemonMode),
        ("--shutdown-timeout", .value, .daemonMode),
        ("--restart-interval", .value, .daemonMode),
        ("--cpu-time-limit", .value, .daemonMode),
        ("--graceful-timeout", .value, .daemonMode),
        ("--eviction-timeout", .value, .daemonMode),
        ("--deadlock-timeout", .value, .daemonMode),
        ("--inactivity-timeout", .value, .daemonMode),
        ("--ignore-activity", .value, .daemonMode),
        ("--request-timeout", .value, .daemonMode),
        ("--connect-timeout", .value, .daemonMode),
        ("--socket-timeout", .value, .daemonMode),
        ("--queue-timeout", .value, .daemonMode),
        ("--daemon-backlog", .value, .daemonMode),
        ("--send-buffer-size", .value, .daemonMode),
        ("--receive-buffer-size", .value, .daemonMode),
        ("--header-buffer-size", .value, .daemonMode),
        ("--response-buffer-size", .value, .daemonMode),
        ("--response-socket-timeout", .value, .daemonMode),
        ("--socket-prefix", .value, .daemonMode),
        ("--orphan-interpreter", .flag, .supported),
        ("--service-script", .pair, .daemonMode),
        ("--service-user", .pair, .daemonMode),
        ("--service-group", .pair, .daemonMode),
        ("--service-log-file", .pair, .daemonMode),
        ("--log-directory", .value, .supported),
        ("--log-level", .value, .supported),
        ("--log-to-terminal", .flag, .supported),
        ("--access-log", .flag, .supported),
        ("--startup-log", .flag, .supported),
        ("--verbose-debugging", .flag, .notYet),
        ("--access-log-format", .value, .supported),
        ("--error-log-format", .value, .supported),
        ("--error-log-name", .value, .supported),
        ("--access-log-name", .value, .supported),
        ("--startup-log-name", .value, .supported),
        ("--rotate-logs", .flag, .supported),
        ("--max-log-size", .value, .supported),
        ("--rotatelogs-executable", .value, .supported),
        ("--httpd-executable", .value, .supported),
        ("--modules-directory", .value, .supported),
        ("--mime-types", .value, .supported),
        ("--shell-executable", .value, .supported),
        ("--process-name", .value, .supported),
        ("--with-cgi", .flag, .notYet),
        ("--with-php5", .flag, .notYet),
        ("--setup-only", .flag, .supported),
        ("--debug-mode", .flag, .supported),
        ("--enable-debugger", .flag, .supported),
        ("--debugger-startup", .flag, .notYet),
        ("--enable-coverage", .flag, .notYet),
        ("--coverage-directory", .value, .notYet),
        ("--enable-profiler", .flag, .notYet),
        ("--profiler-directory", .value, .notYet),
        ("--enable-recorder", .flag, .notYet),
        ("--recorder-directory", .value, .notYet),
        ("--enable-gdb", .flag, .notYet),
        ("--gdb-executable", .value, .notYet),
        ("--enable-docs", .flag, .notYet),
        ("--with-newrelic", .flag, .notYet),
        ("--with-newrelic-agent", .flag, .notYet),
        ("--with-newrelic-platform", .flag, .notYet),
        ("--newrelic-config-file", .value, .notYet),
        ("--newrelic-environment", .value, .notYet),
    ]
}

public struct ApplicationOptions: ParsableArguments {
    public init() {}
    @Option(name: .customLong("application-type"), help: ArgumentHelp("Entry point type: 'script' (a WSGI script file, the default), 'module' (a Python module to import) or 'static' (serve files only); 'paste' is not supported yet.", valueName: "TYPE"))
    public var applicationType: String?
    @Option(name: .customLong("entry-point"), help: ArgumentHelp("The WSGI script path or module name; same as the positional argument, and takes precedence over it.", valueName: "FILE-PATH|MODULE"))
    public var entryPoint: String?
    @Option(name: .customLong("callable-object"), help: ArgumentHelp("The name of the WSGI application object in the entry point. Defaults to 'application'.", valueName: "NAME"))
    public var callableObject: String?
    @Option(name: .customLong("mount-point"), help: ArgumentHelp("The URL path at which the WSGI application is mounted. Defaults to '/'.", valueName: "URL-PATH"))
    public var mountPoint: String?
    @Option(name: .customLong("working-directory"), help: ArgumentHelp("Current working directory of the application, also searched for modules. Defaults to the directory this command is run from.", valueName: "DIRECTORY-PATH"))
    public var workingDirectory: String?
    @Option(name: .customLong("python-path"), help: ArgumentHelp("A directory to add to the Python module search path (repeatable); '.pth' files in it are not processed.", valueName: "DIRECTORY-PATH"))
    public var pythonPath: [String] = []
    @Option(name: .customLong("python-home"), help: ArgumentHelp("The Python installation or virtual environment to run. Defaults to $VIRTUAL_ENV when set, else the Python the module was built for.", valueName: "DIRECTORY-PATH"))
    public var pythonHome: String?
    @Option(name: .customLong("python-eggs"), help: ArgumentHelp("Directory for unpacking Python eggs. Defaults to 'python-eggs' in the server root.", valueName: "DIRECTORY-PATH"))
    public var pythonEggs: String?
    @Option(name: .customLong("document-root"), help: ArgumentHelp("The directory of static files served before falling back to the application. Defaults to 'htdocs' in the server root.", valueName: "DIRECTORY-PATH"))
    public var documentRoot: String?
    @Option(name: .customLong("directory-index"), help: ArgumentHelp("A directory index file in the document root served for directory URLs instead of the application.", valueName: "FILE-NAME"))
    public var directoryIndex: String?
    @Flag(name: .customLong("directory-listing"), help: ArgumentHelp("Enable directory listings for the static application type when there is no directory index."))
    public var directoryListing: Bool = false
    @Option(name: .customLong("allow-override"), help: ArgumentHelp("Directive types a '.htaccess' file may override (repeatable). Defaults to 'None': '.htaccess' files are ignored.", valueName: "DIRECTIVE-TYPE"))
    public var allowOverride: [String] = []
    @Option(name: .customLong("url-alias"), help: ArgumentHelp("Map a static file or a directory of static files to a sub URL (repeatable).", valueName: "URL-PATH FILE-PATH|DIRECTORY-PATH"))
    public var urlAlias: [String] = []
    @Option(name: .customLong("error-document"), help: ArgumentHelp("Use a sub URL as the document for an HTTP error status generated by the server (repeatable).", valueName: "STATUS URL-PATH"))
    public var errorDocument: [String] = []
    @Flag(name: .customLong("error-override"), help: ArgumentHelp(notYetHelp("Let Apache error documents override application error responses.")))
    public var errorOverride: Bool = false
    @Option(name: .customLong("add-handler"), help: ArgumentHelp(notYetHelp("A WSGI script handling resources with the given extension in the document root."), valueName: "EXTENSION SCRIPT-PATH"))
    public var addHandler: [String] = []
    @Option(name: .customLong("map-head-to-get"), help: ArgumentHelp("Whether HEAD requests are mapped to GET. Defaults to 'Auto': only when an output filter needs the whole response.", valueName: "OFF|ON|AUTO"))
    public var mapHeadToGet: String?
    @Flag(name: .customLong("chunked-request"), help: ArgumentHelp("Accept request bodies sent with chunked transfer encoding."))
    public var chunkedRequest: Bool = false
    @Flag(name: .customLong("enable-sendfile"), help: ArgumentHelp("Enable sendfile() for file responses (wsgi.file_wrapper). Defaults to disabled."))
    public var enableSendfile: Bool = false
    @Option(name: .customLong("setenv"), help: ArgumentHelp("Add a name/value pair to every request's WSGI environ (repeatable).", valueName: "KEY VALUE"))
    public var setenv: [String] = []
    @Option(name: .customLong("passenv"), help: ArgumentHelp("Pass a process environment variable into every request's WSGI environ (repeatable).", valueName: "KEY"))
    public var passenv: [String] = []
    @Option(name: .customLong("lang"), help: ArgumentHelp("Same as --locale.", valueName: "NAME", visibility: .hidden))
    public var lang: String?
    @Option(name: .customLong("locale"), help: ArgumentHelp("The locale (LC_ALL) of the server processes. Defaults to this process's locale, with 'C'/'POSIX' upgraded to en_US.UTF-8 or C.UTF-8.", valueName: "NAME"))
    public var locale: String?
    @Flag(name: .customLong("disable-reloading"), help: ArgumentHelp("Never reload the application when its script changes (always so in embedded mode)."))
    public var disableReloading: Bool = false
    @Flag(name: .customLong("reload-on-changes"), help: ArgumentHelp(daemonHelp("Restart worker processes when any loaded Python file changes. Defaults to disabled.")))
    public var reloadOnChanges: Bool = false

    /// The options given on the command line, by name (for refusing unsupported ones).
    public var given: [String] {
        var r: [String] = []
        if applicationType != nil { r.append("--application-type") }
        if entryPoint != nil { r.append("--entry-point") }
        if callableObject != nil { r.append("--callable-object") }
        if mountPoint != nil { r.append("--mount-point") }
        if workingDirectory != nil { r.append("--working-directory") }
        if !pythonPath.isEmpty { r.append("--python-path") }
        if pythonHome != nil { r.append("--python-home") }
        if pythonEggs != nil { r.append("--python-eggs") }
        if documentRoot != nil { r.append("--document-root") }
        if directoryIndex != nil { r.append("--directory-index") }
        if directoryListing { r.append("--directory-listing") }
        if !allowOverride.isEmpty { r.append("--allow-override") }
        if !urlAlias.isEmpty { r.append("--url-alias") }
        if !errorDocument.isEmpty { r.append("--error-document") }
        if errorOverride { r.append("--error-override") }
        if !addHandler.isEmpty { r.append("--add-handler") }
        if mapHeadToGet != nil { r.append("--map-head-to-get") }
        if chunkedRequest { r.append("--chunked-request") }
        if enableSendfile { r.append("--enable-sendfile") }
        if !setenv.isEmpty { r.append("--setenv") }
        if !passenv.isEmpty { r.append("--passenv") }
        if lang != nil { r.append("--lang") }
        if locale != nil { r.append("--locale") }
        if disableReloading { r.append("--disable-reloading") }
        if reloadOnChanges { r.append("--reload-on-changes") }
        return r
    }

    /// Fast path (see `ServerArguments.fastParse`): every option unset.
    mutating func fastReset() {
        applicationType = nil
        entryPoint = nil
        callableObject = nil
        mountPoint = nil
        workingDirectory = nil
        pythonPath = []
        pythonHome = nil
        pythonEggs = nil
        documentRoot = nil
        directoryIndex = nil
        directoryListing = false
        allowOverride = []
        urlAlias = []
        errorDocument = []
        errorOverride = false
        addHandler = []
        mapHeadToGet = nil
        chunkedRequest = false
        enableSendfile = false
        setenv = []
        passenv = []
        lang = nil
        locale = nil
        disableReloading = false
        reloadOnChanges = false
    }

    /// Fast path: sets one option from its value; false when the name is not ours or the value is malformed.
    mutating func fastSet(_ name: String, _ value: String) -> Bool {
        switch name {
        case "--application-type": applicationType = value
        case "--entry-point": entryPoint = value
        case "--callable-object": callableObject = value
        case "--mount-point": mountPoint = value
        case "--working-directory": workingDirectory = value
        case "--python-path": pythonPath.append(value)
        case "--python-home": pythonHome = value
        case "--python-eggs": pythonEggs = value
        case "--document-root": documentRoot = value
        case "--directory-index": directoryIndex = value
        case "--directory-listing": directoryListing = true
        case "--allow-override": allowOverride.append(value)
        case "--url-alias": urlAlias.append(value)
        case "--error-document": errorDocument.append(value)
        case "--error-override": errorOverride = true
        case "--add-handler": addHandler.append(value)
        case "--map-head-to-get": mapHeadToGet = value
        case "--chunked-request": chunkedRequest = true
        case "--enable-sendfile": enableSendfile = true
        case "--setenv": setenv.append(value)
        case "--passenv": passenv.append(value)
        case "--lang": lang = value
        case "--locale": locale = value
        case "--disable-reloading": disableReloading = true
        case "--reload-on-changes": reloadOnChanges = true
        default: return false
        }
        return true
    }
}

public struct ServerOptions: ParsableArguments {
    public init() {}
    @Option(name: .customLong("host"), help: ArgumentHelp("The IP address to accept requests on. Defaults to all interfaces.", valueName: "IP-ADDRESS"))
    public var host: String?
    @Option(name: .customLong("port"), help: ArgumentHelp("The port to accept requests on. Defaults to 8000.", valueName: "NUMBER"))
    public var port: Int?
    @Option(name: .customLong("server-name"), help: ArgumentHelp("The primary host name of the site (a name-based virtual host); a 'www.' name also redirects the parent domain.", valueName: "HOSTNAME"))
    public var serverName: String?
    @Option(name: .customLong("server-alias"), help: ArgumentHelp("A secondary host name of the site, may include wildcards (repeatable).", valueName: "HOSTNAME"))
    public var serverAlias: [String] = []
    @Flag(name: .customLong("allow-localhost"), help: ArgumentHelp("Still accept requests for localhost when --server-name is given."))
    public var allowLocalhost: Bool = false
    @Flag(name: .customLong("http2"), help: ArgumentHelp("Enable HTTP/2 (needs mod_http2)."))
    public var http2: Bool = false
    @Option(name: .customLong("https-port"), help: ArgumentHelp(notYetHelp("The port to accept HTTPS requests on."), valueName: "NUMBER"))
    public var httpsPort: Int?
    @Option(name: .customLong("ssl-port"), help: ArgumentHelp(notYetHelp("Same as --https-port."), valueName: "NUMBER", visibility: .hidden))
    public var sslPort: Int?
    @Option(name: .customLong("ssl-certificate-file"), help: ArgumentHelp(notYetHelp("Path of the SSL certificate file."), valueName: "FILE-PATH"))
    public var sslCertificateFile: String?
    @Option(name: .customLong("ssl-certificate-key-file"), help: ArgumentHelp(notYetHelp("Path of the SSL certificate's private key file."), valueName: "FILE-PATH"))
    public var sslCertificateKeyFile: String?
    @Option(name: .customLong("ssl-certificate"), help: ArgumentHelp(notYetHelp("Common path of the SSL certificate files, without their '.crt' and '.key' extensions."), valueName: "FILE-PATH"))
    public var sslCertificate: String?
    @Option(name: .customLong("ssl-ca-certificate-file"), help: ArgumentHelp(notYetHelp("Path of the CA certificates used for client authentication."), valueName: "FILE-PATH"))
    public var sslCaCertificateFile: String?
    @Option(name: .customLong("ssl-verify-client"), help: ArgumentHelp(notYetHelp("A sub URL requiring client authentication (repeatable)."), valueName: "URL-PATH"))
    public var sslVerifyClient: [String] = []
    @Option(name: .customLong("ssl-certificate-chain-file"), help: ArgumentHelp(notYetHelp("Path of the certificate chain of the server certificate."), valueName: "FILE-PATH"))
    public var sslCertificateChainFile: String?
    @Flag(name: .customLong("ssl-environment"), help: ArgumentHelp(notYetHelp("Pass the standard SSL variables in each request's environ.")))
    public var sslEnvironment: Bool = false
    @Flag(name: .customLong("https-only"), help: ArgumentHelp(notYetHelp("Redirect HTTP requests to HTTPS.")))
    public var httpsOnly: Bool = false
    @Option(name: .customLong("hsts-policy"), help: ArgumentHelp(notYetHelp("The HSTS policy applied with --https-only."), valueName: "PARAMS"))
    public var hstsPolicy: String?
    @Option(name: .customLong("server-root"), help: ArgumentHelp("Where the generated configuration, scripts and logs go. Defaults to $TMPDIR/mod_wsgi-<host>:<port>:<uid> (TMPDIR defaults to /tmp).", valueName: "DIRECTORY-PATH"))
    public var serverRoot: String?
    @Option(name: .customLong("pid-file"), help: ArgumentHelp("The file holding the process ID of the Apache parent. Defaults to 'httpd.pid' in the server root.", valueName: "FILE-PATH"))
    public var pidFile: String?
    @Option(name: .customLong("user"), help: ArgumentHelp("When run as root, the user the server processes run as. Defaults to www-data (else nobody); otherwise the current user.", valueName: "USERNAME"))
    public var user: String?
    @Option(name: .customLong("group"), help: ArgumentHelp("When run as root, the group the server processes run as. Defaults to www-data (else nogroup); otherwise the current group.", valueName: "GROUP"))
    public var group: String?
    @Option(name: .customLong("include-file"), help: ArgumentHelp("An Apache configuration file included at the end of the generated one (repeatable).", valueName: "FILE-PATH"))
    public var includeFile: [String] = []
    @Option(name: .customLong("rewrite-rules"), help: ArgumentHelp("A file of mod_rewrite rules for the document root. Defaults to 'rewrite.conf' in the server root.", valueName: "FILE-PATH"))
    public var rewriteRules: String?
    @Option(name: .customLong("envvars-script"), help: ArgumentHelp("A shell script of environment variables sourced before Apache starts. Defaults to 'envvars' in the server root.", valueName: "FILE-PATH"))
    public var envvarsScript: String?
    @Option(name: .customLong("keep-alive-timeout"), help: ArgumentHelp("Seconds a keep-alive client connection is kept open; 0 disables keep-alive. Defaults to 2.", valueName: "SECONDS"))
    public var keepAliveTimeout: Int?
    @Option(name: .customLong("limit-request-body"), help: ArgumentHelp("The maximum size of a request body in bytes. Defaults to 10485760 (10MB).", valueName: "NUMBER"))
    public var limitRequestBody: Int?
    @Option(name: .customLong("header-timeout"), help: ArgumentHelp("Seconds allowed to receive the request headers. Defaults to 15.", valueName: "SECONDS"))
    public var headerTimeout: Int?
    @Option(name: .customLong("header-max-timeout"), help: ArgumentHelp("Hard limit in seconds for receiving the request headers. Defaults to 30.", valueName: "SECONDS"))
    public var headerMaxTimeout: Int?
    @Option(name: .customLong("header-min-rate"), help: ArgumentHelp("Bytes of headers that extend the header timeout by one second. Defaults to 500.", valueName: "BYTES"))
    public var headerMinRate: Int?
    @Option(name: .customLong("body-timeout"), help: ArgumentHelp("Seconds allowed to receive the request body. Defaults to 15.", valueName: "SECONDS"))
    public var bodyTimeout: Int?
    @Option(name: .customLong("body-max-timeout"), help: ArgumentHelp("Hard limit in seconds for receiving the request body. Defaults to 0 (no limit).", valueName: "SECONDS"))
    public var bodyMaxTimeout: Int?
    @Option(name: .customLong("body-min-rate"), help: ArgumentHelp("Bytes of body that extend the body timeout by one second. Defaults to 500.", valueName: "BYTES"))
    public var bodyMinRate: Int?
    @Option(name: .customLong("server-backlog"), help: ArgumentHelp("Listen backlog of the server socket. Defaults to 500.", valueName: "NUMBER"))
    public var serverBacklog: Int?
    @Flag(name: .customLong("compress-responses"), help: ArgumentHelp("Compress text responses (plain text, HTML, XML, CSS, JavaScript, JSON)."))
    public var compressResponses: Bool = false
    @Flag(name: .customLong("server-status"), help: ArgumentHelp("Serve Apache's status page at /server-status (from localhost only). Defaults to disabled."))
    public var serverStatus: Bool = false
    @Flag(name: .customLong("server-metrics"), help: ArgumentHelp(notYetHelp("Make internal server metrics available to the application. Defaults to disabled.")))
    public var serverMetrics: Bool = false
    @Option(name: .customLong("proxy-mount-point"), help: ArgumentHelp(notYetHelp("Proxy a sub URL of the site to another URL."), valueName: "URL-PATH URL"))
    public var proxyMountPoint: [String] = []
    @Option(name: .customLong("proxy-url-alias"), help: ArgumentHelp(notYetHelp("Same as --proxy-mount-point."), valueName: "URL-PATH URL", visibility: .hidden))
    public var proxyUrlAlias: [String] = []
    @Option(name: .customLong("proxy-virtual-host"), help: ArgumentHelp(notYetHelp("Proxy requests for a host name to another URL."), valueName: "HOSTNAME URL"))
    public var proxyVirtualHost: [String] = []
    @Option(name: .customLong("trust-proxy-header"), help: ArgumentHelp(notYetHelp("A trusted HTTP header describing the front-end request when proxied (repeatable)."), valueName: "HEADER-NAME"))
    public var trustProxyHeader: [String] = []
    @Option(name: .customLong("trust-proxy"), help: ArgumentHelp(notYetHelp("The address or subnet of a trusted proxy (repeatable)."), valueName: "IP-ADDRESS/SUBNET"))
    public var trustProxy: [String] = []
    @Option(name: .customLong("host-access-script"), help: ArgumentHelp(notYetHelp("A Python script performing host access checks."), valueName: "SCRIPT-PATH"))
    public var hostAccessScript: String?
    @Option(name: .customLong("auth-user-script"), help: ArgumentHelp(notYetHelp("A Python script performing user authentication."), valueName: "SCRIPT-PATH"))
    public var authUserScript: String?
    @Option(name: .customLong("auth-type"), help: ArgumentHelp(notYetHelp("Authentication scheme: 'Basic' (the default) or 'Digest'."), valueName: "TYPE"))
    public var authType: String?
    @Option(name: .customLong("auth-group-script"), help: ArgumentHelp(notYetHelp("A Python script performing group authorization."), valueName: "SCRIPT-PATH"))
    public var authGroupScript: String?
    @Option(name: .customLong("auth-group"), help: ArgumentHelp(notYetHelp("The group users must belong to with --auth-group-script. Defaults to 'wsgi'."), valueName: "NAME"))
    public var authGroup: String?

    /// The options given on the command line, by name (for refusing unsupported ones).
    public var given: [String] {
        var r: [String] = []
        if host != nil { r.append("--host") }
        if port != nil { r.append("--port") }
        if serverName != nil { r.append("--server-name") }
        if !serverAlias.isEmpty { r.append("--server-alias") }
        if allowLocalhost { r.append("--allow-localhost") }
        if http2 { r.append("--http2") }
        if httpsPort != nil { r.append("--https-port") }
        if sslPort != nil { r.append("--ssl-port") }
        if sslCertificateFile != nil { r.append("--ssl-certificate-file") }
        if sslCertificateKeyFile != nil { r.append("--ssl-certificate-key-file") }
        if sslCertificate != nil { r.append("--ssl-certificate") }
        if sslCaCertificateFile != nil { r.append("--ssl-ca-certificate-file") }
        if !sslVerifyClient.isEmpty { r.append("--ssl-verify-client") }
        if sslCertificateChainFile != nil { r.append("--ssl-certificate-chain-file") }
        if sslEnvironment { r.append("--ssl-environment") }
        if httpsOnly { r.append("--https-only") }
        if hstsPolicy != nil { r.append("--hsts-policy") }
        if serverRoot != nil { r.append("--server-root") }
        if pidFile != nil { r.append("--pid-file") }
        if user != nil { r.append("--user") }
        if group != nil { r.append("--group") }
        if !includeFile.isEmpty { r.append("--include-file") }
        if rewriteRules != nil { r.append("--rewrite-rules") }
        if envvarsScript != nil { r.append("--envvars-script") }
        if keepAliveTimeout != nil { r.append("--keep-alive-timeout") }
        if limitRequestBody != nil { r.append("--limit-request-body") }
        if headerTimeout != nil { r.append("--header-timeout") }
        if headerMaxTimeout != nil { r.append("--header-max-timeout") }
        if headerMinRate != nil { r.append("--header-min-rate") }
        if bodyTimeout != nil { r.append("--body-timeout") }
        if bodyMaxTimeout != nil { r.append("--body-max-timeout") }
        if bodyMinRate != nil { r.append("--body-min-rate") }
        if serverBacklog != nil { r.append("--server-backlog") }
        if compressResponses { r.append("--compress-responses") }
        if serverStatus { r.append("--server-status") }
        if serverMetrics { r.append("--server-metrics") }
        if !proxyMountPoint.isEmpty { r.append("--proxy-mount-point") }
        if !proxyUrlAlias.isEmpty { r.append("--proxy-url-alias") }
        if !proxyVirtualHost.isEmpty { r.append("--proxy-virtual-host") }
        if !trustProxyHeader.isEmpty { r.append("--trust-proxy-header") }
        if !trustProxy.isEmpty { r.append("--trust-proxy") }
        if hostAccessScript != nil { r.append("--host-access-script") }
        if authUserScript != nil { r.append("--auth-user-script") }
        if authType != nil { r.append("--auth-type") }
        if authGroupScript != nil { r.append("--auth-group-script") }
        if authGroup != nil { r.append("--auth-group") }
        return r
    }

    /// Fast path (see `ServerArguments.fastParse`): every option unset.
    mutating func fastReset() {
        host = nil
        port = nil
        serverName = nil
        serverAlias = []
        allowLocalhost = false
        http2 = false
        httpsPort = nil
        sslPort = nil
        sslCertificateFile = nil
        sslCertificateKeyFile = nil
        sslCertificate = nil
        sslCaCertificateFile = nil
        sslVerifyClient = []
        sslCertificateChainFile = nil
        sslEnvironment = false
        httpsOnly = false
        hstsPolicy = nil
        serverRoot = nil
        pidFile = nil
        user = nil
        group = nil
        includeFile = []
        rewriteRules = nil
        envvarsScript = nil
        keepAliveTimeout = nil
        limitRequestBody = nil
        headerTimeout = nil
        headerMaxTimeout = nil
        headerMinRate = nil
        bodyTimeout = nil
        bodyMaxTimeout = nil
        bodyMinRate = nil
        serverBacklog = nil
        compressResponses = false
        serverStatus = false
        serverMetrics = false
        proxyMountPoint = []
        proxyUrlAlias = []
        proxyVirtualHost = []
        trustProxyHeader = []
        trustProxy = []
        hostAccessScript = nil
        authUserScript = nil
        authType = nil
        authGroupScript = nil
        authGroup = nil
    }

    /// Fast path: sets one option from its value; false when the name is not ours or the value is malformed.
    mutating func fastSet(_ name: String, _ value: String) -> Bool {
        switch name {
        case "--host": host = value
        case "--port": guard let v = Int(value) else { return false }; port = v
        case "--server-name": serverName = value
        case "--server-alias": serverAlias.append(value)
        case "--allow-localhost": allowLocalhost = true
        case "--http2": http2 = true
        case "--https-port": guard let v = Int(value) else { return false }; httpsPort = v
        case "--ssl-port": guard let v = Int(value) else { return false }; sslPort = v
        case "--ssl-certificate-file": sslCertificateFile = value
        case "--ssl-certificate-key-file": sslCertificateKeyFile = value
        case "--ssl-certificate": sslCertificate = value
        case "--ssl-ca-certificate-file": sslCaCertificateFile = value
        case "--ssl-verify-client": sslVerifyClient.append(value)
        case "--ssl-certificate-chain-file": sslCertificateChainFile = value
        case "--ssl-environment": sslEnvironment = true
        case "--https-only": httpsOnly = true
        case "--hsts-policy": hstsPolicy = value
        case "--server-root": serverRoot = value
        case "--pid-file": pidFile = value
        case "--user": user = value
        case "--group": group = value
        case "--include-file": includeFile.append(value)
        case "--rewrite-rules": rewriteRules = value
        case "--envvars-script": envvarsScript = value
        case "--keep-alive-timeout": guard let v = Int(value) else { return false }; keepAliveTimeout = v
        case "--limit-request-body": guard let v = Int(value) else { return false }; limitRequestBody = v
        case "--header-timeout": guard let v = Int(value) else { return false }; headerTimeout = v
        case "--header-max-timeout": guard let v = Int(value) else { return false }; headerMaxTimeout = v
        case "--header-min-rate": guard let v = Int(value) else { return false }; headerMinRate = v
        case "--body-timeout": guard let v = Int(value) else { return false }; bodyTimeout = v
        case "--body-max-timeout": guard let v = Int(value) else { return false }; bodyMaxTimeout = v
        case "--body-min-rate": guard let v = Int(value) else { return false }; bodyMinRate = v
        case "--server-backlog": guard let v = Int(value) else { return false }; serverBacklog = v
        case "--compress-responses": compressResponses = true
        case "--server-status": serverStatus = true
        case "--server-metrics": serverMetrics = true
        case "--proxy-mount-point": proxyMountPoint.append(value)
        case "--proxy-url-alias": proxyUrlAlias.append(value)
        case "--proxy-virtual-host": proxyVirtualHost.append(value)
        case "--trust-proxy-header": trustProxyHeader.append(value)
        case "--trust-proxy": trustProxy.append(value)
        case "--host-access-script": hostAccessScript = value
        case "--auth-user-script": authUserScript = value
        case "--auth-type": authType = value
        case "--auth-group-script": authGroupScript = value
        case "--auth-group": authGroup = value
        default: return false
        }
        return true
    }
}

public struct ProcessOptions: ParsableArguments {
    public init() {}
    @Option(name: .customLong("processes"), help: ArgumentHelp("The number of processes handling requests. Defaults to 1.", valueName: "NUMBER"))
    public var processes: Int?
    @Option(name: .customLong("threads"), help: ArgumentHelp("The number of request threads in each process. Defaults to 5.", valueName: "NUMBER"))
    public var threads: Int?
    @Option(name: .customLong("max-clients"), help: ArgumentHelp(daemonHelp("Maximum simultaneous client connections. Defaults to 1.5 times processes x threads; ignored in embedded mode."), valueName: "NUMBER"))
    public var maxClients: Int?
    @Option(name: .customLong("initial-workers"), help: ArgumentHelp(daemonHelp("Workers created at start-up, as a fraction (0 to 1) of max clients; ignored in embedded mode."), valueName: "NUMBER"))
    public var initialWorkers: Double?
    @Option(name: .customLong("minimum-spare-workers"), help: ArgumentHelp(daemonHelp("Minimum spare workers, as a fraction (0 to 1) of max clients; ignored in embedded mode."), valueName: "NUMBER"))
    public var minimumSpareWorkers: Double?
    @Option(name: .customLong("maximum-spare-workers"), help: ArgumentHelp(daemonHelp("Maximum spare workers, as a fraction (0 to 1) of max clients; ignored in embedded mode."), valueName: "NUMBER"))
    public var maximumSpareWorkers: Double?
    @Flag(name: .customLong("embedded-mode"), help: ArgumentHelp("Run the application inside the Apache child processes instead of daemon processes (worker MPM, fixed processes x threads)."))
    public var embeddedMode: Bool = false
    @Option(name: .customLong("server-mpm"), help: ArgumentHelp("A preferred Apache MPM: event, worker or prefork (repeatable, in order of preference). Defaults to event, worker, prefork.", valueName: "NAME"))
    public var serverMpm: [String] = []
    @Option(name: .customLong("maximum-requests"), help: ArgumentHelp(daemonHelp("Restart a worker process after this many requests. Defaults to 0 (never)."), valueName: "NUMBER"))
    public var maximumRequests: Int?
    @Option(name: .customLong("startup-timeout"), help: ArgumentHelp(daemonHelp("Seconds allowed for the application to load before the process restarts. Defaults to 15."), valueName: "SECONDS"))
    public var startupTimeout: Int?
    @Option(name: .customLong("shutdown-timeout"), help: ArgumentHelp(daemonHelp("Seconds a worker process may take to shut down before it is killed. Defaults to 5."), valueName: "SECONDS"))
    public var shutdownTimeout: Int?
    @Option(name: .customLong("restart-interval"), help: ArgumentHelp(daemonHelp("Restart worker processes every this many seconds. Not enabled by default."), valueName: "SECONDS"))
    public var restartInterval: Int?
    @Option(name: .customLong("cpu-time-limit"), help: ArgumentHelp(daemonHelp("Restart a worker process after this much CPU time. Not enabled by default."), valueName: "SECONDS"))
    public var cpuTimeLimit: Int?
    @Option(name: .customLong("graceful-timeout"), help: ArgumentHelp(daemonHelp("Grace period for active requests when a worker process restarts. Defaults to 15."), valueName: "SECONDS"))
    public var gracefulTimeout: Int?
    @Option(name: .customLong("eviction-timeout"), help: ArgumentHelp(daemonHelp("Grace period for active requests on a forced graceful restart. Defaults to --graceful-timeout."), valueName: "SECONDS"))
    public var evictionTimeout: Int?
    @Option(name: .customLong("deadlock-timeout"), help: ArgumentHelp(daemonHelp("Restart a worker process whose Python GIL is deadlocked this long. Defaults to 60."), valueName: "SECONDS"))
    public var deadlockTimeout: Int?
    @Option(name: .customLong("inactivity-timeout"), help: ArgumentHelp(daemonHelp("Restart an idle worker process after this many seconds. Not enabled by default."), valueName: "SECONDS"))
    public var inactivityTimeout: Int?
    @Option(name: .customLong("ignore-activity"), help: ArgumentHelp(daemonHelp("A URL (a health check, say) whose requests do not count as activity (repeatable)."), valueName: "URL-PATH"))
    public var ignoreActivity: [String] = []
    @Option(name: .customLong("request-timeout"), help: ArgumentHelp(daemonHelp("Restart a worker process when requests take longer than this (averaged over threads). Defaults to 60."), valueName: "SECONDS"))
    public var requestTimeout: Int?
    @Option(name: .customLong("connect-timeout"), help: ArgumentHelp(daemonHelp("Seconds allowed to connect to a daemon process. Defaults to 15."), valueName: "SECONDS"))
    public var connectTimeout: Int?
    @Option(name: .customLong("socket-timeout"), help: ArgumentHelp(daemonHelp("Seconds allowed for a read or write on the daemon socket. Defaults to 60."), valueName: "SECONDS"))
    public var socketTimeout: Int?
    @Option(name: .customLong("queue-timeout"), help: ArgumentHelp(daemonHelp("Seconds a request may wait for a daemon process. Defaults to 45."), valueName: "SECONDS"))
    public var queueTimeout: Int?
    @Option(name: .customLong("daemon-backlog"), help: ArgumentHelp(daemonHelp("Listen backlog of the daemon process sockets. Defaults to 100."), valueName: "NUMBER"))
    public var daemonBacklog: Int?
    @Option(name: .customLong("send-buffer-size"), help: ArgumentHelp(daemonHelp("Send buffer size of daemon sockets. Defaults to 0 (system default)."), valueName: "NUMBER"))
    public var sendBufferSize: Int?
    @Option(name: .customLong("receive-buffer-size"), help: ArgumentHelp(daemonHelp("Receive buffer size of daemon sockets. Defaults to 0 (system default)."), valueName: "NUMBER"))
    public var receiveBufferSize: Int?
    @Option(name: .customLong("header-buffer-size"), help: ArgumentHelp(daemonHelp("Buffer size for response headers from daemon processes. Defaults to 0 (32768 bytes)."), valueName: "NUMBER"))
    public var headerBufferSize: Int?
    @Option(name: .customLong("response-buffer-size"), help: ArgumentHelp(daemonHelp("Response bytes buffered from a daemon process. Defaults to 0 (65536 bytes)."), valueName: "NUMBER"))
    public var responseBufferSize: Int?
    @Option(name: .customLong("response-socket-timeout"), help: ArgumentHelp(daemonHelp("Seconds allowed to write a buffered response to the client. Defaults to 0 (--socket-timeout)."), valueName: "SECONDS"))
    public var responseSocketTimeout: Int?
    @Option(name: .customLong("socket-prefix"), help: ArgumentHelp(daemonHelp("Path prefix of the daemon processes' UNIX sockets. Defaults to 'wsgi' in the server root."), valueName: "DIRECTORY-PATH"))
    public var socketPrefix: String?
    @Flag(name: .customLong("orphan-interpreter"), help: ArgumentHelp("Skip destroying the Python interpreter when a process shuts down."))
    public var orphanInterpreter: Bool = false
    @Option(name: .customLong("service-script"), help: ArgumentHelp(daemonHelp("A Python script run as a managed service in its own daemon process (repeatable)."), valueName: "SERVICE SCRIPT-PATH"))
    public var serviceScript: [String] = []
    @Option(name: .customLong("service-user"), help: ArgumentHelp(daemonHelp("When run as root, the user a managed service runs as."), valueName: "SERVICE USERNAME"))
    public var serviceUser: [String] = []
    @Option(name: .customLong("service-group"), help: ArgumentHelp(daemonHelp("When run as root, the group a managed service runs as."), valueName: "SERVICE GROUP"))
    public var serviceGroup: [String] = []
    @Option(name: .customLong("service-log-file"), help: ArgumentHelp(daemonHelp("A separate log file for a managed service."), valueName: "SERVICE FILE-NAME"))
    public var serviceLogFile: [String] = []

    /// The options given on the command line, by name (for refusing unsupported ones).
    public var given: [String] {
        var r: [String] = []
        if processes != nil { r.append("--processes") }
        if threads != nil { r.append("--threads") }
        if maxClients != nil { r.append("--max-clients") }
        if initialWorkers != nil { r.append("--initial-workers") }
        if minimumSpareWorkers != nil { r.append("--minimum-spare-workers") }
        if maximumSpareWorkers != nil { r.append("--maximum-spare-workers") }
        if embeddedMode { r.append("--embedded-mode") }
        if !serverMpm.isEmpty { r.append("--server-mpm") }
        if maximumRequests != nil { r.append("--maximum-requests") }
        if startupTimeout != nil { r.append("--startup-timeout") }
        if shutdownTimeout != nil { r.append("--shutdown-timeout") }
        if restartInterval != nil { r.append("--restart-interval") }
        if cpuTimeLimit != nil { r.append("--cpu-time-limit") }
        if gracefulTimeout != nil { r.append("--graceful-timeout") }
        if evictionTimeout != nil { r.append("--eviction-timeout") }
        if deadlockTimeout != nil { r.append("--deadlock-timeout") }
        if inactivityTimeout != nil { r.append("--inactivity-timeout") }
        if !ignoreActivity.isEmpty { r.append("--ignore-activity") }
        if requestTimeout != nil { r.append("--request-timeout") }
        if connectTimeout != nil { r.append("--connect-timeout") }
        if socketTimeout != nil { r.append("--socket-timeout") }
        if queueTimeout != nil { r.append("--queue-timeout") }
        if daemonBacklog != nil { r.append("--daemon-backlog") }
        if sendBufferSize != nil { r.append("--send-buffer-size") }
        if receiveBufferSize != nil { r.append("--receive-buffer-size") }
        if headerBufferSize != nil { r.append("--header-buffer-size") }
        if responseBufferSize != nil { r.append("--response-buffer-size") }
        if responseSocketTimeout != nil { r.append("--response-socket-timeout") }
        if socketPrefix != nil { r.append("--socket-prefix") }
        if orphanInterpreter { r.append("--orphan-interpreter") }
        if !serviceScript.isEmpty { r.append("--service-script") }
        if !serviceUser.isEmpty { r.append("--service-user") }
        if !serviceGroup.isEmpty { r.append("--service-group") }
        if !serviceLogFile.isEmpty { r.append("--service-log-file") }
        return r
    }

    /// Fast path (see `ServerArguments.fastParse`): every option unset.
    mutating func fastReset() {
        processes = nil
        threads = nil
        maxClients = nil
        initialWorkers = nil
        minimumSpareWorkers = nil
        maximumSpareWorkers = nil
        embeddedMode = false
        serverMpm = []
        maximumRequests = nil
        startupTimeout = nil
        shutdownTimeout = nil
        restartInterval = nil
        cpuTimeLimit = nil
        gracefulTimeout = nil
        evictionTimeout = nil
        deadlockTimeout = nil
        inactivityTimeout = nil
        ignoreActivity = []
        requestTimeout = nil
        connectTimeout = nil
        socketTimeout = nil
        queueTimeout = nil
        daemonBacklog = nil
        sendBufferSize = nil
        receiveBufferSize = nil
        headerBufferSize = nil
        responseBufferSize = nil
        responseSocketTimeout = nil
        socketPrefix = nil
        orphanInterpreter = false
        serviceScript = []
        serviceUser = []
        serviceGroup = []
        serviceLogFile = []
    }

    /// Fast path: sets one option from its value; false when the name is not ours or the value is malformed.
    mutating func fastSet(_ name: String, _ value: String) -> Bool {
        switch name {
        case "--processes": guard let v = Int(value) else { return false }; processes = v
        case "--threads": guard let v = Int(value) else { return false }; threads = v
        case "--max-clients": guard let v = Int(value) else { return false }; maxClients = v
        case "--initial-workers": guard let v = Double(value) else { return false }; initialWorkers = v
        case "--minimum-spare-workers": guard let v = Double(value) else { return false }; minimumSpareWorkers = v
        case "--maximum-spare-workers": guard let v = Double(value) else { return false }; maximumSpareWorkers = v
        case "--embedded-mode": embeddedMode = true
        case "--server-mpm": serverMpm.append(value)
        case "--maximum-requests": guard let v = Int(value) else { return false }; maximumRequests = v
        case "--startup-timeout": guard let v = Int(value) else { return false }; startupTimeout = v
        case "--shutdown-timeout": guard let v = Int(value) else { return false }; shutdownTimeout = v
        case "--restart-interval": guard let v = Int(value) else { return false }; restartInterval = v
        case "--cpu-time-limit": guard let v = Int(value) else { return false }; cpuTimeLimit = v
        case "--graceful-timeout": guard let v = Int(value) else { return false }; gracefulTimeout = v
        case "--eviction-timeout": guard let v = Int(value) else { return false }; evictionTimeout = v
        case "--deadlock-timeout": guard let v = Int(value) else { return false }; deadlockTimeout = v
        case "--inactivity-timeout": guard let v = Int(value) else { return false }; inactivityTimeout = v
        case "--ignore-activity": ignoreActivity.append(value)
        case "--request-timeout": guard let v = Int(value) else { return false }; requestTimeout = v
        case "--connect-timeout": guard let v = Int(value) else { return false }; connectTimeout = v
        case "--socket-timeout": guard let v = Int(value) else { return false }; socketTimeout = v
        case "--queue-timeout": guard let v = Int(value) else { return false }; queueTimeout = v
        case "--daemon-backlog": guard let v = Int(value) else { return false }; daemonBacklog = v
        case "--send-buffer-size": guard let v = Int(value) else { return false }; sendBufferSize = v
        case "--receive-buffer-size": guard let v = Int(value) else { return false }; receiveBufferSize = v
        case "--header-buffer-size": guard let v = Int(value) else { return false }; headerBufferSize = v
        case "--response-buffer-size": guard let v = Int(value) else { return false }; responseBufferSize = v
        case "--response-socket-timeout": guard let v = Int(value) else { return false }; responseSocketTimeout = v
        case "--socket-prefix": socketPrefix = value
        case "--orphan-interpreter": orphanInterpreter = true
        case "--service-script": serviceScript.append(value)
        case "--service-user": serviceUser.append(value)
        case "--service-group": serviceGroup.append(value)
        case "--service-log-file": serviceLogFile.append(value)
        default: return false
        }
        return true
    }
}

public struct LoggingOptions: ParsableArguments {
    public init() {}
    @Option(name: .customLong("log-directory"), help: ArgumentHelp("Where log files go; overrides --log-to-terminal. Defaults to the server root.", valueName: "DIRECTORY-PATH"))
    public var logDirectory: String?
    @Option(name: .customLong("log-level"), help: ArgumentHelp("Apache's log level: emerg, alert, crit, error, warn, notice, info, debug or trace1-8. Defaults to 'warn'.", valueName: "NAME"))
    public var logLevel: String?
    @Flag(name: .customLong("log-to-terminal"), help: ArgumentHelp("Send the logs to the terminal (stderr/stdout) instead of files. Defaults to disabled."))
    public var logToTerminal: Bool = false
    @Flag(name: .customLong("access-log"), help: ArgumentHelp("Enable the access log. Defaults to disabled."))
    public var accessLog: Bool = false
    @Flag(name: .customLong("startup-log"), help: ArgumentHelp("Enable the Apache start-up log. Defaults to disabled."))
    public var startupLog: Bool = false
    @Flag(name: .customLong("verbose-debugging"), help: ArgumentHelp(notYetHelp("Verbose mod_wsgi debug logging."), visibility: .hidden))
    public var verboseDebugging: Bool = false
    @Option(name: .customLong("access-log-format"), help: ArgumentHelp("The access log format: 'common' (the default), 'combined' or an Apache LogFormat string.", valueName: "FORMAT"))
    public var accessLogFormat: String?
    @Option(name: .customLong("error-log-format"), help: ArgumentHelp("The error log format (an Apache ErrorLogFormat string).", valueName: "FORMAT"))
    public var errorLogFormat: String?
    @Option(name: .customLong("error-log-name"), help: ArgumentHelp("File name of the error log in the log directory. Defaults to 'error_log'.", valueName: "FILE-NAME"))
    public var errorLogName: String?
    @Option(name: .customLong("access-log-name"), help: ArgumentHelp("File name of the access log in the log directory. Defaults to 'access_log'.", valueName: "FILE-NAME"))
    public var accessLogName: String?
    @Option(name: .customLong("startup-log-name"), help: ArgumentHelp("File name of the start-up log in the log directory. Defaults to 'startup_log'.", valueName: "FILE-NAME"))
    public var startupLogName: String?
    @Flag(name: .customLong("rotate-logs"), help: ArgumentHelp("Rotate the log files with rotatelogs."))
    public var rotateLogs: Bool = false
    @Option(name: .customLong("max-log-size"), help: ArgumentHelp("Size in MB at which log files are rotated. Defaults to 5.", valueName: "MB"))
    public var maxLogSize: Int?
    @Option(name: .customLong("rotatelogs-executable"), help: ArgumentHelp("Path of the rotatelogs program. Defaults to the one next to httpd, or /usr/bin/rotatelogs.", valueName: "FILE-PATH"))
    public var rotatelogsExecutable: String?

    /// The options given on the command line, by name (for refusing unsupported ones).
    public var given: [String] {
        var r: [String] = []
        if logDirectory != nil { r.append("--log-directory") }
        if logLevel != nil { r.append("--log-level") }
        if logToTerminal { r.append("--log-to-terminal") }
        if accessLog { r.append("--access-log") }
        if startupLog { r.append("--startup-log") }
        if verboseDebugging { r.append("--verbose-debugging") }
        if accessLogFormat != nil { r.append("--access-log-format") }
        if errorLogFormat != nil { r.append("--error-log-format") }
        if errorLogName != nil { r.append("--error-log-name") }
        if accessLogName != nil { r.append("--access-log-name") }
        if startupLogName != nil { r.append("--startup-log-name") }
        if rotateLogs { r.append("--rotate-logs") }
        if maxLogSize != nil { r.append("--max-log-size") }
        if rotatelogsExecutable != nil { r.append("--rotatelogs-executable") }
        return r
    }

    /// Fast path (see `ServerArguments.fastParse`): every option unset.
    mutating func fastReset() {
        logDirectory = nil
        logLevel = nil
        logToTerminal = false
        accessLog = false
        startupLog = false
        verboseDebugging = false
        accessLogFormat = nil
        errorLogFormat = nil
        errorLogName = nil
        accessLogName = nil
        startupLogName = nil
        rotateLogs = false
        maxLogSize = nil
        rotatelogsExecutable = nil
    }

    /// Fast path: sets one option from its value; false when the name is not ours or the value is malformed.
    mutating func fastSet(_ name: String, _ value: String) -> Bool {
        switch name {
        case "--log-directory": logDirectory = value
        case "--log-level": logLevel = value
        case "--log-to-terminal": logToTerminal = true
        case "--access-log": accessLog = true
        case "--startup-log": startupLog = true
        case "--verbose-debugging": verboseDebugging = true
        case "--access-log-format": accessLogFormat = value
        case "--error-log-format": errorLogFormat = value
        case "--error-log-name": errorLogName = value
        case "--access-log-name": accessLogName = value
        case "--startup-log-name": startupLogName = value
        case "--rotate-logs": rotateLogs = true
        case "--max-log-size": guard let v = Int(value) else { return false }; maxLogSize = v
        case "--rotatelogs-executable": rotatelogsExecutable = value
        default: return false
        }
        return true
    }
}

public struct ApacheOptions: ParsableArguments {
    public init() {}
    @Option(name: .customLong("httpd-executable"), help: ArgumentHelp("Path of the Apache executable. Defaults to $HTTPD, else what apxs reports (Debian: /usr/sbin/apache2).", valueName: "FILE-PATH"))
    public var httpdExecutable: String?
    @Option(name: .customLong("modules-directory"), help: ArgumentHelp("Apache's modules directory. Defaults to what apxs reports (Debian: /usr/lib/apache2/modules).", valueName: "DIRECTORY-PATH"))
    public var modulesDirectory: String?
    @Option(name: .customLong("mime-types"), help: ArgumentHelp("Path of the MIME types file. Defaults to /etc/mime.types.", valueName: "FILE-PATH"))
    public var mimeTypes: String?
    @Option(name: .customLong("shell-executable"), help: ArgumentHelp("The shell running the 'apachectl' script. Defaults to bash.", valueName: "FILE-PATH"))
    public var shellExecutable: String?
    @Option(name: .customLong("process-name"), help: ArgumentHelp("The name of the Apache parent process. Defaults to '<httpd> (mod_wsgi-express)'.", valueName: "NAME"))
    public var processName: String?
    @Flag(name: .customLong("with-cgi"), help: ArgumentHelp(notYetHelp("Run executable '.cgi' files in the document root as CGI scripts.")))
    public var withCgi: Bool = false
    @Flag(name: .customLong("with-php5"), help: ArgumentHelp(notYetHelp("Enable PHP 5 (prefork MPM)."), visibility: .hidden))
    public var withPhp5: Bool = false
    @Flag(name: .customLong("setup-only"), help: ArgumentHelp("Only write the configuration, then exit; start Apache later with the generated 'apachectl'."))
    public var setupOnly: Bool = false

    /// The options given on the command line, by name (for refusing unsupported ones).
    public var given: [String] {
        var r: [String] = []
        if httpdExecutable != nil { r.append("--httpd-executable") }
        if modulesDirectory != nil { r.append("--modules-directory") }
        if mimeTypes != nil { r.append("--mime-types") }
        if shellExecutable != nil { r.append("--shell-executable") }
        if processName != nil { r.append("--process-name") }
        if withCgi { r.append("--with-cgi") }
        if withPhp5 { r.append("--with-php5") }
        if setupOnly { r.append("--setup-only") }
        return r
    }

    /// Fast path (see `ServerArguments.fastParse`): every option unset.
    mutating func fastReset() {
        httpdExecutable = nil
        modulesDirectory = nil
        mimeTypes = nil
        shellExecutable = nil
        processName = nil
        withCgi = false
        withPhp5 = false
        setupOnly = false
    }

    /// Fast path: sets one option from its value; false when the name is not ours or the value is malformed.
    mutating func fastSet(_ name: String, _ value: String) -> Bool {
        switch name {
        case "--httpd-executable": httpdExecutable = value
        case "--modules-directory": modulesDirectory = value
        case "--mime-types": mimeTypes = value
        case "--shell-executable": shellExecutable = value
        case "--process-name": processName = value
        case "--with-cgi": withCgi = true
        case "--with-php5": withPhp5 = true
        case "--setup-only": setupOnly = true
        default: return false
        }
        return true
    }
}

public struct DebugOptions: ParsableArguments {
    public init() {}
    @Flag(name: .customLong("debug-mode"), help: ArgumentHelp("Run a single Apache process in the foreground with stdin attached, so an interactive debugger (pdb) works."))
    public var debugMode: Bool = false
    @Flag(name: .customLong("enable-debugger"), help: ArgumentHelp("In debug mode, enter pdb post-mortem on exceptions escaping the application (implies --debug-mode)."))
    public var enableDebugger: Bool = false
    @Flag(name: .customLong("debugger-startup"), help: ArgumentHelp(notYetHelp("With --enable-debugger, also enter the debugger at start-up to set breakpoints.")))
    public var debuggerStartup: Bool = false
    @Flag(name: .customLong("enable-coverage"), help: ArgumentHelp(notYetHelp("Collect coverage in debug mode.")))
    public var enableCoverage: Bool = false
    @Option(name: .customLong("coverage-directory"), help: ArgumentHelp(notYetHelp("Where coverage reports are written in debug mode."), valueName: "DIRECTORY-PATH"))
    public var coverageDirectory: String?
    @Flag(name: .customLong("enable-profiler"), help: ArgumentHelp(notYetHelp("Profile the code in debug mode.")))
    public var enableProfiler: Bool = false
    @Option(name: .customLong("profiler-directory"), help: ArgumentHelp(notYetHelp("Where profiler data is written in debug mode."), valueName: "DIRECTORY-PATH"))
    public var profilerDirectory: String?
    @Flag(name: .customLong("enable-recorder"), help: ArgumentHelp(notYetHelp("Record requests in debug mode.")))
    public var enableRecorder: Bool = false
    @Option(name: .customLong("recorder-directory"), help: ArgumentHelp(notYetHelp("Where recorded requests are written in debug mode."), valueName: "DIRECTORY-PATH"))
    public var recorderDirectory: String?
    @Flag(name: .customLong("enable-gdb"), help: ArgumentHelp(notYetHelp("Run Apache under gdb in debug mode.")))
    public var enableGdb: Bool = false
    @Option(name: .customLong("gdb-executable"), help: ArgumentHelp(notYetHelp("Path of gdb. Defaults to 'gdb'."), valueName: "FILE-PATH"))
    public var gdbExecutable: String?
    @Flag(name: .customLong("enable-docs"), help: ArgumentHelp(notYetHelp("Serve the mod_wsgi documentation at /__wsgi__/docs.")))
    public var enableDocs: Bool = false
    @Flag(name: .customLong("with-newrelic"), help: ArgumentHelp(notYetHelp("New Relic agent and platform."), visibility: .hidden))
    public var withNewrelic: Bool = false
    @Flag(name: .customLong("with-newrelic-agent"), help: ArgumentHelp(notYetHelp("New Relic agent."), visibility: .hidden))
    public var withNewrelicAgent: Bool = false
    @Flag(name: .customLong("with-newrelic-platform"), help: ArgumentHelp(notYetHelp("New Relic platform."), visibility: .hidden))
    public var withNewrelicPlatform: Bool = false
    @Option(name: .customLong("newrelic-config-file"), help: ArgumentHelp(notYetHelp("New Relic configuration file."), valueName: "FILE-PATH", visibility: .hidden))
    public var newrelicConfigFile: String?
    @Option(name: .customLong("newrelic-environment"), help: ArgumentHelp(notYetHelp("New Relic environment."), valueName: "NAME", visibility: .hidden))
    public var newrelicEnvironment: String?

    /// The options given on the command line, by name (for refusing unsupported ones).
    public var given: [String] {
        var r: [String] = []
        if debugMode { r.append("--debug-mode") }
        if enableDebugger { r.append("--enable-debugger") }
        if debuggerStartup { r.append("--debugger-startup") }
        if enableCoverage { r.append("--enable-coverage") }
        if coverageDirectory != nil { r.append("--coverage-directory") }
        if enableProfiler { r.append("--enable-profiler") }
        if profilerDirectory != nil { r.append("--profiler-directory") }
        if enableRecorder { r.append("--enable-recorder") }
        if recorderDirectory != nil { r.append("--recorder-directory") }
        if enableGdb { r.append("--enable-gdb") }
        if gdbExecutable != nil { r.append("--gdb-executable") }
        if enableDocs { r.append("--enable-docs") }
        if withNewrelic { r.append("--with-newrelic") }
        if withNewrelicAgent { r.append("--with-newrelic-agent") }
        if withNewrelicPlatform { r.append("--with-newrelic-platform") }
        if newrelicConfigFile != nil { r.append("--newrelic-config-file") }
        if newrelicEnvironment != nil { r.append("--newrelic-environment") }
        return r
    }

    /// Fast path (see `ServerArguments.fastParse`): every option unset.
    mutating func fastReset() {
        debugMode = false
        enableDebugger = false
        debuggerStartup = false
        enableCoverage = false
        coverageDirectory = nil
        enableProfiler = false
        profilerDirectory = nil
        enableRecorder = false
        recorderDirectory = nil
        enableGdb = false
        gdbExecutable = nil
        enableDocs = false
        withNewrelic = false
        withNewrelicAgent = false
        withNewrelicPlatform = false
        newrelicConfigFile = nil
        newrelicEnvironment = nil
    }

    /// Fast path: sets one option from its value; false when the name is not ours or the value is malformed.
    mutating func fastSet(_ name: String, _ value: String) -> Bool {
        switch name {
        case "--debug-mode": debugMode = true
        case "--enable-debugger": enableDebugger = true
        case "--debugger-startup": debuggerStartup = true
        case "--enable-coverage": enableCoverage = true
        case "--coverage-directory": coverageDirectory = value
        case "--enable-profiler": enableProfiler = true
        case "--profiler-directory": profilerDirectory = value
        case "--enable-recorder": enableRecorder = true
        case "--recorder-directory": recorderDirectory = value
        case "--enable-gdb": enableGdb = true
        case "--gdb-executable": gdbExecutable = value
        case "--enable-docs": enableDocs = true
        case "--with-newrelic": withNewrelic = true
        case "--with-newrelic-agent": withNewrelicAgent = true
        case "--with-newrelic-platform": withNewrelicPlatform = true
        case "--newrelic-config-file": newrelicConfigFile = value
        case "--newrelic-environment": newrelicEnvironment = value
        default: return false
        }
        return true
    }
}
