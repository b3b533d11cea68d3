import CWSGICore

/// What a process accumulates for telemetry between two ticks, as mod_wsgi 6.1 does: per
/// phase a total, an exact min and max (µs) and a 65-bucket histogram; I/O and status-class
/// totals; per worker thread its completions, busy time, CPU time and longest request; and
/// the requests now running (for slow-request records). Requests write it at their end (and
/// claim a slot at their start) under one lock; the reporter thread drains it each tick.
/// With telemetry off nothing here runs: the request path tests `TelemetryRecorder.enabled`.
final class TelemetryRecorder {
    nonisolated(unsafe) static var enabled = false
    nonisolated(unsafe) static var shared: TelemetryRecorder!

    /// server, queue, daemon, application, request, gil_wait, input_read, output_write:
    /// the order of mod_wsgi's field ids (60 + phase, 70 + phase ...).
    enum Phase: Int, CaseIterable {
        case server = 0, queue, daemon, application, request, gilWait, inputRead, outputWrite
    }

    struct PhaseAggregate {
        var total = 0.0
        var minMicros = UInt64.max
        var maxMicros: UInt64 = 0
        var buckets = [Int32](repeating: 0, count: TelemetryBuckets.count)

        mutating func record(_ micros: UInt64) {
            total += Double(micros) / 1e6
            if micros < minMicros { minMicros = micros }
            if micros > maxMicros { maxMicros = micros }
            buckets[TelemetryBuckets.index(Double(micros) / 1e6)] += 1
        }
    }

    /// A request that is running (for the slow-request scan) or has just finished.
    struct RunningRequest {
        var threadID = 0
        var start: Int64 = 0  // µs since the epoch: when the thread took the request up (mod_wsgi's slot claim)
        var requestStart: Int64 = 0, queueStart: Int64 = 0, daemonStart: Int64 = 0, applicationStart: Int64 = 0
        var serverPid: UInt32 = 0
        var activeAtStart = 0
        /// GIL waits so far (µs, count), for a record of the request still running.
        var gilWaitMicros: Int64 = 0, gilWaitCount: Int64 = 0
        /// The URL and identity, as the bytes mod_wsgi sends (each cut to its bound, with "...").
        var method: [UInt8] = [], scheme: [UInt8] = [], hostname: [UInt8] = [], scriptName: [UInt8] = []
        var pathInfo: [UInt8] = [], protocolName: [UInt8] = [], peerIP: [UInt8] = [], userAgent: [UInt8] = []
        var logID: [UInt8] = []
    }

    /// A finished slow request, as it goes on the wire (state 1).
    struct SlowRecord {
        var running: RunningRequest
        var duration: Int64
        var applicationFinish: Int64
        var status = 0
        var inputBytes = 0, inputReads = 0, outputBytes = 0, outputWrites = 0
        var inputReadMicros: Int64 = 0, outputWriteMicros: Int64 = 0
        var gilWaitMicros: Int64 = 0, gilWaitCount = 0
        var cpuUser = 0.0, cpuSystem = 0.0
        var activeAtCompletion = 0
    }

    struct ThreadStats {
        var completed: Int32 = 0
        var busyMicros: Int64 = 0
        var cpuMicros: Int64 = 0
        var maxDurationMicros: Int64 = 0
        /// When the running request's busy time was last counted (µs; 0: idle).
        var busySince: Int64 = 0
        var running: RunningRequest? = nil
    }

    let lock = Lock()
    let daemonMode: Bool
    let threadsMaximum: Int
    let slowThresholdMicros: Int64
    let captureUserAgent: Bool

    var phases = [PhaseAggregate](repeating: PhaseAggregate(), count: Phase.allCases.count)
    var requests = 0
    var lifetimeRequests = 0
    var active = 0
    var inputBytes = 0, inputReads = 0, outputBytes = 0, outputWrites = 0
    var statusClasses = [UInt64](repeating: 0, count: 5)
    var threads: [ThreadStats]
    var completedSlow: [SlowRecord] = []
    var droppedSlow = 0

