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
    /// When Apache read the request (µs since the epoch), as the environ and events report
    /// it (mod_wsgi 6.x: float seconds); a daemon's also when the Apache child began sending
    /// it (queue) and when the daemon took it. 0 in embedded mode.
    package var requestStart: Int64 = 0
    package var queueStart: Int64 = 0
    package var daemonStart: Int64 = 0
    /// The Apache child that accepted the request (this process in embedded mode).
    package var serverPid: UInt32 = 0
    package var daemonConnects = 0
    package var daemonRestarts = 0

    package init(
        scriptPath: String, mtime: Int, callableObject: String, applicationGroup: String, reloading: Bool,
        enableSendfile: Bool, requestStart: Int64 = 0, queueStart: Int64 = 0, daemonStart: Int64 = 0,
        serverPid: UInt32 = 0, daemonConnects: Int = 0, daemonRestarts: Int = 0
    ) {
        self.scriptPath = scriptPath
        self.mtime = mtime
        self.callableObject = callableObject
        self.applicationGroup = applicationGroup
        self.reloading = reloading
        self.enableSendfile = enableSendfile
        self.requestStart = requestStart
        self.queueStart = queueStart
        self.daemonStart = daemonStart
        self.serverPid = serverPid
        self.daemonConnects = daemonConnects
        self.daemonRestarts = daemonRestarts
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

        let module: PyObj
        switch ScriptLoader.load(
            interp, path: spec.scriptPath, mtime: spec.mtime, reload: spec.reloading,
            reloadInPlace: DaemonProcess.state == nil,
            logServer: { channel.logServer($0, $1, $2) }, log: { channel.log($0, $1, $2) })
        {
        case .module(let m):
            module = m
        case .stale:
            // mod_wsgi's daemon mode: a script to load anew restarts the process, which serves
            // the request after it (the Apache child sends it again).
            return channel.restartProcess(script: spec.scriptPath)
        case .failed:
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
        Interpreters.shared { ModuleState.totalRequests += 1 }

        let request = WSGIRequest(channel: channel, enableSendfile: spec.enableSendfile)
        request.scriptPath = spec.scriptPath
        request.applicationGroup = spec.applicationGroup
        let environ = wsgi_dict_presized(64)!  // about 55 keys: no resizing while it is filled
        fillEnviron(environ)
        let stream = InputStream(request)
        if let cl = PyDict_GetItemString(environ, "CONTENT_LENGTH"), let n = Py.swiftString(cl).flatMap({ Int($0) }) {
            stream.expectedLength = n >= 0 ? n : nil
        }
        let input = InputStream.type.make(stream)!
        guard let (errors, errorLog) = ErrorLog.textStream(request: request, name: "<wsgi.errors>") else {
            channel.log(APLOG_ERR, .wsgiErrorsFailed, "Unable to make wsgi.errors.")
            PyErr_Clear()
            wsgi_decref(environ)
            wsgi_decref(input)
            return HTTP_INTERNAL_SERVER_ERROR
        }
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
        // mod_wsgi 6.x: the request's instants as float seconds since the epoch (0.0 where they
        // do not apply: queue and daemon in embedded mode), as in its events.
        let appStart = Int64(wsgi_now())
        keys.set(environ, "mod_wsgi.request_start", PyFloat_FromDouble(Double(spec.requestStart) / 1e6))
        keys.set(environ, "mod_wsgi.queue_start", PyFloat_FromDouble(Double(spec.queueStart) / 1e6))
        keys.set(environ, "mod_wsgi.daemon_start", PyFloat_FromDouble(Double(spec.daemonStart) / 1e6))
        keys.set(environ, "mod_wsgi.application_start", PyFloat_FromDouble(Double(appStart) / 1e6))

        // The mod_wsgi API: request_data(), active_requests, events, metrics.
        let life = RequestLife(
            api: InterpreterAPI.of(interp), environ: environ, threadID: ts.threadID, spec: spec, appStart: appStart,
            claimed: claimed)
        request.life = life
        ts.requestData = life.data
        ts.errorLog = errorLog
        let application = life.started(application: app, environ: environ)
        let startResponse = StartResponse.type.make(request)!
        let status = request.run(application: application, environ: environ, startResponse: startResponse)
        wsgi_decref(application)
        // Write a partial line the app left in wsgi.errors and retire it (a kept reference then
        // refuses to write, as in mod_wsgi 6.x), then retire the request.
        request.waitUntilIdle()
        errorLog.close()
        ts.errorLog = nil
        wsgi_decref(errors)
        life.finished(request, status: status)
        ts.requestData = nil
        request.finished = true
        wsgi_decref(startResponse)
        wsgi_decref(environ)
        return status
    }
}
