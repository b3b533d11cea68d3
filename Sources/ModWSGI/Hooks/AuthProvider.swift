import CModWSGI
import WSGICore

/// WSGIAuthUserScript as Apache's authentication provider `wsgi` (AuthBasicProvider wsgi,
/// AuthDigestProvider wsgi), and WSGIAuthGroupScript behind `Require wsgi-group NAME…`.
/// User names, passwords and realms reach Python as str decoded as latin-1, so any bytes
/// a client sends (not UTF-8, say) are a value, never an error.
enum AuthProvider {
    static let granted = Int32(AUTH_GRANTED.rawValue)
    static let denied = Int32(AUTH_DENIED.rawValue)
    static let userFound = Int32(AUTH_USER_FOUND.rawValue)
    static let userNotFound = Int32(AUTH_USER_NOT_FOUND.rawValue)
    static let generalError = Int32(AUTH_GENERAL_ERROR.rawValue)

    /// `check_password(environ, user, password)`: True granted, False denied, None user not
    /// found, a str (or bytes) granted as that user name; anything else → 500.
    static func checkPassword(
        _ r: UnsafeMutablePointer<request_rec>, _ user: UnsafePointer<CChar>,
        _ password: UnsafePointer<CChar>
    ) -> Int32 {
        guard let dir = ConfigStore.dir(r), let script = dir.authUserScript else {
            Log.request(
                APLOG_ERR, .authBasicWithoutScript,
                "AuthBasicProvider wsgi needs WSGIAuthUserScript for this location.", r)
            return generalError
        }
        return HookRunner.call(
            r, script, kind: "user authentication", function: "check_password",
            args: [user, password], dir: dir
        ) { outcome in
            guard case .returned(let result) = outcome else { return generalError }
            if result == wsgi_py_none() { return userNotFound }
            if result == wsgi_py_true() { return granted }
            if result == wsgi_py_false() { return denied }
            if let name = userName(result) {
                r.pointee.user = name.pooled(r.pointee.pool)
                return granted
            }
            if PyErr_Occurred() == nil {
                Py.raise(
                    wsgi_exc_type_error(),
                    "Basic auth provider must return True, False, None or user name as string, not \(String(cString: wsgi_type_name(result)))"
                )
            }
            return generalError
        }
    }

    /// A user name returned by check_password: str (as UTF-8) or bytes.
    private static func userName(_ o: PyObj) -> String? {
        if wsgi_bytes_check(o) != 0 {
            return String(
                decoding: UnsafeRawBufferPointer(start: wsgi_bytes_data(o), count: wsgi_bytes_size(o)), as: UTF8.self)
        }
        guard wsgi_unicode_check(o) != 0 else { return nil }
        var size: Py_ssize_t = 0
        guard let p = PyUnicode_AsUTF8AndSize(o, &size) else { return nil }  // exception set
        return String(decoding: UnsafeRawBufferPointer(start: p, count: size), as: UTF8.self)
    }

    /// `get_realm_hash(environ, user, realm)`: None user not found; a str (latin-1) or bytes
    /// is the hex MD5 of "user:realm:password"; anything else → 500.
    static func realmHash(
        _ r: UnsafeMutablePointer<request_rec>, _ user: UnsafePointer<CChar>,
        _ realm: UnsafePointer<CChar>,
        _ hash: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    ) -> Int32 {
        guard let dir = ConfigStore.dir(r), let script = dir.authUserScript else {
            Log.request(
                APLOG_ERR, .authDigestWithoutScript,
                "AuthDigestProvider wsgi needs WSGIAuthUserScript for this location.", r)
            return generalError
        }
        return HookRunner.call(
            r, script, kind: "user authentication", function: "get_realm_hash",
            args: [user, realm], dir: dir
        ) { outcome in
            guard case .returned(let result) = outcome else { return generalError }
            if result == wsgi_py_none() { return userNotFound }
            var bytes = result
            if wsgi_unicode_check(result) != 0 {
                guard let b = PyUnicode_AsLatin1String(result) else {
                    PyErr_Clear()
                    Py.raise(
                        wsgi_exc_type_error(),
                        "Digest auth provider must return None or string object, value containing non 'latin-1' characters found"
                    )
                    return generalError
                }
                bytes = b
            } else if wsgi_bytes_check(result) != 0 {
                wsgi_incref(result)
            } else {
                Py.raise(
                    wsgi_exc_type_error(),
                    "Digest auth provider must return None or string object, not \(String(cString: wsgi_type_name(result)))"
                )
                return generalError
            }
            hash.pointee = apr_pstrmemdup(r.pointee.pool, wsgi_bytes_data(bytes), wsgi_bytes_size(bytes))
            wsgi_decref(bytes)
            return userFound
        }
    }

