import SystemCalls

/// Everything that stops mod_wsgi-express before Apache starts. Each message is one line
/// that says what is wrong and how to fix it; main prints it as `mod_wsgi-express: error: …`.

public enum ExpressError: Error, Equatable, CustomStringConvertible {
    case badOption(String)
    case notSupportedYet(option: String, reason: String)
    case notSupported(option: String, reason: String)
    case scriptMissing(String)
    /// `address`: where Apache would listen; `listeners`: what listens on the port already;
    /// `option`: the option that chose the port (--port, --https-port).
    case portInUse(port: Int, address: String, listeners: [String], option: String = "--port")
    case portForbidden(port: Int, address: String, option: String = "--port")
    case serverRootParentMissing(root: String, parent: String)
    case httpdNotFound(tried: String)
    case apxsNotFound
    case modulesDirectoryNotFound
    case moduleNotBuilt(looked: String)
    case mpmNotFound(directory: String, wanted: [String])
    case unknownUser(String)
    case unknownGroup(String)
    case unreadable(path: String, user: String, mode: UInt32, what: String)
    case pythonHomeMissing(String)
    case pythonVersionMismatch(home: String, homeVersion: String, moduleVersion: String)
    case pythonLibraryMissing(soname: String, base: String, looked: [String])
    case templatesNotFound(tried: [String])
    case templateError(name: String, detail: String)
    case unsafePath(path: String, problem: String)
    case io(SystemError)

    public var description: String {
        switch self {
        case .badOption(let m):
            return m
        case .notSupportedYet(let o, let reason):
            return "\(o) is not supported yet\(reason.isEmpty ? "" : " (\(reason))"); leave it out"
        case .notSupported(let o, let reason):
            return "\(o) is not supported: \(reason); leave it out"
        case .scriptMissing(let p):
            return "WSGI script '\(p)' does not exist: check the path (for a module name use --application-type module)"
        case .portInUse(let p, let address, let listeners, let option):
            let taken = listeners.isEmpty ? "" : " by \(listeners.joined(separator: ", "))"
            return
                "port \(p) is already in use\(taken), so Apache cannot listen on \(address): stop what is listening there or choose another \(option)"
        case .portForbidden(let p, let address, let option):
            return
                "not allowed to listen on port \(p) (\(address)): ports below 1024 need root; choose \(option) 1024 or above"
        case .serverRootParentMissing(let r, let parent):
            return
                "cannot create server root '\(r)': its parent directory '\(parent)' does not exist; create it first or choose another --server-root"
        case .httpdNotFound(let tried):
            return
                "Apache httpd not found (\(tried)): install the Debian package apache2 (apt-get install apache2) or pass --httpd-executable"
        case .apxsNotFound:
            return
                "apxs not found: install the Debian package apache2-dev (apt-get install apache2-dev) or pass --modules-directory"
        case .modulesDirectoryNotFound:
            return
                "Apache's modules directory not found: install the Debian packages apache2 and apache2-dev, or pass --modules-directory"
        case .moduleNotBuilt(let p):
            return
                "module not built: run `swift build -c release` (looked for \(p); or set MOD_WSGI_MODULE to the module's path)"
        case .mpmNotFound(let d, let w):
            return
                "no Apache MPM module (\(w.map { "mod_mpm_\($0).so" }.joined(separator: ", "))) in \(d): install the Debian package apache2 or pass --modules-directory"
        case .unknownUser(let u):
            return "user '\(u)' does not exist: pass an existing account with --user"
        case .unknownGroup(let g):
            return "group '\(g)' does not exist: pass an existing group with --group"
        case .unreadable(let p, let u, let mode, let what):
            let m = String(mode, radix: 8)
            return
                "\(what): '\(p)' (mode 0\(m)) is not readable by user '\(u)' that Apache runs as: move it somewhere readable, chmod it, or pass --user"
        case .pythonHomeMissing(let h):
            return "Python home '\(h)' does not exist: check --python-home or $VIRTUAL_ENV"
        case .pythonVersionMismatch(let h, let hv, let mv):
            return
                "Python home '\(h)' is Python \(hv) but the module was built for Python \(mv): use a Python \(mv) virtualenv, or rebuild the module with PYTHON_CONFIG=python\(hv)-config"
        case .pythonLibraryMissing(let soname, let base, let looked):
            // libpython3.11.so.1.0 -> libpython3.11, Debian's package of it.
            let package = soname.split(separator: ".").prefix(2).joined(separator: ".")
            return
                "the module needs Python's shared library \(soname), which is not in \(looked.joined(separator: ", ")) (the Python at '\(base)'): install it (Debian: apt-get install \(package)), or use a Python built with --enable-shared"
        case .templatesNotFound(let tried):
            return
                "templates directory not found (tried \(tried.joined(separator: ", "))): set MOD_WSGI_EXPRESS_TEMPLATES to the project's templates/ directory"
        case .templateError(let n, let d):
            return "template \(n) is broken: \(d)"
        case .unsafePath(let p, let problem):
            return "refusing to write into '\(p)': \(problem)"
        case .io(let e):
            return e.description
        }
    }
}
