import CModWSGI
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
        spawn(stackSize: helperStackSize) {
            while !DaemonProcess.state.stopAccepting {
                _ = Interpreters.acquire("")
                Interpreters.release()
                let now = monotonicMicros()
                DaemonProcess.state.locked { DaemonProcess.state.lastGIL = now }
                sleepMicros(1_000_000)
            }
        }
    }

    /// One worker. Leader/followers: the thread holding the accept lock waits in the poller
    /// for a new connection or a pooled one with a request, takes it, lets the next thread
    /// lead, serves the request, and parks the connection again. A process takes a new
    /// connection only when it has a free thread (another process of the group may then).
    static func worker(_ index: Int) {
        let st = state!
        let g = st.group
        let readTimeout =
            g.socketTimeout > 0
            ? Int64(g.socketTimeout) * 1_000_000
            : Int64(ModuleState.mainServer?.pointee.timeout ?? 60_000_000)
        let writeTimeout = g.responseSocketTimeout > 0 ? Int64(g.responseSocketTimeout) * 1_000_000 : readTimeout
        while !st.stopAccepting {
            st.acceptLock.lock()
            var conn: WireConnection?
            if !st.stopAccepting && st.listener >= 0 {
                switch st.poller.next(timeoutMillis: 200) {
                case .listener:
                    // Another process may have taken the connection: EAGAIN, none for us.
                    if !st.stopAccepting,
                        let fd = ((try? syscallUnlessWouldBlock("accept4") { wsgi_accept_cloexec(st.listener) }) ?? nil)
                    {
                        conn = WireConnection(fd: fd, timeout: readTimeout, writeTimeout: writeTimeout)
                    }
                case .connection(let c):
                    conn = c
                case .nothing:
                    break
                }
            }
            st.acceptLock.unlock()
            guard let conn else { continue }
            if st.stopAccepting {
                // Stopping: a request unread is reset; the Apache child sends it again.
                conn.close()
                continue
            }
            let reusable = serve(conn, index)
            if !(reusable && !st.stopAccepting && st.poller.park(conn)) { conn.close() }
        }
    }
}
