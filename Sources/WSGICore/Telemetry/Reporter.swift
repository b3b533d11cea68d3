import CWSGICore
import SystemCalls

/// The telemetry sender of a process (WSGITelemetryService): one thread that every interval
/// drains the recorder and sends a request-metrics datagram, then the slow-request records;
/// process_started when it starts, process_stopping and process_stopped (after a final tick)
/// when the process stops. The socket is a UNIX datagram socket used with MSG_DONTWAIT: a
/// missing ingester or a full socket drops the datagram (counted, and said once in the log
/// when sending works again), never blocking anything.
package enum TelemetryReporter {
    nonisolated(unsafe) static var fd: Int32 = -1
    nonisolated(unsafe) static var address = sockaddr_un()
    nonisolated(unsafe) static var config = TelemetryConfig()
    nonisolated(unsafe) static var pid: UInt32 = 0
    nonisolated(unsafe) static var parentPid: UInt32 = 0
    nonisolated(unsafe) static var processStart: Int64 = 0
    nonisolated(unsafe) static var identity = Identity()
    nonisolated(unsafe) static var encoder = TelemetryEncoder()
    nonisolated(unsafe) static var stopping = false
    nonisolated(unsafe) static var stoppedSent = false
    nonisolated(unsafe) static var thread: pthread_t?
    nonisolated(unsafe) static var lastTick: Int64 = 0
    nonisolated(unsafe) static var lastCPU: (Double, Double) = (0, 0)
    static let sendLock = Lock()
    static let wake = Condition()
    /// Datagrams the kernel refused (no ingester, socket full) since the last one it took.
    nonisolated(unsafe) static var dropped = 0
    nonisolated(unsafe) static var droppedTotal = 0
    nonisolated(unsafe) static var seq: UInt32 = 0

    struct Identity {
        var modWSGIVersion = modWSGIVersionString
        var pythonVersion = ""
        var apacheVersion = ""
        var mpmName = ""
        var hostname = ""
        var processGroup = ""
        var switchInterval = 0.0
    }

    static var running: Bool { fd >= 0 }

    /// Called once Python runs in the process (Apache child in embedded mode, daemon process).
    package static func start(processGroup: String, daemonMode: Bool, threadsMaximum: Int) {
        let c = TelemetryConfig.current
        guard let path = c.socketPath, fd < 0 else { return }
        config = c
        guard let addr = unixAddress(path) else { return }
        let s = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if s < 0 {
            Log.server(
                APLOG_WARNING, .telemetryOpenFailed,
                "Telemetry reporter could not open target 'unix:\(path)' (\(String(cString: strerror(wsgi_errno())))); metrics will not be sent."
            )
            return
        }
        var size: Int32 = 65536
        _ = setsockopt(s, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        address = addr
        fd = s
        pid = UInt32(getpid())
        parentPid = UInt32(getppid())
        processStart = Int64(wsgi_now())
        // Each as long as mod_wsgi's fixed-size copy of it allows (its buffer less the NUL).
        func cut(_ s: String, _ capacity: Int) -> String {
            String(decoding: s.utf8.prefix(capacity - 1), as: UTF8.self)
        }
        identity.processGroup = cut(processGroup, 64)
        identity.pythonVersion = cut(String(String(cString: Py_GetVersion()).prefix { $0 != " " && $0 != "\t" }), 64)
        identity.apacheVersion = cut(String(HostFacts.current.serverDescription.prefix { $0 != " " }), 64)
        identity.mpmName = cut(HostFacts.current.mpmName, 32)
        var host = [CChar](repeating: 0, count: 128)
        if gethostname(&host, 127) == 0 { identity.hostname = cut(String(cString: host), 128) }
        TelemetryRecorder.shared = TelemetryRecorder(
            daemonMode: daemonMode, threadsMaximum: threadsMaximum, slowThreshold: c.slowRequests,
            captureUserAgent: c.options & TelemetryConfig.captureUserAgent != 0)
        TelemetryRecorder.enabled = true
        // GC telemetry in the interpreters made so far (later ones install it at creation).
        for interp in Interpreters.all() { Interpreters.with(interp) { TelemetryGC.install(interp) } }
        lastTick = processStart
        lastCPU = cpuTimes()
        var t = pthread_t()
        let rc = pthread_create(
            &t, nil,
            { _ in
                TelemetryReporter.run()
                return nil
            }, nil)
        if rc != 0 {
            Log.server(
                APLOG_WARNING, .telemetryThreadFailed,
                "Unable to create telemetry reporter thread (\(String(cString: strerror(rc)))); metrics will not be sent."
            )
            TelemetryRecorder.enabled = false
            close(fd)
            fd = -1
            return
        }
        thread = t
    }

    private static func run() {
        // sys.getswitchinterval() of the main interpreter, once (as mod_wsgi).
        let g = PyGILState_Ensure()
        if let sys = PyImport_ImportModule("sys"), let f = PyObject_GetAttrString(sys, "getswitchinterval") {
            if let r = PyObject_CallNoArgs(f) {
                identity.switchInterval = PyFloat_AsDouble(r)
                wsgi_decref(r)
            }
            wsgi_decref(f)
            wsgi_decref(sys)
        }
        PyErr_Clear()
        PyGILState_Release(g)
        sendLock.withLock {
            encoder.begin(.processStarted, pid: pid, seq: nextSeq(), stamp: Double(processStart) / 1e6)
            identityFields(&encoder)
            if identity.switchInterval > 0 { encoder.f64(TelemetryField.switchInterval, identity.switchInterval) }
            send()
        }
        Log.server(
            APLOG_INFO, .telemetryStarted,
            "Telemetry reporter started; target='unix:\(config.socketPath ?? "")', interval=\(config.interval)s.")
        let period = Int64(max(config.interval, 0.1) * 1e6)
        var next = monotonicMicros() + period
        while true {
            let stop: Bool = sendLock.withLock {
                while !stopping {
                    let left = next - monotonicMicros()
                    if left <= 0 { break }
                    wake.wait(sendLock, micros: left)
                }
                return stopping
            }
            if stop { return }
            next += period
            tick()
        }
    }

    private static func nextSeq() -> UInt32 {
        seq &+= 1
        return seq
    }

    /// Sends the encoder's datagram (sendLock held). Only this process's reporter (or its
    /// stopping path) waits: when the ingester's queue is full (EAGAIN) it tries again for up to
    /// 100 ms, then drops; no ingester (ENOENT, ECONNREFUSED) drops at once.
    private static func send() {
        var n = -1
        for _ in 0..<20 {
            n = encoder.bytes.withUnsafeBytes { b in
                withUnsafePointer(to: &address) { a in
                    a.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(
                            fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT), __CONST_SOCKADDR_ARG(__sockaddr__: $0),
                            socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
            }
            let e = wsgi_errno()
            if n >= 0 || (e != EAGAIN && e != EINTR) { break }
            sleepMicros(5000)
        }
        if n < 0 {
            dropped += 1
            droppedTotal += 1
        } else if dropped > 0 {
            Log.server(
                APLOG_INFO, .telemetryDropped,
                "Telemetry: \(dropped) datagrams were dropped while 'unix:\(config.socketPath ?? "")' was not accepting them (\(droppedTotal) in all)."
            )
            dropped = 0
        }
    }

    private static func identityFields(_ e: inout TelemetryEncoder) {
        e.text(TelemetryField.modWSGIVersion, identity.modWSGIVersion)
        e.text(TelemetryField.pythonVersion, identity.pythonVersion)
        e.text(TelemetryField.apacheVersion, identity.apacheVersion)
        e.text(TelemetryField.mpmName, identity.mpmName)
        e.text(TelemetryField.hostname, identity.hostname)
        e.text(TelemetryField.processGroup, identity.processGroup)
        e.u64(TelemetryField.parentPid, UInt64(parentPid))
    }

    static func cpuTimes() -> (Double, Double) {
        var t = tms()
        _ = times(&t)
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (Double(t.tms_utime) / hz, Double(t.tms_stime) / hz)
    }

    /// One tick: the request-metrics datagram, then one datagram per slow request.
    static func tick() {
        guard let recorder = TelemetryRecorder.shared else { return }
        let now = Int64(wsgi_now())
        let s = recorder.drain(now: now)
        let cpu = cpuTimes()
        let rss = UInt64(Metrics.currentRSS())
        var ru = rusage()
        getrusage(RUSAGE_SELF, &ru)
        let maxRSS = UInt64(ru.ru_maxrss) * 1024
        sendLock.withLock {
            let period = max(Double(now - lastTick) / 1e6, 1e-9)
            lastTick = now
            let user = max(cpu.0 - lastCPU.0, 0) / period, system = max(cpu.1 - lastCPU.1, 0) / period
            lastCPU = cpu
            var e = encoder
            e.begin(.request, pid: pid, seq: nextSeq(), stamp: Double(now) / 1e6)
            identityFields(&e)
            e.f64(TelemetryField.samplePeriod, period)
            e.f64(TelemetryField.telemetryInterval, config.interval)
            e.f64(TelemetryField.slowRequestsThreshold, config.slowRequests ?? 0)
            if identity.switchInterval > 0 { e.f64(TelemetryField.switchInterval, identity.switchInterval) }
            e.u64(TelemetryField.requestCount, s.requests)
            e.f64(TelemetryField.requestThroughput, Double(s.requests) / period)
            e.f64(
                TelemetryField.capacityUtilization,
                Double(s.busyMicros) / 1e6 / period / Double(recorder.threadsMaximum))
            e.f64(TelemetryField.cpuUser, user)
            e.f64(TelemetryField.cpuSystem, system)
            e.f64(TelemetryField.cpu, user + system)
            e.u64(TelemetryField.memoryRSS, rss)
            e.u64(TelemetryField.memoryMaxRSS, maxRSS)
            e.u64(TelemetryField.threadsMaximum, recorder.threadsMaximum)
            e.u64(TelemetryField.threadsStarted, s.threadsStarted)
            e.u64(TelemetryField.threadsActive, s.threadsActive)
            typealias P = TelemetryRecorder.Phase
            let n = Double(s.requests)
            func mean(_ p: P) -> Double { s.requests > 0 ? s.phases[p.rawValue].total / n : 0 }
            let daemon = recorder.daemonMode && s.requests > 0
            // Means: mod_wsgi's order (server, application, request, gil, input, output; queue and
            // daemon after, in daemon mode and only when requests completed).
            for p in [P.server, .application, .request, .gilWait, .inputRead, .outputWrite] {
                e.f64(TelemetryField.phaseMean + UInt16(p.rawValue), mean(p))
            }
            if daemon {
                e.f64(TelemetryField.phaseMean + UInt16(P.queue.rawValue), mean(.queue))
                e.f64(TelemetryField.phaseMean + UInt16(P.daemon.rawValue), mean(.daemon))
            }
            var minMax = [P.server, .application, .request, .gilWait, .inputRead, .outputWrite]
            if daemon { minMax += [.queue, .daemon] }
            for p in minMax where s.phases[p.rawValue].minMicros != UInt64.max {
                e.f64(TelemetryField.phaseMin + UInt16(p.rawValue), Double(s.phases[p.rawValue].minMicros) / 1e6)
                e.f64(TelemetryField.phaseMax + UInt16(p.rawValue), Double(s.phases[p.rawValue].maxMicros) / 1e6)
            }
            var histograms = [P.server, .application]
            if daemon { histograms += [.queue, .daemon] }
            histograms += [.request, .gilWait, .inputRead, .outputWrite]
            for p in histograms {
                e.i32Array(TelemetryField.phaseBuckets + UInt16(p.rawValue), s.phases[p.rawValue].buckets)
            }
            e.u64(TelemetryField.inputBytes, s.inputBytes)
            e.u64(TelemetryField.inputReads, s.inputReads)
            e.u64(TelemetryField.outputBytes, s.outputBytes)
            e.u64(TelemetryField.outputWrites, s.outputWrites)
            for (i, v) in s.statusClasses.enumerated() { e.u64(TelemetryField.status1xx + UInt16(i), v) }
            if !s.completed.isEmpty {
                e.i32Array(TelemetryField.threadsCompleted, s.completed)
                e.f64Array(TelemetryField.threadsBusyTime, s.busy)
                e.f64Array(TelemetryField.threadsCPUTime, s.cpu)
                e.f64Array(TelemetryField.threadsCurrentElapsed, s.currentElapsed)
                e.f64Array(TelemetryField.threadsMaxDuration, s.maxDuration)
            }
            encoder = e
            send()
            let stamp = Double(wsgi_now()) / 1e6
            for r in s.completedSlow {
                slow(r.running, state: 1, duration: r.duration, stamp: stamp, finished: r)
            }
            for (r, elapsed) in s.runningSlow {
                slow(r, state: 0, duration: elapsed, stamp: stamp, finished: nil, now: now)
            }
        }
        gcTick()
    }

    /// The GC datagrams of every interpreter (after the process's, as mod_wsgi): its counters
    /// and queued collections are read with its GIL, one interpreter at a time; the datagrams
    /// are sent after, with no GIL held. An interpreter's name goes with them only when the
    /// process has more than one (the main interpreter's, "", never does).
    static func gcTick() {
        // As mod_wsgi: at most 32 interpreters a tick, names cut to 127 bytes.
        let interpreters = Interpreters.all().prefix(32)
        let named = interpreters.count > 1
        for interp in interpreters {
            guard let gc = interp.gcTelemetry else { continue }
            let (counters, events, dropped) = Interpreters.with(interp) {
                () -> (TelemetryGC.Counters, [TelemetryGC.Event], UInt64) in
                let c = TelemetryGC.readCounters()
                let (events, dropped) = gc.drain(max: TelemetryGC.maxEventsPerTick)
                return (c, events, dropped)
            }
            let name = named ? String(decoding: interp.name.utf8.prefix(127), as: UTF8.self) : ""
            sendLock.withLock {
                var e = encoder
                e.begin(.gcSnapshot, pid: pid, seq: nextSeq(), stamp: Double(wsgi_now()) / 1e6)
                for (base, values) in [
                    (TelemetryField.gcCount0, counters.count), (TelemetryField.gcThreshold0, counters.threshold),
                    (TelemetryField.gcCollections0, counters.collections),
                    (TelemetryField.gcCollected0, counters.collected),
                    (TelemetryField.gcUncollectable0, counters.uncollectable),
                ] {
                    for (i, v) in values.enumerated() { e.u64(base + UInt16(i), v) }
                }
                e.u64(TelemetryField.gcIsEnabled, counters.isEnabled)
                e.u64(TelemetryField.gcFreezeCount, counters.freezeCount)
                e.u64(TelemetryField.gcDroppedEvents, dropped)
                e.text(TelemetryField.interpreterName, name)
                encoder = e
                send()
                for ev in events {
                    var e = encoder
                    e.begin(.gcEvent, pid: pid, seq: nextSeq(), stamp: Double(wsgi_now()) / 1e6)
                    e.f64(TelemetryField.gcEventStart, Double(ev.startMicros) / 1e6)
                    e.f64(TelemetryField.gcEventDuration, Double(ev.durationMicros) / 1e6)
                    e.u64(TelemetryField.gcEventGeneration, UInt64(ev.generation))
                    e.u64(TelemetryField.gcEventCollected, ev.collected)
                    e.u64(TelemetryField.gcEventUncollectable, ev.uncollectable)
                    e.text(TelemetryField.interpreterName, name)
                    encoder = e
                    send()
                }
            }
        }
    }

    /// One slow_request datagram (sendLock held).
    private static func slow(
        _ r: TelemetryRecorder.RunningRequest, state: UInt64, duration: Int64, stamp: Double,
        finished f: TelemetryRecorder.SlowRecord?, now: Int64 = 0
    ) {
        func delta(_ a: Int64, _ b: Int64) -> Double { a > b && b > 0 ? Double(a - b) / 1e6 : 0 }
        let server: Double, queue: Double, daemon: Double
        if r.queueStart > 0 {
            server = delta(r.queueStart, r.requestStart)
            queue = delta(r.daemonStart, r.queueStart)
            daemon = delta(r.applicationStart, r.daemonStart)
        } else {
            server = delta(r.applicationStart, r.requestStart)
            queue = 0
            daemon = 0
        }
        let application = delta(f?.applicationFinish ?? now, r.applicationStart)
        var e = encoder
        e.begin(.slowRequest, pid: pid, seq: nextSeq(), stamp: stamp)
        e.u64(TelemetryField.slowState, state)
        e.f64(TelemetryField.slowStart, Double(r.start) / 1e6)
        e.f64(TelemetryField.slowDuration, Double(duration) / 1e6)
        e.u64(TelemetryField.slowThread, r.threadID)
        e.u64(TelemetryField.slowServerPid, UInt64(r.serverPid))
        e.u64(TelemetryField.slowInputBytes, f?.inputBytes ?? 0)
        e.u64(TelemetryField.slowInputReads, f?.inputReads ?? 0)
        e.u64(TelemetryField.slowOutputBytes, f?.outputBytes ?? 0)
        e.u64(TelemetryField.slowOutputWrites, f?.outputWrites ?? 0)
        e.f64(TelemetryField.slowCPUUser, f?.cpuUser ?? 0)
        e.f64(TelemetryField.slowCPUSystem, f?.cpuSystem ?? 0)
        e.f64(TelemetryField.slowServerTime, server)
        e.f64(TelemetryField.slowQueueTime, queue)
        e.f64(TelemetryField.slowDaemonTime, daemon)
        e.f64(TelemetryField.slowApplicationTime, application)
        e.f64(TelemetryField.slowGILWaitTime, Double(f?.gilWaitMicros ?? r.gilWaitMicros) / 1e6)
        e.u64(TelemetryField.slowGILWaitCount, f?.gilWaitCount ?? Int(r.gilWaitCount))
        e.f64(TelemetryField.slowInputReadTime, Double(f?.inputReadMicros ?? 0) / 1e6)
        e.f64(TelemetryField.slowOutputWriteTime, Double(f?.outputWriteMicros ?? 0) / 1e6)
        e.u64(TelemetryField.slowActiveAtStart, r.activeAtStart)
        e.u64(TelemetryField.slowActiveAtCompletion, f?.activeAtCompletion ?? 0)
        e.u64(TelemetryField.slowStatus, f?.status ?? 0)
        e.raw(TelemetryField.slowLogID, r.logID)
        e.raw(TelemetryField.slowMethod, r.method)
        e.raw(TelemetryField.slowScheme, r.scheme)
        e.raw(TelemetryField.slowHostname, r.hostname)
        e.raw(TelemetryField.slowScriptName, r.scriptName)
        e.raw(TelemetryField.slowPathInfo, r.pathInfo)
        e.raw(TelemetryField.slowProtocol, r.protocolName)
        e.raw(TelemetryField.slowPeerIP, r.peerIP)
        e.raw(TelemetryField.slowUserAgent, r.userAgent)
        encoder = e
        send()
    }

    // MARK: the end of the process

    /// process_stopping: the decision to stop (daemon supervisor, or an Apache child's exit).
    package static func stoppingDecided(_ reason: String) {
        guard running, let recorder = TelemetryRecorder.shared else { return }
        let active = recorder.counts().active
        sendLock.withLock {
            encoder.begin(.processStopping, pid: pid, seq: nextSeq(), stamp: Double(wsgi_now()) / 1e6)
            encoder.text(TelemetryField.hostname, identity.hostname)
            encoder.text(TelemetryField.processGroup, identity.processGroup)
            encoder.text(TelemetryField.shutdownReason, reason)
            encoder.u64(TelemetryField.activeAtDecision, active)
            send()
        }
    }

    /// Stops the thread, sends the partial interval and process_stopped (once), closes.
    package static func finish(_ reason: String) {
        guard running else { return }
        let joined: Bool = sendLock.withLock {
            if stoppedSent { return false }
            stopping = true
            wake.broadcast()
            return true
        }
        guard joined else { return }
        if let t = thread, !pthread_equal(t, pthread_self()).boolValue { pthread_join(t, nil) }
        thread = nil
        tick()
        stopped(reason)
    }

    /// process_stopped (idempotent: the graceful path or the shutdown watchdog, whichever is first).
    /// A forced exit (`graceful` false) is never a graceful drain, as mod_wsgi's reaper says.
    static func stopped(_ reason: String, graceful: Bool = true) {
        guard running, let recorder = TelemetryRecorder.shared else { return }
        let (lifetime, active) = recorder.counts()
        sendLock.withLock {
            guard !stoppedSent else { return }
            stoppedSent = true
            let now = Int64(wsgi_now())
            encoder.begin(.processStopped, pid: pid, seq: nextSeq(), stamp: Double(now) / 1e6)
            encoder.text(TelemetryField.hostname, identity.hostname)
            encoder.text(TelemetryField.processGroup, identity.processGroup)
            encoder.text(TelemetryField.shutdownReason, reason)
            encoder.f64(TelemetryField.uptime, Double(now - processStart) / 1e6)
            encoder.u64(TelemetryField.lifetimeRequests, lifetime)
            encoder.u64(TelemetryField.activeAtExit, active)
            encoder.u64(TelemetryField.gracefulDrain, graceful && active == 0 ? 1 : 0)
            send()
        }
    }
}

extension Int32 {
    fileprivate var boolValue: Bool { self != 0 }
}
