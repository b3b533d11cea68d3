// Finding Apache, the module and Python without running anything: `apxs -q` is a Perl script
// (14 ms here) and Python takes 20 ms to start, more than setup-server's whole budget, so we
// read the files they would read instead.

/// Apache's build configuration as `apxs -q` reports it, read from apxs's config_vars.mk.
public struct ApxsConfig: Equatable {
    public var apxs: String
    public var vars: [String: String]

    /// Finds apxs ($APXS, then PATH, then the usual places) and reads its configuration.
    public static func find(environment env: [String: String]) -> ApxsConfig? {
        var candidates: [String] = []
        if let a = env["APXS"], !a.isEmpty { return Sys.isFile(a) ? load(apxs: a) : nil }  // an explicit choice
        for dir in (env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            candidates.append(Path.join(String(dir), "apxs"))
            candidates.append(Path.join(String(dir), "apxs2"))
        }
        candidates += ["/usr/bin/apxs", "/usr/sbin/apxs", "/usr/local/apache2/bin/apxs"]
        for c in candidates where Sys.isFile(c) {
            if let cfg = load(apxs: c) { return cfg }
        }
        return nil
    }

    static func load(apxs: String) -> ApxsConfig? {
        // apxs is a Perl script; its build directory is on a line like
        //   my $installbuilddir = "/usr/share/apache2/build";
        guard let script = Sys.readFile(apxs, limit: 16384) else { return nil }
        let key = Array("$installbuilddir".utf8)
        var buildDir: String?
        for line in script.split(separator: 0x0A) where line.count > key.count {
            guard let k = line.firstRange(of: key), line[k.upperBound...].contains(0x3D) else { continue }
            let quoted = line[k.upperBound...].split(separator: 0x22, omittingEmptySubsequences: false)
            if quoted.count >= 3 { buildDir = String(decoding: quoted[1], as: UTF8.self); break }
        }
        guard let dir = buildDir, let mk = Sys.readFile(Path.join(dir, "config_vars.mk")) else { return nil }
        return ApxsConfig(apxs: apxs, vars: parse(mk))
    }

    static func parse(_ mk: [UInt8]) -> [String: String] {
        func trim(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
            var s = s
            while let f = s.first, f == 0x20 || f == 0x09 || f == 0x0D { s = s.dropFirst() }
            while let l = s.last, l == 0x20 || l == 0x09 || l == 0x0D { s = s.dropLast() }
            return s
        }
        var vars: [String: String] = [:]
        for line in mk.split(separator: 0x0A) {
            guard let eq = line.firstIndex(of: 0x3D) else { continue }
            let k = trim(line[..<eq])
            if k.isEmpty || k.contains(0x20) { continue }
            vars[String(decoding: k, as: UTF8.self)] = String(decoding: trim(line[(eq + 1)...]), as: UTF8.self)
        }
        return vars
    }

    /// A variable with `${x}` / `$(x)` references expanded, like apxs's get_vars.
    public func value(_ name: String) -> String? {
        guard let raw = vars[name] ?? vars[name.lowercased()] else { return nil }
        return expand(raw, depth: 0)
    }

    private func expand(_ s: String, depth: Int) -> String {
        guard depth < 10, s.contains("$") else { return s }
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            let next = s.index(after: i)
            if c == "$", next < s.endIndex, s[next] == "{" || s[next] == "(" {
                let close: Character = s[next] == "{" ? "}" : ")"
                if let end = s[next...].firstIndex(of: close) {
                    let name = String(s[s.index(after: next)..<end])
                    out += expand(vars[name] ?? "", depth: depth + 1)
                    i = s.index(after: end)
                    continue
                }
            }
            out.append(c)
            i = next
        }
        return out
    }

    public var sbindir: String? { value("exp_sbindir") ?? value("sbindir") }
    public var bindir: String? { value("exp_bindir") ?? value("bindir") }
    public var target: String? { value("progname") }
    public var libexecdir: String? { value("exp_libexecdir") ?? value("libexecdir") }
}

