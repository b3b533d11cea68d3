import CWSGICore

/// One request as the mod_wsgi API sees it: its `request_data()` dict (also in
/// `active_requests`), the events delivered about it, and what request_finished and
/// request_metrics() report (byte counts, read/write times, thread CPU time).
/// Events are built only when somebody subscribed when the request started.
/// `finished` must be called exactly once (with the GIL): it releases the Python objects.
final class RequestLife {
    let api: InterpreterAPI
    let data: PyObj
    let requestID: PyObj?
    let events: Bool
    let threadID: Int
    /// The Apache child that accepted the request, and when this thread took it up (µs).
    let serverPid: UInt32
    let claimed: Int64
    /// When the application was called (µs since the epoch).
    let appStart: Int64
    let spec: ScriptRequest
    private var cpuStart: (Double, Double) = (0, 0)
    var times = Times()

    // Counted by wsgi.input and the response writer.
    var inputReads = 0, inputTime: Int64 = 0
    var outputWrites = 0, outputTime: Int64 = 0
    var gilWaitTime: Int64 = 0, gilWaitCount = 0
    var telemetryCPU: (Double, Double) = (0, 0)
    /// With telemetry: where the GIL waits are also added up for the reporter (two words).
    var liveGIL: UnsafeMutablePointer<Int64>?

    /// A wait to take the GIL back, `micros` long.
    @inline(__always)
    func waitedForGIL(_ micros: Int64) {
        gilWaitTime += micros
        gilWaitCount += 1
        if let g = liveGIL {
            wsgi_atomic_add(g, micros)
            wsgi_atomic_add(g + 1, 1)
        }
    }

    struct Times {
        var requestStart = 0.0, queueStart = 0.0, daemonStart = 0.0
    }

    init(api: InterpreterAPI, environ: PyObj, threadID: Int, spec: ScriptRequest, appStart: Int64, claimed: Int64) {
        self.api = api
        self.threadID = threadID
        self.spec = spec
        self.appStart = appStart
        self.serverPid = spec.serverPid
        self.claimed = claimed
        data = PyDict_New()!
        requestID = PyDict_GetItemString(environ, "mod_wsgi.request_id").map { wsgi_new_ref($0) }
        events = api.hasSubscribers
        if let requestID { PyDict_SetItem(api.activeRequests, requestID, data) }
        times.requestStart = Double(spec.requestStart) / 1e6
        times.queueStart = Double(spec.queueStart) / 1e6
        times.daemonStart = Double(spec.daemonStart) / 1e6
        if events { cpuStart = Self.threadCPU() }
        Interpreters.shared {
            Metrics.activeRequests += 1
            // As mod_wsgi: a thread's count includes its running request; request_count does not.
            Metrics.threadRequests[threadID, default: 0] += 1
        }
        MetricsRecorder.applicationStarted()
        if TelemetryRecorder.enabled { TelemetryRecorder.requestBegan(self, environ: environ) }
        if RequestInterrupt.enabled { RequestInterrupt.began(api, start: appStart) }
    }

