import CWSGICore

/// What a WSGI request needs besides its CGI variables: which script, which object in
/// it, which interpreter. The same on both sides of the daemon socket.
package struct ScriptRequest {
    package var scriptPath: String
    package var mtime: Int
    package var callableObject: String
    package var applicationGroup: String
    package var reloading: Bool
    package var enableSendfile: Bool
    /// The Apache child that accepted the request (this process in embedded mode).
    package var serverPid: UInt32

    package init(
        scriptPath: String, mtime: Int, callableObject: String, applicationGroup: String, reloading: Bool,
        enableSendfile: Bool, serverPid: UInt32
    ) {
        self.scriptPath = scriptPath
        self.mtime = mtime
        self.callableObject = callableObject
        self.applicationGroup = applicationGroup
        self.reloading = reloading
        self.enableSendfile = enableSendfile
        self.serverPid = serverPid
    }
}

/// Runs one WSGI request in this process: embedded mode (Apache's child) and daemon
/// mode (a daemon process) both end here.
package enum WSGIApplication {
    /// `fillEnviron` adds the CGI variables (str values) to the dict; called with the GIL.
    /// Returns Apache's handler status.
    package static func run(
        _ spec: ScriptRequest, channel: RequestChannel,
        fillEnviron: (PyObj) -> Void
    ) -> Int32 {
        guard PythonRuntime.initialized else {
            channel.log(
                APLOG_ERR, .pythonUnavailable,
                "Python is not available in this process: \(PythonRuntime.failure ?? "not initialised"); cannot run '\(spec.scriptPath)'."
            )
            return HTTP_INTERNAL_SERVER_ERROR
        }
        let interp = Interpreters.acquire(spec.applicationGroup)
        defer { Interpreters.release() }
        // When this thread took the request up (mod_wsgi's slot claim, before the script is
        // loaded): telemetry's slow-request start and per-thread durations count from here.
        let claimed = Int64(wsgi_now())

        guard
            let module = ScriptLoader.load(
                interp, path: spec.scriptPath, mtime: spec.mtime,
                reload: spec.reloading, log: { channel.log($0, $1, $2) })
        else {
            if let report = interp.loadFailureReports.removeValue(forKey: spec.scriptPath) {
                return LoadFailurePage.send(report, channel)
            }
            return HTTP_INTERNAL_SERVER_ERROR
        }
        guard let app = PyObject_GetAttrString(module, spec.callableObject) else {
            PyErr_Clear()
            channel.log(
                APLOG_ERR, .callableMissing,
                "Target WSGI script '\(spec.scriptPath)' does not contain WSGI application '\(spec.callableObject)'.")
            return HTTP_NOT_FOUND
        }
        defer { wsgi_decref(app) }

        let ts = Interpreters.threadStates()
        ts.requests += 1
        let totalRequests = Interpreters.shared {
            ModuleState.totalRequests += 1
            return ModuleState.totalRequests
        }

        let request = WSGIRequest(channel: channel, enableSendfile: spec.enableSendfile)
        request.scriptPath = spec.scriptPath
        let environ = wsgi_dict_presized(64)!  // about 55 keys: no resizing while it is filled
        fillEnviron(environ)
        let stream = InputStream(request)
        if let cl = PyDict_GetItemString(environ, "CONTENT_LENGTH"), let n = Py.swiftString(cl).flatMap({ Int($0) }) {
            stream.expectedLength = n >= 0 ? n : nil
        }
        let input = InputStream.type.make(stream)!
        let errors = ErrorLog.type.make(ErrorLog(request: request, name: "wsgi.errors"))!
        let keys = EnvironKeys.current
        keys.set(environ, "wsgi.version", wsgi_new_ref(interp.wsgiVersion))
        keys.set(environ, "wsgi.input", input)
        keys.set(environ, "wsgi.input_terminated", Py.bool(true))
        keys.set(environ, "wsgi.errors", wsgi_new_ref(errors))  // ours is kept: the app may delete the key
        keys.set(environ, "wsgi.multithread", Py.bool(ModuleState.multithread))
        keys.set(environ, "wsgi.multiprocess", Py.bool(ModuleState.multiprocess))
        keys.set(environ, "wsgi.run_once", Py.bool(false))
        keys.set(environ, "wsgi.file_wrapper", wsgi_new_ref(FileWrapper.factory))
        keys.set(environ, "mod_wsgi.version", wsgi_new_ref(interp.modWSGIVersion))
        keys.set(environ, "apache.version", wsgi_new_ref(interp.apacheVersion))
        keys.set(environ, "mod_wsgi.thread_id", Py.int(ts.threadID))
        keys.set(environ, "mod_wsgi.thread_requests", Py.int(ts.requests))
        keys.set(environ, "mod_wsgi.total_requests", Py.int(totalRequests))

        // The mod_wsgi API: request_data(), active_requests, events, metrics.
        let life = RequestLife(
            api: InterpreterAPI.of(interp), environ: environ, threadID: ts.threadID, serverPid: spec.serverPid,
            claimed: claimed)
        request.life = life
        ts.requestData = life.data
        let application = life.started(application: app, environ: environ)
        let startResponse = StartResponse.type.make(request)!
        let status = request.run(application: application, environ: environ, startResponse: startResponse)
        wsgi_decref(application)
        // Flush a partial line the app left in wsgi.errors, then retire the request.
        NativeType.object(errors, as: ErrorLog.self).flush()
        wsgi_decref(errors)
        request.waitUntilIdle()
        life.finished(request, status: status)
        ts.requestData = nil
        request.finished = true
        wsgi_decref(startResponse)
        wsgi_decref(environ)
        return status
    }
}