extension Substring {
    func trimmingSpaces() -> String {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}

/// Where Apache is on this machine.
public struct ApacheInstall: Equatable {
    public var httpd: String
    public var modulesDirectory: String
    public var rotatelogs: String
    public var apxs: ApxsConfig?

    /// httpd from --httpd-executable, $HTTPD, apxs (SBINDIR/TARGET), then the usual paths;
    /// the modules directory from --modules-directory, apxs (LIBEXECDIR), then the usual paths.
    public static func discover(
        httpdOption: String?, modulesOption: String?, rotatelogsOption: String?,
        environment env: [String: String], cwd: String
    ) throws -> ApacheInstall {
        let needApxs = httpdOption == nil && env["HTTPD"] == nil || modulesOption == nil
        let apxs = needApxs ? ApxsConfig.find(environment: env) : nil

        var httpd: String
        if let h = httpdOption ?? env["HTTPD"].flatMap({ $0.isEmpty ? nil : $0 }) {
            httpd = h.contains("/") ? Path.absolute(h, cwd: cwd) : (searchPath(h, env) ?? h)
        } else if let a = apxs, let sbin = a.sbindir, let t = a.target, Sys.isExecutable(Path.join(sbin, t)) {
            httpd = Path.join(sbin, t)
        } else {
            httpd =
                ["/usr/sbin/apache2", "/usr/sbin/httpd", "/usr/local/apache2/bin/httpd"]
                .first(where: Sys.isExecutable) ?? (searchPath("apache2", env) ?? searchPath("httpd", env) ?? "")
        }
        guard !httpd.isEmpty, Sys.isExecutable(httpd) else {
            throw ExpressError.httpdNotFound(
                tried: httpd.isEmpty ? "apxs, /usr/sbin/apache2, /usr/sbin/httpd, PATH" : httpd)
        }

        var modules: String
        if let m = modulesOption {
            modules = Path.absolute(m, cwd: cwd)
        } else if let m = apxs?.libexecdir, Sys.isDirectory(m) {
            modules = m
        } else if let m = [
            "/usr/lib/apache2/modules", "/usr/lib64/httpd/modules", "/usr/lib/httpd/modules",
            "/usr/local/apache2/modules",
        ].first(where: Sys.isDirectory) {
            modules = m
        } else {
            throw apxs == nil ? ExpressError.apxsNotFound : ExpressError.modulesDirectoryNotFound
        }
        guard Sys.isDirectory(modules) else { throw ExpressError.modulesDirectoryNotFound }

        let rotatelogs =
            rotatelogsOption
            ?? [apxs?.bindir, apxs?.sbindir, "/usr/bin", "/usr/sbin", Path.dirname(httpd)]
            .compactMap { $0 }.map { Path.join($0, "rotatelogs") }.first(where: Sys.isExecutable)
            ?? "/usr/bin/rotatelogs"
        return ApacheInstall(httpd: httpd, modulesDirectory: modules, rotatelogs: rotatelogs, apxs: apxs)
    }

    static func searchPath(_ name: String, _ env: [String: String]) -> String? {
        for dir in (env["PATH"] ?? "/usr/bin:/bin:/usr/sbin:/sbin").split(separator: ":") {
            let p = Path.join(String(dir), name)
            if Sys.isExecutable(p) { return p }
        }
        return nil
    }
}

/// The MPM to load: the first of the preferences whose mod_mpm_<name>.so is present.
public enum MPM {
    public static let all = ["event", "worker", "prefork"]

