import CWSGICore

/// The counters behind mod_wsgi.process_metrics() and request_metrics(), per process
/// (every interpreter of the process shares them). Written and read with the GIL held, and
/// inside `Interpreters.shared` (interpreters with a GIL of their own run at the same time).
enum Metrics {
    /// When this process started serving (µs since the epoch).
    nonisolated(unsafe) static var processStart: Int64 = 0
    nonisolated(unsafe) static var requestCount = 0
    /// Thread-seconds spent running applications.
    nonisolated(unsafe) static var busyTime = 0.0
    nonisolated(unsafe) static var activeRequests = 0
    /// Requests completed per request thread (thread_id → count).
    nonisolated(unsafe) static var threadRequests: [Int: Int] = [:]
    /// request_metrics() was called once (or start_recording_metrics()): record intervals.
    nonisolated(unsafe) static var recording = false
    nonisolated(unsafe) static var interval = Interval()

    static func processStarted() {
        Interpreters.shared { if processStart == 0 { processStart = Int64(wsgi_now()) } }
    }

    /// The 16 time buckets of mod_wsgi 4.9: i = 0…13 count durations ≤ 5 ms·2^i,
    /// 14 counts longer ones, 15 stays 0.
    static func bucket(_ seconds: Double) -> Int {
        var limit = 0.005
        for i in 0..<14 {
            if seconds <= limit { return i }
            limit *= 2
        }
        return 14
    }

    struct Timing {
        var sum = 0.0
        var buckets = [Int](repeating: 0, count: 16)
        mutating func add(_ seconds: Double) {
            let s = max(seconds, 0)
            sum += s
            buckets[Metrics.bucket(s)] += 1
        }
    }

    /// What request_metrics() reports about one interval.
    struct Interval {
        var start: Int64 = 0
        var cpuUser = 0.0, cpuSystem = 0.0
        var count = 0
        var server = Timing(), queue = Timing(), daemon = Timing(), application = Timing()
        var inputRead = Timing(), outputWrite = Timing(), gilWait = Timing()
        var gilWaitCount = 0
        var inputBytes = 0, inputReads = 0, outputBytes = 0, outputWrites = 0
        var busy = 0.0
        var threadCounts: [Int: Int] = [:]
        var daemonMode = false
    }

    /// One finished request (GIL held).
    static func record(_ life: RequestLife, threadID: Int, appSeconds: Double, request: WSGIRequest) {
        requestCount += 1
        busyTime += appSeconds
        guard recording else { return }
        let t = life.times
        interval.count += 1
        interval.busy += appSeconds
        interval.application.add(appSeconds)
        let appStart = Double(life.appStart) / 1e6
        if t.queueStart > 0 {
            interval.daemonMode = true
            interval.server.add(t.queueStart - t.requestStart)
            interval.queue.add(t.daemonStart - t.queueStart)
            interval.daemon.add(appStart - t.daemonStart)
        } else if t.requestStart > 0 {
            interval.server.add(appStart - t.requestStart)
        }
        interval.inputRead.add(Double(life.inputTime) / 1e6)
        interval.outputWrite.add(Double(life.outputTime) / 1e6)
        interval.gilWait.add(Double(life.gilWaitTime) / 1e6)
        interval.gilWaitCount += life.gilWaitCount
        interval.inputBytes += request.bytesRead
        interval.inputReads += life.inputReads
        interval.outputBytes += Int(request.bytesSent)
        interval.outputWrites += life.outputWrites
        interval.threadCounts[threadID, default: 0] += 1
    }