    init(daemonMode: Bool, threadsMaximum: Int, slowThreshold: Double?, captureUserAgent: Bool) {
        self.daemonMode = daemonMode
        self.threadsMaximum = max(threadsMaximum, 1)
        slowThresholdMicros = Int64((slowThreshold ?? 0) * 1e6)
        self.captureUserAgent = captureUserAgent
        threads = [ThreadStats](repeating: ThreadStats(), count: min(self.threadsMaximum, 128))
        liveGIL = .allocate(capacity: 2 * threads.count)
        liveGIL.initialize(repeating: 0, count: 2 * threads.count)
    }

    /// Request threads get a slot each, in the order they first run a request (our thread ids
    /// also count threads that never serve requests). Lock held.
    private var slots: [Int: Int] = [:]
    private func slot(_ threadID: Int) -> Int? {
        if let i = slots[threadID] { return i }
        guard slots.count < threads.count else { return nil }
        slots[threadID] = slots.count
        return slots.count - 1
    }

    // MARK: the request path (GIL held; the lock is only contended by the reporter's tick)

    /// The application is about to be called.
    /// Returns where the request adds up its GIL waits as they happen (two words: µs, count),
    /// which the reporter reads for a record of it while it still runs, as mod_wsgi's slot.
    func begin(_ req: RunningRequest) -> UnsafeMutablePointer<Int64>? {
        lock.withLock {
            active += 1
            guard let i = slot(req.threadID) else { return nil }
            var r = req
            r.activeAtStart = active
            threads[i].busySince = req.start
            threads[i].running = r
            let gil = liveGIL + 2 * i
            wsgi_atomic_store(gil, 0)
            wsgi_atomic_store(gil + 1, 0)
            return gil
        }
    }

    /// Per slot: the running request's GIL waits (µs, count), added to by its own thread.
    private let liveGIL: UnsafeMutablePointer<Int64>

    struct Finished {
        var threadID: Int
        var claimed: Int64
        var requestStart: Int64, queueStart: Int64, daemonStart: Int64
        var applicationStart: Int64, applicationFinish: Int64
        var status: Int
        var inputBytes: Int, inputReads: Int, outputBytes: Int, outputWrites: Int
        var inputReadMicros: Int64, outputWriteMicros: Int64
        var gilWaitMicros: Int64, gilWaitCount: Int
        var cpuMicros: Int64
        var cpuUser: Double, cpuSystem: Double
    }

    /// The request is over (mod_wsgi's wsgi_record_request_times).
    func end(_ f: Finished) {
        func delta(_ a: Int64, _ b: Int64) -> UInt64 { a > b && b > 0 ? UInt64(a - b) : 0 }
        let server: UInt64, queue: UInt64, daemon: UInt64
        if f.queueStart > 0 {
            server = delta(f.queueStart, f.requestStart)
            queue = delta(f.daemonStart, f.queueStart)
            daemon = delta(f.applicationStart, f.daemonStart)
        } else {
            server = delta(f.applicationStart, f.requestStart)
            queue = 0
            daemon = 0
        }
        let application = delta(f.applicationFinish, f.applicationStart)
        let request = server + queue + daemon + application
        lock.withLock {
            requests += 1
            lifetimeRequests += 1
            phases[Phase.server.rawValue].record(server)
            phases[Phase.application.rawValue].record(application)
            phases[Phase.request.rawValue].record(request)
            phases[Phase.inputRead.rawValue].record(UInt64(max(f.inputReadMicros, 0)))
            phases[Phase.outputWrite.rawValue].record(UInt64(max(f.outputWriteMicros, 0)))
            phases[Phase.gilWait.rawValue].record(UInt64(max(f.gilWaitMicros, 0)))
            if daemonMode {
                phases[Phase.queue.rawValue].record(queue)
                phases[Phase.daemon.rawValue].record(daemon)
            }
            inputBytes += f.inputBytes
            inputReads += f.inputReads
            outputBytes += f.outputBytes
            outputWrites += f.outputWrites
            // As mod_wsgi: no start_response (0) is a 5xx; out of range is dropped.
            if f.status == 0 {
                statusClasses[4] += 1
            } else if f.status >= 100 && f.status < 600 {
                statusClasses[f.status / 100 - 1] += 1
            }
            active -= 1
            guard let i = slot(f.threadID) else { return }
            threads[i].completed += 1
            let since = threads[i].busySince
            threads[i].busyMicros += since > 0 ? max(f.applicationFinish - since, 0) : 0
            threads[i].busySince = 0
            threads[i].cpuMicros += f.cpuMicros
            // As mod_wsgi: a thread's durations and the slow threshold count from the slot claim.
            let duration = max(f.applicationFinish - (threads[i].running?.start ?? f.claimed), 0)
            threads[i].maxDurationMicros = max(threads[i].maxDurationMicros, duration)
            if let running = threads[i].running, slowThresholdMicros > 0, duration >= slowThresholdMicros {
                if completedSlow.count < 1024 {
                    completedSlow.append(
                        SlowRecord(
                            running: running, duration: duration, applicationFinish: f.applicationFinish,
                            status: f.status, inputBytes: f.inputBytes, inputReads: f.inputReads,
                            outputBytes: f.outputBytes, outputWrites: f.outputWrites,
                            inputReadMicros: f.inputReadMicros, outputWriteMicros: f.outputWriteMicros,
                            gilWaitMicros: f.gilWaitMicros, gilWaitCount: f.gilWaitCount, cpuUser: f.cpuUser,
                            cpuSystem: f.cpuSystem, activeAtCompletion: active + 1))
                } else {
                    droppedSlow += 1
                }
            }
            threads[i].running = nil
        }
    }