    public static func choose(preferred: [String], modulesDirectory: String) -> (chosen: String, present: [String])? {
        let order = preferred.isEmpty ? all : preferred
        let present = all.filter { Sys.exists(Path.join(modulesDirectory, "mod_mpm_\($0).so")) }
        guard let chosen = order.first(where: present.contains) else { return nil }
        return (chosen, present)
    }
}

/// The Apache module built by this package, and the Python it was linked against.
public struct ModuleInfo: Equatable {
    public var path: String
    /// "3.11", read from the module's DT_NEEDED libpython entry; nil if unreadable.
    public var pythonVersion: String?
    /// The Python installation prefix the module's libpython belongs to.
    public var pythonPrefix: String?
    /// The virtual environment the executable was pip-installed into (<venv>/bin/mod_wsgi-express
    /// beside <venv>/pyvenv.cfg): the Python home by default, as sys.prefix is for mod_wsgi's.
    public var venv: String? = nil
    /// The shared libpython (its soname, "libpython3.11.so.1.0") a module built for a wheel
    /// expects to find loaded before it, with `LoadFile`: such a module does not name it in its
    /// DT_NEEDED, so that it works with the Python wherever the installing machine has it. nil
    /// when the module names libpython itself (a build tree, or unknown).
    public var pythonLibrary: String? = nil
    /// The libpython is a free-threaded build's (libpython3.13t): PEP 703, no GIL.
    public var freeThreaded = false

    /// $MOD_WSGI_MODULE, else libmod_wsgi.so next to the running executable (a build tree),
    /// else the module pip installed with it (see `installed`).
    public static func locate(environment env: [String: String], executable: String?) throws -> ModuleInfo {
        var path: String
        if let m = env["MOD_WSGI_MODULE"], !m.isEmpty {
            path = m
        } else {
            let dir = executable.map(Path.dirname) ?? "."
            path = Path.join(dir, "libmod_wsgi.so")
            if !Sys.isFile(path), let p = installed(binDirectory: dir) { path = p }
        }
        guard Sys.isFile(path) else { throw ExpressError.moduleNotBuilt(looked: path) }
        let elf = ELF.dynamicInfo(path)
        var version: String?
        var freeThreaded = false
        for lib in elf?.needed ?? [] where lib.hasPrefix("libpython") {
            // libpython3.11.so.1.0 -> 3.11
            let rest = lib.dropFirst("libpython".count)
            let v = rest.prefix { $0.isNumber || $0 == "." }
            let parts = v.split(separator: ".")
            if parts.count >= 2 { version = "\(parts[0]).\(parts[1])" }
            freeThreaded = rest.dropFirst(v.count).hasPrefix("t")
        }
        // A wheel's module (mod_wsgi-py311.cpython-311-x86_64-linux-gnu.so) links no libpython:
        // its name says which Python it is built for.
        var library: String?
        if version == nil, elf != nil, let named = pythonBuild(moduleName: Path.basename(path)) {
            version = named.version
            library = "libpython\(named.version)\(named.abiflags).so.1.0"
            freeThreaded = named.abiflags.contains("t")
        }
        var prefix: String?
        if let v = version {
            for dir in (elf?.runpath ?? []) where !dir.contains("$ORIGIN") && !dir.contains("/swift") {
                if Sys.isDirectory(Path.join(dir, "python\(v)")) { prefix = Path.dirname(dir); break }
            }
            // Installed by pip into a Python's own site-packages: <prefix>/lib/pythonX.Y/site-packages/mod_wsgi/server.
            let lib = Path.normalize(Path.join(Path.dirname(path), "../../../.."))
            if prefix == nil, Path.basename(lib) == "python\(v)", Sys.isFile(Path.join(lib, "os.py")) {
                prefix = Path.dirname(Path.dirname(lib))
            }
            if prefix == nil {
                prefix = ["/usr", "/usr/local"].first { Sys.isDirectory("\($0)/lib/python\(v)") }
            }
        }
        var venv: String?
        if let exe = executable {
            let root = Path.dirname(Path.dirname(exe))
            if Sys.isFile(Path.join(root, "pyvenv.cfg")) { venv = root }
        }
        return ModuleInfo(
            path: path, pythonVersion: version, pythonPrefix: prefix, venv: venv, pythonLibrary: library,
            freeThreaded: freeThreaded)
    }