    static func cpuTimes() -> (user: Double, system: Double, maxRSS: Int) {
        var ru = rusage()
        getrusage(RUSAGE_SELF, &ru)
        return (
            Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) / 1e6,
            Double(ru.ru_stime.tv_sec) + Double(ru.ru_stime.tv_usec) / 1e6,
            Int(ru.ru_maxrss) * 1024
        )
    }

    static func currentRSS() -> Int {
        guard let s = readSmallFile("/proc/self/statm") else { return 0 }
        let fields = s.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func startRecording() {
        let cpu = cpuTimes()
        interval = Interval()
        interval.start = Int64(wsgi_now())
        interval.cpuUser = cpu.user
        interval.cpuSystem = cpu.system
        recording = true
    }

    // MARK: the Python functions

    static func processMetrics() -> PyObj {
        processStarted()
        typealias Counts = (busy: Double, count: Int, start: Int64, threads: [Int: Int], active: Int)
        let c: Counts = Interpreters.shared {
            (Self.busyTime, Self.requestCount, Self.processStart, Self.threadRequests, Self.activeRequests)
        }
        let busyTime = c.busy, requestCount = c.count, processStart = c.start
        let threadRequests = c.threads, activeRequests = c.active
        let d = PyDict_New()!
        let cpu = cpuTimes()
        let now = Int64(wsgi_now())
        Py.setItem(d, "pid", Py.int(Int(getpid())))
        Py.setItem(d, "request_busy_time", PyFloat_FromDouble(busyTime))
        Py.setItem(d, "request_count", Py.int(requestCount))
        Py.setItem(d, "memory_max_rss", Py.int(cpu.maxRSS))
        Py.setItem(d, "memory_rss", Py.int(currentRSS()))
        Py.setItem(d, "cpu_user_time", PyFloat_FromDouble(cpu.user))
        Py.setItem(d, "cpu_system_time", PyFloat_FromDouble(cpu.system))
        Py.setItem(d, "restart_time", PyFloat_FromDouble(Double(processStart) / 1e6))
        Py.setItem(d, "current_time", PyFloat_FromDouble(Double(now) / 1e6))
        Py.setItem(d, "running_time", Py.int(Int((now - processStart) / 1_000_000)))
        Py.setItem(d, "request_threads", Py.int(threadRequests.count))
        Py.setItem(d, "active_requests", Py.int(activeRequests))
        let threads = PyList_New(0)!
        for id in threadRequests.keys.sorted() {
            let t = PyDict_New()!
            Py.setItem(t, "thread_id", Py.int(id))
            Py.setItem(t, "request_count", Py.int(threadRequests[id]!))
            PyList_Append(threads, t); wsgi_decref(t)
        }
        Py.setItem(d, "threads", threads)
        return d
    }

    private static func list(_ values: [Int]) -> PyObj {
        let l = PyList_New(0)!
        for v in values { let o = Py.int(v); PyList_Append(l, o); wsgi_decref(o) }
        return l
    }

    /// First call: seeds the baseline, starts recording and returns {}. Later calls
    /// report the interval since the previous call and start a new one.
    static func requestMetrics() -> PyObj {
        let d = PyDict_New()!
        // The interval so far, and a new one from now.
        let taken = Interpreters.shared { () -> (Interval, Int, Int)? in
            guard recording else {
                startRecording()
                return nil
            }
            let taken = (interval, threadRequests.count, activeRequests)
            startRecording()
            return taken
        }
        guard let (i, threadsStarted, active) = taken else { return d }
        let now = Int64(wsgi_now())
        let cpu = cpuTimes()
        let period = max(Double(now - i.start) / 1e6, 1e-6)
        let maxThreads = max(ModuleState.threadsPerProcess, 1)
        func avg(_ t: Timing) -> PyObj { PyFloat_FromDouble(i.count > 0 ? t.sum / Double(i.count) : 0.0) }
        let daemon = !ModuleState.processGroup.isEmpty || i.daemonMode
        Py.setItem(d, "pid", Py.int(Int(getpid())))
        Py.setItem(d, "start_time", PyFloat_FromDouble(Double(i.start) / 1e6))
        Py.setItem(d, "stop_time", PyFloat_FromDouble(Double(now) / 1e6))
        Py.setItem(d, "sample_period", PyFloat_FromDouble(period))
        Py.setItem(d, "cpu_user_time", PyFloat_FromDouble((cpu.user - i.cpuUser) / period))
        Py.setItem(d, "cpu_system_time", PyFloat_FromDouble((cpu.system - i.cpuSystem) / period))
        Py.setItem(d, "memory_max_rss", Py.int(cpu.maxRSS))
        Py.setItem(d, "memory_rss", Py.int(currentRSS()))
        Py.setItem(d, "request_threads_maximum", Py.int(maxThreads))
        Py.setItem(d, "request_threads_started", Py.int(threadsStarted))
        Py.setItem(d, "request_threads_active", Py.int(active))
        Py.setItem(d, "capacity_utilization", PyFloat_FromDouble(i.busy / period / Double(maxThreads)))
        Py.setItem(d, "request_count", Py.int(i.count))
        Py.setItem(d, "request_throughput", PyFloat_FromDouble(Double(i.count) / period))
        Py.setItem(d, "server_time", avg(i.server))
        Py.setItem(d, "queue_time", daemon ? avg(i.queue) : Py.none)
        Py.setItem(d, "daemon_time", daemon ? avg(i.daemon) : Py.none)
        Py.setItem(d, "application_time", avg(i.application))
        Py.setItem(d, "server_time_buckets", list(i.server.buckets))
        Py.setItem(d, "queue_time_buckets", list(i.queue.buckets))
        Py.setItem(d, "daemon_time_buckets", list(i.daemon.buckets))
        Py.setItem(d, "application_time_buckets", list(i.application.buckets))
        var perThread = [Int](repeating: 0, count: maxThreads)
        for (id, n) in i.threadCounts { perThread[min(max(id - 1, 0), maxThreads - 1)] += n }
        Py.setItem(d, "request_threads_buckets", list(perThread))
        // mod_wsgi 6.x additions (no 4.9 key changes meaning).
        Py.setItem(d, "gil_wait_time", avg(i.gilWait))
        Py.setItem(d, "gil_wait_count", Py.int(i.gilWaitCount))
        Py.setItem(d, "gil_wait_time_buckets", list(i.gilWait.buckets))
        Py.setItem(d, "input_read_time", avg(i.inputRead))
        Py.setItem(d, "input_read_time_buckets", list(i.inputRead.buckets))
        Py.setItem(d, "output_write_time", avg(i.outputWrite))
        Py.setItem(d, "output_write_time_buckets", list(i.outputWrite.buckets))
        Py.setItem(d, "input_bytes", Py.int(i.inputBytes))
        Py.setItem(d, "input_reads", Py.int(i.inputReads))
        Py.setItem(d, "output_bytes", Py.int(i.outputBytes))
        Py.setItem(d, "output_writes", Py.int(i.outputWrites))
        return d
    }
}
