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
        let rc = pthread_create(&t, &attr, { p in
            Unmanaged<ThreadBody>.fromOpaque(p!).takeRetainedValue().body()
            return nil
        }, box)
        pthread_attr_destroy(&attr)
        if rc != 0 {
            Log.server(APLOG_ALERT, .daemonThreadFailed, "Couldn't create a thread in daemon process: \(String(cString: strerror(rc))).")
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

    /// One worker: take a connection (one thread of the process at a time waits), serve it.
    static func worker(_ index: Int) {
        let st = state!
        while !st.stopAccepting {
            st.acceptLock.lock()
            var fd: Int32 = -1
            if !st.stopAccepting && st.listener >= 0 {
                var p = pollfd(fd: st.listener, events: Int16(POLLIN), revents: 0)
                if ((try? syscall("poll") { poll(&p, 1, 200) }) ?? 0) > 0 && !st.stopAccepting {
                    // Another process may have taken the connection: EAGAIN, none for us.
                    fd = ((try? syscallUnlessWouldBlock("accept4") { wsgi_accept_cloexec(st.listener) }) ?? nil) ?? -1
                }
            }
            st.acceptLock.unlock()
            if fd >= 0 { serve(fd, index) }
        }
    }
}