    /// "mod_wsgi-py311.cpython-311-x86_64-linux-gnu.so" -> ("3.11", ""); "…cpython-311d-…" -> ("3.11", "d").
    static func pythonBuild(moduleName name: String) -> (version: String, abiflags: String)? {
        guard name.hasPrefix("mod_wsgi-py3") else { return nil }
        let digits = name.dropFirst("mod_wsgi-py".count).prefix { $0.isNumber }
        guard digits.count >= 2 else { return nil }
        let version = "\(digits.first!).\(digits.dropFirst())"
        var abiflags = ""
        if let r = name.firstRange(of: ".cpython-\(digits)") {
            abiflags = String(name[r.upperBound...].prefix { $0.isLetter })
        }
        return (version, abiflags)
    }

    /// The module of a pip installation: <prefix>/bin/mod_wsgi-express and
    /// <prefix>/lib/pythonX.Y/{site,dist}-packages/mod_wsgi/server/mod_wsgi-pyXY<EXT_SUFFIX>,
    /// the layout of a venv, a --user install and a system-wide one alike.
    static func installed(binDirectory bin: String) -> String? {
        let lib = Path.normalize(Path.join(bin, "../lib"))
        for python in (PythonHome.opendirEntries(lib) ?? []).sorted() where python.hasPrefix("python3") {
            for packages in ["site-packages", "dist-packages"] {
                let dir = Path.join(lib, "\(python)/\(packages)/mod_wsgi/server")
                let names = PythonHome.opendirEntries(dir) ?? []
                // Not the daemon runtime beside it (mod_wsgi-py311-daemon.cpython-…so), which sorts first.
                let module = names.sorted().first {
                    $0.hasPrefix("mod_wsgi-py") && $0.hasSuffix(".so")
                        && !($0.split(separator: ".", maxSplits: 1).first ?? "").hasSuffix("-daemon")
                }
                if let so = module {
                    return Path.join(dir, so)
                }
            }
        }
        return nil
    }
}

/// Just enough ELF (64-bit, little-endian) to read a shared library's DT_NEEDED and DT_RUNPATH.
enum ELF {
    /// The file is mapped, not read: only the pages of the headers and the dynamic section are
    /// touched (setup-server looks at the 12 MB module on every run).
    static func dynamicInfo(_ path: String) -> (needed: [String], runpath: [String])? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0, st.st_size > 64 else { return nil }
        let size = Int(st.st_size)
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else { return nil }
        defer { munmap(p, size) }
        return dynamicInfo(of: UnsafeRawBufferPointer(start: p, count: size))
    }

    static func dynamicInfo(of b: UnsafeRawBufferPointer) -> (needed: [String], runpath: [String])? {
        guard b.count > 64, b[0] == 0x7F, b[1] == 0x45, b[2] == 0x4C, b[3] == 0x46,
            b[4] == 2, b[5] == 1
        else { return nil }
        func u16(_ o: Int) -> Int { o + 2 <= b.count ? Int(b[o]) | Int(b[o + 1]) << 8 : 0 }
        func u32(_ o: Int) -> Int { o + 4 <= b.count ? u16(o) | u16(o + 2) << 16 : 0 }
        func u64(_ o: Int) -> Int { o + 8 <= b.count ? u32(o) | u32(o + 4) << 32 : 0 }
        func cstr(_ o: Int) -> String {
            guard o >= 0, o < b.count else { return "" }
            var e = o
            while e < b.count && b[e] != 0 { e += 1 }
            return String(decoding: b[o..<e], as: UTF8.self)
        }
        let shoff = u64(0x28), shentsize = u16(0x3A), shnum = u16(0x3C)
        guard shoff > 0, shentsize >= 64, shoff + shnum * shentsize <= b.count else { return nil }
        func section(_ i: Int) -> (type: Int, offset: Int, size: Int, link: Int) {
            let o = shoff + i * shentsize
            return (u32(o + 4), u64(o + 0x18), u64(o + 0x20), u32(o + 0x28))
        }
        for i in 0..<shnum {
            let s = section(i)
            guard s.type == 6 /* SHT_DYNAMIC */, s.link < shnum else { continue }
            let strtab = section(s.link).offset
            var needed: [String] = []
            var runpath: [String] = []
            var o = s.offset
            while o + 16 <= min(b.count, s.offset + s.size) {
                let tag = u64(o), val = u64(o + 8)
                if tag == 0 { break }
                if tag == 1 { needed.append(cstr(strtab + val)) }
                if tag == 29 || tag == 15 { runpath += cstr(strtab + val).split(separator: ":").map(String.init) }
                o += 16
            }
            return (needed, runpath)
        }
        return nil
    }
}

