import CModWSGI
import WSGICore

// The Apache hooks, registered by the C shim (wsgi_module.c).

@_cdecl("wsgi_swift_pre_config")
func wsgi_swift_pre_config(_ pconf: OpaquePointer?, _ plog: OpaquePointer?, _ ptemp: OpaquePointer?) -> Int32 {
    // A new configuration generation: the module stays loaded (nodelete), so reset.
    GlobalConfig.current = GlobalConfig()
    ApacheHost.install()
    return OK
}

@_cdecl("wsgi_swift_post_config")
func wsgi_swift_post_config(
    _ pconf: OpaquePointer?, _ plog: OpaquePointer?, _ ptemp: OpaquePointer?,
    _ s: UnsafeMutablePointer<server_rec>?
) -> Int32 {
    ModuleState.mainServer = s
    // As mod_wsgi: "mod_wsgi/4.9.4 Python/3.11" in the Server header (ServerTokens Full).
    ap_add_version_component(pconf, "mod_wsgi/" + modWSGIVersionString)
    ap_add_version_component(pconf, "Python/" + PythonRuntime.version)
    let threaded = mpmQuery(AP_MPMQ_IS_THREADED) != AP_MPMQ_NOT_SUPPORTED
    let maxThreads = Int(mpmQuery(AP_MPMQ_MAX_THREADS))
    let maxDaemons = Int(mpmQuery(AP_MPMQ_MAX_DAEMONS))
    ModuleState.multithread = threaded && maxThreads > 1
    ModuleState.multiprocess = maxDaemons > 1 || !threaded
    ModuleState.maximumProcesses = max(maxDaemons, 1)
    ModuleState.threadsPerProcess = threaded ? max(maxThreads, 1) : 1
    ModuleState.processGroup = ""
    ModuleState.daemonHome = nil
    let global = GlobalConfig.current
    PythonRuntime.settings = global.pythonSettings
    TelemetryConfig.current = global.telemetry
    // Report an unusable Python home once, here, instead of once per child.
    if let home = global.pythonHome, let problem = PythonRuntime.checkHome(home),
        ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG
    {
        Log.server(APLOG_ERR, .pythonHomeUnreadable, problem, s)
    }
    if ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG {
        for warning in global.startupWarnings { Log.server(APLOG_WARNING, .directiveWithoutEffect, warning, s) }
    }
    // The metrics board first: the daemon processes forked next inherit it.
    MetricsEndpoint.postConfig(pconf: pconf, server: s!)
    // The drain and health board too (Lifecycle/).
    HealthEndpoint.postConfig(pconf: pconf)
    Drain.postConfig(pconf: pconf, server: s!)
    // Daemon process groups are forked here, by the (single-threaded) parent.
    return DaemonManager.postConfig(pconf: pconf, ptemp: ptemp, server: s!)
}

@_cdecl("wsgi_swift_pre_mpm")
func wsgi_swift_pre_mpm(_ p: OpaquePointer?) -> Int32 {
    DaemonManager.preMPM()
    return OK
}

@_cdecl("wsgi_swift_child_init")
func wsgi_swift_child_init(_ p: OpaquePointer?, _ s: UnsafeMutablePointer<server_rec>?) {
    ModuleState.childPool = p
    ModuleState.mainServer = s
    ModuleState.noteProcess(pool: p)
    // Before Apache starts the child's threads, which would each get an arena.
    MallocArenas.limitInApacheChild()
    DaemonManager.closeListenersInChild()
    // The parent's SIGCHLD wake-up (DaemonManager) is not for Apache's children.
    if DaemonManager.parentPid != 0 { wsgi_parent_wake_on_child_exit(0) }
    MetricsRecorder.childStarted(pool: p)
    wsgi_lifecycle_child()
    LifecycleBoard.childStarted()
    let global = GlobalConfig.current
    wsgi_next_request_configure(Int32(global.nextRequestWait))
    wsgi_docroot_walk_configure(global.documentRootWalkOnce ? 1 : 0)
    // Python only in children that can run applications here: not when every WSGI
    // request goes to daemon processes (WSGIRestrictEmbedded On).
    if global.restrictEmbedded && !global.hookScripts { return }
    PythonRuntime.initialize(processName: "Apache child process")
    guard PythonRuntime.initialized else { return }
    ImportScripts.run(global.importScripts.filter { ($0.processGroup ?? "").isEmpty || $0.processGroup == "%{GLOBAL}" })
    // WSGITelemetryService: Apache's children report only where applications run in them.
    if !global.restrictEmbedded {
        TelemetryReporter.start(processGroup: "", daemonMode: false, threadsMaximum: ModuleState.threadsPerProcess)
    }
    apr_pool_cleanup_register(
        p, nil,
        { _ in
            TelemetryReporter.stoppingDecided(ProcessStopping.reason)
            TelemetryReporter.finish(ProcessStopping.reason)
            PythonRuntime.finalize(destroy: GlobalConfig.current.destroyInterpreter)
            return APR_SUCCESS
        }, apr_pool_cleanup_null)
}

@_cdecl("wsgi_swift_translate_name")
func wsgi_swift_translate_name(_ r: UnsafeMutablePointer<request_rec>?) -> Int32 {
    RequestHandler.translate(r!)
}

@_cdecl("wsgi_swift_handler")
func wsgi_swift_handler(_ r: UnsafeMutablePointer<request_rec>?) -> Int32 {
    // Requests in flight, for the drain's last line (only with WSGIHealthURL/WSGIDrainOnTerm).
    if let board = LifecycleBoard.current {
        wsgi_atomic_add(board.inFlight, 1)
        defer { wsgi_atomic_add(board.inFlight, -1) }
        return metered(r!)
    }
    return metered(r!)
}

@inline(__always)
private func metered(_ r: UnsafeMutablePointer<request_rec>?) -> Int32 {
    guard let slot = MetricsRecorder.handlerBegin(r!) else { return RequestHandler.handle(r!) }
    let result = RequestHandler.handle(r!)
    MetricsRecorder.handlerEnd(r!, slot: slot, result: result)
    return result
}
