import CModWSGI
import SystemCalls
import WSGICore

/// WSGIDrainOnTerm On: SIGTERM stops Apache gracefully instead of at once. The signal
/// handling is the C shim's (wsgi_lifecycle.c, async-signal-safe); this is the rest, in the
/// Apache parent's ordinary context:
///
/// - post_config: the shared board (LifecycleBoard), the handlers' settings and log lines;
/// - when Apache reclaims its children at the end of the drain (the first other-child
///   callback of the daemon processes, or the configuration's cleanup in embedded mode):
///   one line saying whether every request finished or how many the timeout cut. When
///   requests are cut, the daemon processes are told to stop at once (`cut`), not after
///   their shutdown-timeout.
///
/// The sequence, with WSGIDrainDelay D and GracefulShutdownTimeout T: SIGTERM → the health
/// URL answers 503 and responses close their connections, while Apache still serves → after
/// D seconds, Apache's graceful stop: it closes its listening sockets, its children finish
/// their requests (kept-alive connections close at the next response) → once no child is
/// left, or after T seconds, the daemon processes stop and Apache exits with status 0.
enum Drain {
    nonisolated(unsafe) private static var reported = false

    /// post_config, in the parent (both passes: the C side only keeps pointers and numbers).
    static func postConfig(pconf: OpaquePointer?, server s: UnsafeMutablePointer<server_rec>) {
        let global = GlobalConfig.current
        guard ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG else { return }
        LifecycleBoard.configure(global: global, server: s)
        // Debug mode (one process, -X / -DONE_PROCESS) has no parent to drain.
        let oneProcess = ap_exists_config_define("ONE_PROCESS") != 0 || ap_exists_config_define("DEBUG") != 0
        guard let board = LifecycleBoard.current, !oneProcess else {
            wsgi_lifecycle_configure(nil, 0, 0, 0, nil, nil, nil)
            return
        }
        reported = false
        let onTerm = global.drainOnTerm
        let timeout = Int(wsgi_graceful_shutdown_timeout())
        let limit =
            timeout > 0
            ? "up to \(timeout) seconds (GracefulShutdownTimeout)" : "without a time limit (no GracefulShutdownTimeout)"
        var plan = ""
        if global.drainDelay > 0 {
            plan =
                "the health URL answers 503 and Apache keeps serving for \(global.drainDelay) seconds (WSGIDrainDelay), then "
        }
        plan += "Apache stops accepting connections and waits \(limit) for the requests in flight."
        let pid = getpid()
        let termLine =
            LogID.drainStarted.tag + "mod_wsgi (pid=\(pid)): Received SIGTERM: draining (WSGIDrainOnTerm On): " + plan
            + " A second SIGTERM stops at once."
        let againLine =
            LogID.drainAbandoned.tag
            + "mod_wsgi (pid=\(pid)): Received a second SIGTERM while draining: stopping at once; requests still in flight are cut."
        let killLine =
            LogID.drainKilled.tag
            + "mod_wsgi (pid=\(pid)): Drain timed out: killing Apache's child processes still serving requests (SIGKILL); their clients' connections are cut."
        wsgi_lifecycle_configure(
            board.draining, onTerm ? 1 : 0, Int32(global.drainDelay), timeout > 0 ? Int32(timeout + 2) : 0,
            termLine, againLine, killLine)
        apr_pool_cleanup_register(
            pconf, nil,
            { _ in
                if ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING { Drain.ended() }
                return APR_SUCCESS
            }, apr_pool_cleanup_null)
    }

    /// Apache is reclaiming its children (DaemonManager's other-child callback, before it
    /// stops the daemon processes). During a drain: were requests still running?
    static func reclaiming() {
        guard let board = LifecycleBoard.current, wsgi_lifecycle_phase() == 2, !reported else { return }
        let running = wsgi_atomic_load(board.inFlight)
        if running > 0 { wsgi_atomic_store(board.cut, 1) }
        report(running: running)
    }

    /// The configuration's cleanup as Apache exits: the drain's line, if not written yet
    /// (embedded mode: the requests Apache's children never finished are those it cut).
    static func ended() {
        guard let board = LifecycleBoard.current, wsgi_lifecycle_phase() == 2, !reported else { return }
        report(running: wsgi_atomic_load(board.inFlight))
    }

    private static func report(running: Int64) {
        reported = true
        let started = wsgi_lifecycle_started_us()
        let elapsed = started > 0 ? Double(monotonicMicros() - started) / 1e6 : 0
        let seconds = String(format1: elapsed)
        if running > 0 {
            let timeout = Int(wsgi_graceful_shutdown_timeout())
            Log.server(
                APLOG_WARNING, .drainCut,
                "Drain timed out after \(seconds) seconds (GracefulShutdownTimeout \(timeout)): \(running) request(s) still running are cut; their clients get an error."
            )
        } else {
            Log.server(
                APLOG_NOTICE, .drainFinished, "Drain finished in \(seconds) seconds: every request in flight completed."
            )
        }
    }
}

extension String {
    /// One decimal place, without Foundation.
    init(format1 v: Double) {
        let tenths = Int((v * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}