    // MARK: the reporter's tick

    struct Snapshot {
        var requests = 0
        var phases: [PhaseAggregate] = []
        var inputBytes = 0, inputReads = 0, outputBytes = 0, outputWrites = 0
        var statusClasses: [UInt64] = []
        var busyMicros: Int64 = 0
        var threadsStarted = 0
        var threadsActive = 0
        var completed: [Int32] = [], busy: [Double] = [], cpu: [Double] = []
        var currentElapsed: [Double] = [], maxDuration: [Double] = []
        var completedSlow: [SlowRecord] = []
        var runningSlow: [(RunningRequest, Int64)] = []
    }

    /// Drains the interval's accumulators (drain-and-reset, as mod_wsgi).
    func drain(now: Int64) -> Snapshot {
        var s = Snapshot()
        lock.withLock {
            s.requests = requests
            s.phases = phases
            s.inputBytes = inputBytes; s.inputReads = inputReads
            s.outputBytes = outputBytes; s.outputWrites = outputWrites
            s.statusClasses = statusClasses
            s.threadsStarted = slots.count
            for i in threads.indices {
                var t = threads[i]
                var tail: Int64 = 0, elapsed: Int64 = 0
                if let r = t.running {
                    if t.busySince > 0 { tail = max(now - t.busySince, 0); t.busySince = now }
                    elapsed = max(now - r.start, 0)
                    if slowThresholdMicros > 0 && elapsed >= slowThresholdMicros && s.runningSlow.count < 16 {
                        var r = r
                        r.gilWaitMicros = wsgi_atomic_load(liveGIL + 2 * i)
                        r.gilWaitCount = wsgi_atomic_load(liveGIL + 2 * i + 1)
                        s.runningSlow.append((r, elapsed))
                    }
                }
                let busy = t.busyMicros + tail
                s.busyMicros += busy
                s.completed.append(t.completed)
                s.busy.append(Double(Int32(clamping: busy)) / 1e6)
                s.cpu.append(Double(Int32(clamping: t.cpuMicros)) / 1e6)
                s.currentElapsed.append(Double(Int32(clamping: elapsed / 1000)) / 1e3)
                s.maxDuration.append(Double(Int32(clamping: t.maxDurationMicros / 1000)) / 1e3)
                if t.completed > 0 || t.running != nil { s.threadsActive += 1 }
                t.completed = 0; t.busyMicros = 0; t.cpuMicros = 0; t.maxDurationMicros = 0
                threads[i] = t
            }
            s.completedSlow = completedSlow
            completedSlow.removeAll(keepingCapacity: true)
            requests = 0
            phases = [PhaseAggregate](repeating: PhaseAggregate(), count: Phase.allCases.count)
            inputBytes = 0; inputReads = 0; outputBytes = 0; outputWrites = 0
            statusClasses = [UInt64](repeating: 0, count: 5)
        }
        return s
    }

    func counts() -> (lifetime: Int, active: Int) { lock.withLock { (lifetimeRequests, active) } }
}
