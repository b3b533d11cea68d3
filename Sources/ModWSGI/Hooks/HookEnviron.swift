import CModWSGI
import WSGICore

/// One call of a hook script: the request it may look at (until the hook returns), the
/// interpreter it runs in, and its `wsgi.errors`.
final class HookContext {
    /// nil once the hook has returned: mod_ssl.is_https() & co. then raise RuntimeError.
    private(set) var r: UnsafeMutablePointer<request_rec>?
    let script: HookScript
    let interpreterName: String
    let reloading: Bool
    let passApacheRequest: Bool
    var interp: Interpreter?
    /// wsgi.errors writes to the error log against this request while the hook runs.
    private let errorsTarget: WSGIRequest
    private var errors: PyObj?

    init(_ r: UnsafeMutablePointer<request_rec>, script: HookScript, dir: DirConfig) {
        self.r = r
        self.script = script
        interpreterName = script.interpreterName(r)
        reloading = dir.scriptReloading ?? true
        passApacheRequest = dir.passApacheRequest ?? false
        errorsTarget = WSGIRequest(channel: ApacheChannel(r), enableSendfile: false)
    }

    /// The hook has returned (GIL held).
    func expire() {
        if let errors {
            if let res = Py.callMethod(errors, "flush") { wsgi_decref(res) }
            PyErr_Clear()
            wsgi_decref(errors)
            self.errors = nil
        }
        errorsTarget.finished = true
        r = nil
    }

    /// mod_wsgi's environ for access and authentication scripts: the request headers
    /// (without Authorization and Proxy-Authorization), the server and client variables,
    /// mod_wsgi.*, wsgi.errors, mod_ssl.is_https/var_lookup; no SetEnv values.
    func environ() -> PyObj? {
        guard let r, let interp else { return nil }
        // Apache's common CGI variables, computed into a table of their own so that the
        // request's subprocess_env (SetEnv & co.) stays out.
        let pool = r.pointee.pool
        let saved = r.pointee.subprocess_env
        let table = apr_table_make(pool, 32)
        r.pointee.subprocess_env = table
        ap_add_common_vars(r)
        r.pointee.subprocess_env = saved
        apr_table_unset(table, "PATH")
        apr_table_set(table, "SERVER_PROTOCOL", r.pointee.protocol)
        apr_table_set(table, "REQUEST_METHOD", r.pointee.method)
        apr_table_set(table, "QUERY_STRING", str(r.pointee.args) ?? "")
        apr_table_set(table, "REQUEST_URI", r.pointee.unparsed_uri)
        let uri = r.pointee.uri.map { String(cString: $0) } ?? ""
        let pathInfo = r.pointee.path_info.map { String(cString: $0) } ?? ""
        if pathInfo.isEmpty {
            apr_table_set(table, "SCRIPT_NAME", uri)
            apr_table_set(table, "PATH_INFO", "")
        } else {
            let n = Int(ap_find_path_info(r.pointee.uri, r.pointee.path_info))
            apr_table_set(table, "SCRIPT_NAME", String(decoding: uri.utf8.prefix(n), as: UTF8.self))
            apr_table_set(table, "PATH_INFO", pathInfo)
        }
        let environ = PyDict_New()!
        RequestHandler.fillFromTable(environ, table)
        Py.setItem(environ, "apache.version", wsgi_new_ref(interp.apacheVersion))
        Py.setItem(environ, "mod_wsgi.version", wsgi_new_ref(interp.modWSGIVersion))
        Py.setItem(environ, "mod_wsgi.process_group", Py.string(""))
        Py.setItem(environ, "mod_wsgi.application_group", Py.string(interpreterName))
        Py.setItem(environ, "mod_wsgi.script_reloading", Py.int(reloading ? 1 : 0))
        addCommon(environ)
        if let ssl = HookContext.type.make(self) {
            if let f = PyObject_GetAttrString(ssl, "ssl_is_https") { Py.setItem(environ, "mod_ssl.is_https", f) }
            if let f = PyObject_GetAttrString(ssl, "ssl_var_lookup") { Py.setItem(environ, "mod_ssl.var_lookup", f) }
            wsgi_decref(ssl)
        }
        if PyErr_Occurred() != nil { wsgi_decref(environ); return nil }
        return environ
    }

    /// wsgi.errors, and apache.request_rec with WSGIPassApacheRequest On.
    func addCommon(_ environ: PyObj) {
        if errors == nil {
            errors = ErrorLog.textStream(request: errorsTarget, name: "<wsgi.errors>")?.0
        }
        if let errors { PyDict_SetItemString(environ, "wsgi.errors", errors) }
        if passApacheRequest, let r, let capsule = PyCapsule_New(UnsafeMutableRawPointer(r), nil, nil) {
            Py.setItem(environ, "apache.request_rec", capsule)
        }
    }

    private static func expired() -> PyObj? {
        Py.raise(wsgi_exc_runtime_error(), "request object has expired")
        return nil
    }

    /// The object behind environ['mod_ssl.is_https'] and environ['mod_ssl.var_lookup'].
    static let type = NativeType(
        name: "mod_wsgi.Auth",
        methods: [
            .init(
                name: "ssl_is_https", flags: METH_NOARGS,
                function: { o, _ in
                    guard let r = NativeType.object(o, as: HookContext.self).r else { return expired() }
                    return Py.int(Int(wsgi_ssl_is_https(r)))
                }),
            .init(
                name: "ssl_var_lookup", flags: METH_O,
                function: { o, arg in
                    guard let r = NativeType.object(o, as: HookContext.self).r else { return expired() }
                    guard let arg else { return nil }
                    var name: [CChar]
                    if wsgi_unicode_check(arg) != 0 {
                        guard let b = PyUnicode_AsLatin1String(arg) else {
                            PyErr_Clear()
                            Py.raise(
                                wsgi_exc_type_error(),
                                "byte string value expected, value containing non 'latin-1' characters found")
                            return nil
                        }
                        name = Array(UnsafeBufferPointer(start: wsgi_bytes_data(b), count: wsgi_bytes_size(b))) + [0]
                        wsgi_decref(b)
                    } else if wsgi_bytes_check(arg) != 0 {
                        name =
                            Array(UnsafeBufferPointer(start: wsgi_bytes_data(arg), count: wsgi_bytes_size(arg))) + [0]
                    } else {
                        Py.raise(
                            wsgi_exc_type_error(),
                            "byte string value expected, value of type \(String(cString: wsgi_type_name(arg))) found")
                        return nil
                    }
                    guard let value = wsgi_ssl_var_lookup(r, name) else { return Py.none }
                    return Py.latin1(value)
                }),
        ])
}