    /// `Require wsgi-group g1 g2…`: granted when groups_for_user(environ, user) names one
    /// of them. No user yet → ask for authentication; no groups, an error or a bad value
    /// → denied (logged).
    static func checkAuthorization(_ r: UnsafeMutablePointer<request_rec>, _ requireArgs: UnsafePointer<CChar>?)
        -> Int32
    {
        guard let user = r.pointee.user else { return Int32(AUTHZ_DENIED_NO_USER.rawValue) }
        let denied = Int32(AUTHZ_DENIED.rawValue)
        guard let dir = ConfigStore.dir(r), let script = dir.authGroupScript else {
            Log.request(
                APLOG_ERR, .groupRequireWithoutScript,
                "Require wsgi-group needs WSGIAuthGroupScript for this location.", r)
            return denied
        }
        let groups: Set<String>? = HookRunner.call(
            r, script, kind: "group authorization", function: "groups_for_user",
            args: [UnsafePointer(user)], dir: dir
        ) { outcome in
            guard case .returned(let result) = outcome else { return nil }
            guard let it = PyObject_GetIter(result) else {
                PyErr_Clear()
                Log.request(
                    APLOG_ERR, .groupsBadResult,
                    "Groups for user returned from '\(script.path)' must be an iterable sequence of strings, not \(String(cString: wsgi_type_name(result))).",
                    r)
                return nil
            }
            defer { wsgi_decref(it) }
            var names = Set<String>()
            while let item = PyIter_Next(it) {
                defer { wsgi_decref(item) }
                var b: PyObj? = nil
                if wsgi_unicode_check(item) != 0 {
                    b = PyUnicode_AsLatin1String(item)
                } else if wsgi_bytes_check(item) != 0 {
                    wsgi_incref(item); b = item
                }
                guard let b else {
                    PyErr_Clear()
                    Log.request(
                        APLOG_ERR, .groupsBadItem,
                        "Groups for user returned from '\(script.path)' must be an iterable sequence of strings (latin-1) or bytes.",
                        r)
                    return nil
                }
                names.insert(latin1String(wsgi_bytes_data(b), wsgi_bytes_size(b)))
                wsgi_decref(b)
            }
            return PyErr_Occurred() == nil ? names : nil
        }
        guard let groups else { return denied }
        let userName = String(cString: user)
        let uri = str(r.pointee.uri) ?? ""
        if groups.isEmpty {
            Log.request(
                APLOG_ERR, .groupWithoutGroups,
                "Authorization of user '\(userName)' to access '\(uri)' failed. User is not a member of any groups.", r)
            return denied
        }
        var t = requireArgs
        while t != nil, let w = ap_getword_conf(r.pointee.pool, &t), w.pointee != 0 {
            let len = strlen(w)
            if groups.contains(latin1String(w, len)) { return Int32(AUTHZ_GRANTED.rawValue) }
        }
        Log.request(
            APLOG_ERR, .groupAuthorization,
            "Authorization of user '\(userName)' to access '\(uri)' failed. User is not a member of designated groups.",
            r)
        return denied
    }

    /// Bytes as a latin-1 string (one scalar per byte), for comparing group names exactly.
    private static func latin1String(_ p: UnsafePointer<CChar>?, _ n: Int) -> String {
        guard let p else { return "" }
        var s = String.UnicodeScalarView()
        for i in 0..<n { s.append(Unicode.Scalar(UInt8(bitPattern: p[i]))) }
        return String(s)
    }
}

@_cdecl("wsgi_swift_check_password")
func wsgi_swift_check_password(
    _ r: UnsafeMutablePointer<request_rec>?, _ user: UnsafePointer<CChar>?,
    _ password: UnsafePointer<CChar>?
) -> Int32 {
    guard let user, let password else { return AuthProvider.generalError }
    return AuthProvider.checkPassword(r!, user, password)
}

@_cdecl("wsgi_swift_get_realm_hash")
func wsgi_swift_get_realm_hash(
    _ r: UnsafeMutablePointer<request_rec>?, _ user: UnsafePointer<CChar>?,
    _ realm: UnsafePointer<CChar>?,
    _ hash: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    guard let user, let realm, let hash else { return AuthProvider.generalError }
    return AuthProvider.realmHash(r!, user, realm, hash)
}

@_cdecl("wsgi_swift_check_authorization")
func wsgi_swift_check_authorization(_ r: UnsafeMutablePointer<request_rec>?, _ requireArgs: UnsafePointer<CChar>?)
    -> Int32
{
    AuthProvider.checkAuthorization(r!, requireArgs)
}