/// Where the shared libpython a wheel's module needs is, for the `LoadFile` line that loads it
/// before the module: in the Python home's base installation (a venv's `home`), in its lib/,
/// lib/<multiarch>/ (Debian) or lib64/.
public enum PythonLibrary {
    #if arch(x86_64)
    static let multiarch = "x86_64-linux-gnu"
    #elseif arch(arm64)
    static let multiarch = "aarch64-linux-gnu"
    #else
    static let multiarch = ""
    #endif

    /// nil when the module loads libpython itself (it names it in its DT_NEEDED).
    public static func locate(module: ModuleInfo, pythonHome: String) throws -> String? {
        guard let soname = module.pythonLibrary else { return nil }
        let base = PythonHome.base(ofVenv: pythonHome) ?? pythonHome
        var dirs = [Path.join(base, "lib")]
        if !multiarch.isEmpty { dirs.append(Path.join(base, "lib/\(multiarch)")) }
        dirs.append(Path.join(base, "lib64"))
        for d in dirs where Sys.isFile(Path.join(d, soname)) {
            return Path.join(d, soname)
        }
        throw ExpressError.pythonLibraryMissing(soname: soname, base: base, looked: dirs)
    }
}

/// The Python home to run: --python-home, else the venv the executable is installed in,
/// else $VIRTUAL_ENV, else the module's own Python.
public enum PythonHome {
    public static func resolve(
        option: String?, environment env: [String: String], module: ModuleInfo,
        cwd: String
    ) throws -> String {
        let home: String
        if let h = option ?? module.venv ?? env["VIRTUAL_ENV"].flatMap({ $0.isEmpty ? nil : $0 }) {
            home = Path.absolute(h, cwd: cwd)
        } else {
            return module.pythonPrefix ?? "/usr"
        }
        guard Sys.isDirectory(home) else { throw ExpressError.pythonHomeMissing(home) }
        if let want = module.pythonVersion, let have = version(of: home), have != want {
            throw ExpressError.pythonVersionMismatch(home: home, homeVersion: have, moduleVersion: want)
        }
        return home
    }

    /// The Python version of an installation or virtualenv: pyvenv.cfg's version, else lib/pythonX.Y.
    static func version(of home: String) -> String? {
        if let cfg = Sys.readText(Path.join(home, "pyvenv.cfg")) {
            for line in cfg.split(separator: "\n") {
                let kv = line.split(separator: "=", maxSplits: 1).map { Substring($0).trimmingSpaces() }
                if kv.count == 2, kv[0] == "version" || kv[0] == "version_info" {
                    let parts = kv[1].split(separator: ".")
                    if parts.count >= 2 { return "\(parts[0]).\(parts[1])" }
                }
            }
        }
        guard let d = opendirEntries(Path.join(home, "lib")) else { return nil }
        let versions = d.filter { $0.hasPrefix("python3.") && Sys.isDirectory(Path.join(home, "lib/\($0)")) }
            .map { String($0.dropFirst("python".count)) }
        return versions.count == 1 ? versions[0] : nil
    }

    /// The installation a virtual environment is made from (pyvenv.cfg's `home`, less `/bin`);
    /// nil when `home` is not a venv.
    static func base(ofVenv home: String) -> String? {
        guard let cfg = Sys.readText(Path.join(home, "pyvenv.cfg")) else { return nil }
        for line in cfg.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map { Substring($0).trimmingSpaces() }
            if kv.count == 2, kv[0] == "home", !kv[1].isEmpty {
                return kv[1].hasSuffix("/bin") ? String(kv[1].dropLast(4)) : kv[1]
            }
        }
        return nil
    }

    static func opendirEntries(_ path: String) -> [String]? {
        guard let d = opendir(path) else { return nil }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#endif
