import CWSGICore
import SystemCalls

/// The threads of a daemon process: worker threads that take connections from the
/// group's socket one at a time, and the deadlock-timeout watch.
extension DaemonProcess {
    final class ThreadBody { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }

    /// Stack of the daemon's own threads that run no Python code (deadlock watch, shutdown
    /// watchdog). Thread stacks are private writable mappings, so they count against
    /// memory-limit (RLIMIT_DATA): the default (RLIMIT_STACK, 8 MB) would take that from the app.
    static let helperStackSize = 256 * 1024

    @discardableResult
    static func spawn(stackSize: Int = 0, _ body: @escaping () -> Void) -> pthread_t {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        if stackSize > 0 { pthread_attr_setstacksize(&attr, stackSize) }
        var t = pthread_t()
        let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        let rc = pthread_create(
            &t, &attr,
            { p in
                Unmanaged<ThreadBody>.fromOpaque(p!).takeRetainedValue().body()
                return nil
            }, box)
        pthread_attr_destroy(&attr)
        if rc != 0 {
            Log.server(
                APLOG_ALERT, .daemonThreadFailed,
                "Couldn't create a thread in daemon process: \(String(cString: strerror(rc))).")
            _exit(1)
        }
        return t
    }

    /// deadlock-timeout: a thread that takes the GIL every second; the supervisor stops
    /// the process when it could not for deadlock-timeout seconds.
    static func startDeadlockWatch() {
        guard PythonRuntime.initialized, state.group.deadlockTimeout > 0 else { return }
        // Nobody joins it: detached, so that its stack goes when it ends (ThreadSanitizer
        // reported it left as a finished, never-joined thread).
        let t = spawn(stackSize: helperStackSize) {
            while !DaemonProcess.state.stopAccepting {
                _ = Interpreters.acquire("")
                Interpreters.release()
                let now = monotonicMicros()
                DaemonProcess.state.locked { DaemonProcess.state.lastGIL = now }
                sleepMicros(1_000_000)
            }
        }
        pthread_detach(t)
    }

    /// One worker: waits in the poller (with every other idle worker) for a new connection or
    /// a pooled one with a request, serves one request on it, and parks the connection again.
    /// Only the `accept` of a new connection is under the accept lock, which closing the
    /// listener takes too, so no thread accepts on a descriptor closed (or reused) meanwhile.
    static func worker(_ index: Int) {
        let st = state!
        let g = st.group
        let readTimeout =
            g.socketTimeout > 0
            ? Int64(g.socketTimeout) * 1_000_000
            : DaemonProcess.start.facts.timeoutMicros
        let writeTimeout = g.responseSocketTimeout > 0 ? Int64(g.responseSocketTimeout) * 1_000_000 : readTimeout
        while !st.stopAccepting {
            var conn: WireConnection?
            switch st.poller.next(timeoutMillis: 5_000) {
            case .listener:
                // Another thread or process may have taken the connection: EAGAIN, none for us.
                conn = st.acceptLock.withLock {
                    guard !st.stopAccepting, st.listener >= 0,
                        let fd = ((try? syscallUnlessWouldBlock("accept4") { wsgi_accept_cloexec(st.listener) }) ?? nil)
                    else { return nil }
                    return WireConnection(fd: fd, timeout: readTimeout, writeTimeout: writeTimeout)
                }
            case .connection(let c):
                conn = c
            case .nothing:
                break
            }
            guard let conn else { continue }
            guard st.claim(index) else {
                // Stopping: a request unread is reset; the Apache child sends it again.
                conn.close()
                continue
            }
            let reusable = serve(conn, index)
            // serve() ends a request it read as not active; one it did not read (the child
            // closed the connection, an unreadable frame) is ended here.
            st.locked { st.active[index] = 0 }
            if !(reusable && !st.stopAccepting && st.poller.park(conn)) { conn.close() }
        }
    }
}
