// Checks a certificate and its private key the way mod_ssl will load them, before Apache
// starts. OpenSSL's libcrypto is opened at run time (it is what mod_ssl links against, so it
// is there whenever HTTPS can work); nothing is loaded unless HTTPS is asked for.
#if canImport(Glibc)
import Glibc
#endif

enum Certificates {
    /// The file exists and this process can read it (Apache's parent reads it as this user).
    static func checkReadable(_ path: String, option: String) throws {
        guard Sys.exists(path) else {
            throw ExpressError.badOption("\(option): '\(path)' does not exist")
        }
        guard Sys.isFile(path) else {
            throw ExpressError.badOption("\(option): '\(path)' is not a file")
        }
        guard access(path, R_OK) == 0 else {
            throw ExpressError.badOption("\(option): '\(path)' is not readable: check its permissions")
        }
    }

    static func check(certificate: String, key: String, certificateOption: String, keyOption: String) throws {
        try checkReadable(certificate, option: certificateOption)
        try checkReadable(key, option: keyOption)
        guard let crypto = LibCrypto.shared else { return }  // mod_ssl itself will report
        guard let x509 = crypto.readCertificate(certificate) else {
            throw ExpressError.badOption("\(certificateOption): '\(certificate)' is not a PEM certificate")
        }
        defer { crypto.freeCertificate(x509) }
        // A key protected by a pass phrase is for Apache's pass phrase dialog: not opened here.
        if let text = Sys.readFile(key, limit: 65536),
            String(decoding: text, as: UTF8.self).contains("ENCRYPTED")
        {
            return
        }
        guard let pkey = crypto.readPrivateKey(key) else {
            throw ExpressError.badOption("\(keyOption): '\(key)' is not a PEM private key")
        }
        defer { crypto.freeKey(pkey) }
        guard crypto.keyMatches(x509, pkey) else {
            throw ExpressError.badOption(
                "\(keyOption): '\(key)' is not the private key of the certificate '\(certificate)'")
        }
    }
}

/// The handful of libcrypto (OpenSSL 1.1/3) functions the check needs.
final class LibCrypto: @unchecked Sendable {
    typealias NewFile = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>) -> OpaquePointer?
    typealias ReadX509 =
        @convention(c) (OpaquePointer?, OpaquePointer?, OpaquePointer?, UnsafeMutableRawPointer?) -> OpaquePointer?
    typealias PasswordCallback =
        @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32
    typealias ReadKey =
        @convention(c) (OpaquePointer?, OpaquePointer?, PasswordCallback?, UnsafeMutableRawPointer?) -> OpaquePointer?
    typealias Free = @convention(c) (OpaquePointer?) -> Void
    typealias FreeInt = @convention(c) (OpaquePointer?) -> Int32
    typealias Check = @convention(c) (OpaquePointer?, OpaquePointer?) -> Int32

    let newFile: NewFile, readX509: ReadX509, readKey: ReadKey
    let bioFree: FreeInt, x509Free: Free, keyFree: Free, checkKey: Check

    static let shared: LibCrypto? = LibCrypto()

    private init?() {
        var handle: UnsafeMutableRawPointer?
        for name: String in ["libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so"] where handle == nil {
            handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)
        }
        guard let h = handle else { return nil }
        func sym<T>(_ name: String, _: T.Type) -> T? {
            dlsym(h, name).map { unsafeBitCast($0, to: T.self) }
        }
        guard let a = sym("BIO_new_file", NewFile.self), let b = sym("PEM_read_bio_X509", ReadX509.self),
            let c = sym("PEM_read_bio_PrivateKey", ReadKey.self), let d = sym("BIO_free", FreeInt.self),
            let e = sym("X509_free", Free.self), let f = sym("EVP_PKEY_free", Free.self),
            let g = sym("X509_check_private_key", Check.self)
        else { return nil }
        (newFile, readX509, readKey, bioFree, x509Free, keyFree, checkKey) = (a, b, c, d, e, f, g)
    }

    private func withFile<T>(_ path: String, _ body: (OpaquePointer) -> T?) -> T? {
        guard let bio = newFile(path, "r") else { return nil }
        defer { _ = bioFree(bio) }
        return body(bio)
    }

    func readCertificate(_ path: String) -> OpaquePointer? { withFile(path) { readX509($0, nil, nil, nil) } }

    /// Never prompts: a key needing a pass phrase fails to read.
    func readPrivateKey(_ path: String) -> OpaquePointer? {
        withFile(path) { readKey($0, nil, { _, _, _, _ in 0 }, nil) }
    }

    func keyMatches(_ x509: OpaquePointer, _ key: OpaquePointer) -> Bool { checkKey(x509, key) == 1 }
    func freeCertificate(_ x: OpaquePointer) { x509Free(x) }
    func freeKey(_ k: OpaquePointer) { keyFree(k) }
}
