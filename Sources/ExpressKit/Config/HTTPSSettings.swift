// --https-port and the --ssl-* options, resolved and checked before anything is written, so
// a bad certificate is one line here instead of an Apache that does not start (or, as in
// mod_wsgi-express 4.9, an HTTPS URL printed for a port nobody listens on).

/// What the HTTPS listener serves with. Paths are absolute.
public struct HTTPSSettings: Equatable {
    public var port: Int
    public var certificateFile: String
    public var keyFile: String
    public var chainFile: String?
    /// Client certificates: the CA file, and the sub URLs requiring one (longest first).
    public var caCertificateFile: String?
    public var verifyClient: [String]
    /// `SSLOptions +StdEnvVars`: SSL_* variables in the environ.
    public var environment: Bool
    /// HTTP redirects to HTTPS; `hstsPolicy` is sent over HTTPS only then.
    public var only: Bool
    public var hstsPolicy: String?
}

extension HTTPSSettings {
    /// The options that only mean something with --https-port.
    static let dependentOptions = [
        "--ssl-certificate-file", "--ssl-certificate-key-file", "--ssl-certificate",
        "--ssl-ca-certificate-file", "--ssl-verify-client", "--ssl-certificate-chain-file",
        "--ssl-environment", "--https-only", "--hsts-policy",
    ]

    /// nil when HTTPS is not asked for; throws the first problem with what was asked.
    static func resolve(_ o: ServerOptions, httpPort: Int, cwd: String) throws -> HTTPSSettings? {
        func abs(_ p: String) -> String { Path.absolute(p, cwd: cwd) }
        guard let port = o.httpsPort else {
            if let given = dependentOptions.first(where: o.isGiven) {
                throw ExpressError.badOption(
                    "\(given) needs --https-port: give the port to serve HTTPS on (e.g. --https-port 8443)")
            }
            return nil
        }
        guard (1...65535).contains(port) else {
            throw ExpressError.badOption("--https-port must be between 1 and 65535, not \(port)")
        }
        guard port != httpPort else {
            throw ExpressError.badOption("--https-port \(port) is also the HTTP --port: choose two different ports")
        }
        var certificate = o.sslCertificateFile.map(abs)
        var key = o.sslCertificateKeyFile.map(abs)
        if let prefix = o.sslCertificate.map(abs) {
            certificate = certificate ?? prefix + ".crt"
            key = key ?? prefix + ".key"
        }
        guard let certificate else {
            throw ExpressError.badOption(
                "--https-port needs a certificate: pass --ssl-certificate-file and --ssl-certificate-key-file, or --ssl-certificate PREFIX (PREFIX.crt and PREFIX.key)"
            )
        }
        guard let key else {
            throw ExpressError.badOption(
                "--ssl-certificate-file needs its private key: pass --ssl-certificate-key-file")
        }
        let chain = o.sslCertificateChainFile.map(abs)
        let ca = o.sslCACertificateFile.map(abs)
        if !o.sslVerifyClient.isEmpty && ca == nil {
            throw ExpressError.badOption(
                "--ssl-verify-client needs --ssl-ca-certificate-file: the CA that signs the client certificates")
        }
        for p in o.sslVerifyClient where !p.hasPrefix("/") {
            throw ExpressError.badOption("--ssl-verify-client takes a URL path starting with '/', not '\(p)'")
        }
        if o.hstsPolicy != nil && !o.httpsOnly {
            throw ExpressError.badOption(
                "--hsts-policy is sent only with --https-only: add --https-only or leave --hsts-policy out")
        }
        try Certificates.check(
            certificate: certificate, key: key,
            certificateOption: o.sslCertificate != nil && o.sslCertificateFile == nil
                ? "--ssl-certificate" : "--ssl-certificate-file",
            keyOption: o.sslCertificate != nil && o.sslCertificateKeyFile == nil
                ? "--ssl-certificate" : "--ssl-certificate-key-file")
        if let chain { try Certificates.checkReadable(chain, option: "--ssl-certificate-chain-file") }
        if let ca { try Certificates.checkReadable(ca, option: "--ssl-ca-certificate-file") }
        let verify = ca == nil ? [] : (o.sslVerifyClient.isEmpty ? ["/"] : o.sslVerifyClient.sorted(by: >))
        return HTTPSSettings(
            port: port, certificateFile: certificate, keyFile: key, chainFile: chain,
            caCertificateFile: ca, verifyClient: verify, environment: o.sslEnvironment,
            only: o.httpsOnly, hstsPolicy: o.hstsPolicy)
    }
}