    static func threadCPU() -> (Double, Double) {
        var ru = rusage()
        guard getrusage(RUSAGE_THREAD, &ru) == 0 else { return (0, 0) }
        return (
            Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) / 1e6,
            Double(ru.ru_stime.tv_sec) + Double(ru.ru_stime.tv_usec) / 1e6
        )
    }

    private func newEvent() -> PyObj {
        let e = PyDict_New()!
        if let requestID { PyDict_SetItemString(e, "request_id", requestID) }
        PyDict_SetItemString(e, "request_data", data)
        return e
    }

    /// request_start, queue_start, daemon_start: float seconds since the epoch (0.0 where they
    /// do not apply), as in the environ.
    private func setTimes(_ e: PyObj) {
        Py.setItem(e, "request_start", PyFloat_FromDouble(times.requestStart))
        Py.setItem(e, "queue_start", PyFloat_FromDouble(times.queueStart))
        Py.setItem(e, "daemon_start", PyFloat_FromDouble(times.daemonStart))
    }

    private func publish(_ name: String, _ event: PyObj) {
        InterpreterAPI.publish(api.eventCallbacks, name, event)
    }

    /// request_started: returns the application to call (a new reference), which a
    /// subscriber may have replaced through `application_object`.
    func started(application: PyObj, environ: PyObj) -> PyObj {
        guard events else { return wsgi_new_ref(application) }
        let e = newEvent()
        defer { wsgi_decref(e) }
        Py.setItem(e, "thread_id", Py.int(threadID))
        Py.setItem(e, "daemon_connects", Py.int(spec.daemonConnects))
        Py.setItem(e, "daemon_restarts", Py.int(spec.daemonRestarts))
        Py.setItem(e, "server_pid", Py.int(Int(spec.serverPid)))
        setTimes(e)
        PyDict_SetItemString(e, "application_object", application)
        Py.setItem(e, "callable_object", Py.string(spec.callableObject))
        PyDict_SetItemString(e, "request_environ", environ)
        Py.setItem(e, "application_start", PyFloat_FromDouble(Double(appStart) / 1e6))
        publish("request_started", e)
        return wsgi_new_ref(PyDict_GetItemString(e, "application_object") ?? application)
    }

    /// response_started, from start_response (after its arguments were accepted).
    func responseStarted(status: PyObj, headers: PyObj, excInfo: PyObj?) {
        guard events else { return }
        let e = newEvent()
        PyDict_SetItemString(e, "response_status", status)
        PyDict_SetItemString(e, "response_headers", headers)
        PyDict_SetItemString(e, "exception_info", excInfo ?? wsgi_py_none())
        publish("response_started", e)
        wsgi_decref(e)
    }

    /// request_exception, with the pending exception (left pending for the caller).
    func exception() {
        guard events else { return }
        var type: PyObj?, value: PyObj?, tb: PyObj?
        PyErr_Fetch(&type, &value, &tb)
        guard type != nil else { return }
        PyErr_NormalizeException(&type, &value, &tb)
        if let tb, let value { PyException_SetTraceback(value, tb) }
        let e = newEvent()
        Py.setItem(
            e, "exception_info",
            Py.tuple([
                wsgi_new_ref(type!), wsgi_new_ref(value ?? wsgi_py_none()),
                wsgi_new_ref(tb ?? wsgi_py_none()),
            ]))
        publish("request_exception", e)
        wsgi_decref(e)
        PyErr_Restore(type, value, tb)
    }

    /// The request is over: request_finished, metrics, and out of active_requests.
    func finished(_ request: WSGIRequest, status: Int32) {
        let finish = Int64(wsgi_now())
        let appSeconds = Double(finish - appStart) / 1e6
        if events {
            let e = newEvent()
            Py.setItem(e, "thread_id", Py.int(threadID))
            Py.setItem(e, "server_pid", Py.int(Int(spec.serverPid)))
            setTimes(e)
            Py.setItem(e, "input_reads", Py.int(inputReads))
            Py.setItem(e, "input_length", Py.int(request.bytesRead))
            Py.setItem(e, "input_time", PyFloat_FromDouble(Double(inputTime) / 1e6))
            Py.setItem(e, "output_length", Py.int(Int(request.bytesSent)))
            Py.setItem(e, "output_writes", Py.int(outputWrites))
            Py.setItem(e, "output_time", PyFloat_FromDouble(Double(outputTime) / 1e6))
            // Thread CPU time; as mod_wsgi, scaled down to the application's time when above it.
            let cpu = Self.threadCPU()
            var user = max(cpu.0 - cpuStart.0, 0), system = max(cpu.1 - cpuStart.1, 0)
            let total = user + system
            if total > appSeconds && total > 0 {
                user = user / total * appSeconds
                system = appSeconds - user
            }
            Py.setItem(e, "cpu_user_time", PyFloat_FromDouble(user))
            Py.setItem(e, "cpu_system_time", PyFloat_FromDouble(system))
            Py.setItem(e, "cpu_time", PyFloat_FromDouble(user + system))
            Py.setItem(e, "application_finish", PyFloat_FromDouble(Double(finish) / 1e6))
            Py.setItem(e, "application_time", PyFloat_FromDouble(appSeconds))
            // mod_wsgi 6.x additions.
            Py.setItem(e, "status", Py.int(Int(request.status != 0 ? request.status : status)))
            Py.setItem(e, "gil_wait_time", PyFloat_FromDouble(Double(gilWaitTime) / 1e6))
            Py.setItem(e, "gil_wait_count", Py.int(gilWaitCount))
            publish("request_finished", e)
            wsgi_decref(e)
        }
        if MetricsRecorder.slot != nil {
            MetricsRecorder.applicationFinished(
                status: Int(request.status != 0 ? request.status : status), appMicros: finish - appStart,
                queueMicros: times.queueStart > 0 ? Int64((times.daemonStart - times.queueStart) * 1e6) : -1)
        }
        if RequestInterrupt.enabled { RequestInterrupt.ended() }
        if TelemetryRecorder.enabled {
            TelemetryRecorder.requestFinished(self, request: request, status: status, finish: finish)
        }
        Interpreters.shared {
            Metrics.activeRequests -= 1
            Metrics.record(self, threadID: threadID, appSeconds: appSeconds, request: request)
        }
        if let requestID {
            if PyDict_DelItem(api.activeRequests, requestID) != 0 { PyErr_Clear() }
            wsgi_decref(requestID)
        }
        wsgi_decref(data)
    }
}
