import CModWSGI
import WSGICore

/// WSGIMetricsURL: the board's counters in Prometheus' text exposition format 0.0.4, served
/// by Apache's child itself (no Python). Local clients only unless WSGIMetricsAllow names
/// other networks; the others get 403.
enum MetricsEndpoint {
    nonisolated(unsafe) static var allowed: [OpaquePointer] = []

    /// post_config (parent), before the daemon processes are forked.
    static func postConfig(pconf: OpaquePointer?, server s: UnsafeMutablePointer<server_rec>) {
        let global = GlobalConfig.current
        wsgi_set_metrics_url(global.metricsURL.map { UnsafePointer($0.pooled(pconf)) })
        if let list = global.metricsAllow {
            allowed = list.subnets
        } else {
            allowed = ["127.0.0.0/8", "::1"].compactMap { net in
                let parts = net.split(separator: "/").map(String.init)
                var sub: OpaquePointer? = nil
                let rv = apr_ipsubnet_create(&sub, parts[0], parts.count > 1 ? parts[1] : nil, pconf)
                return rv == APR_SUCCESS ? sub : nil
            }
        }
        guard ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG else { return }
        MetricsBoard.configure(global: global, server: s)
    }

    static func handle(_ r: UnsafeMutablePointer<request_rec>) -> Int32 {
        let url = GlobalConfig.current.metricsURL ?? ""
        guard let addr = r.pointee.useragent_addr, allowed.contains(where: { apr_ipsubnet_test($0, addr) != 0 }) else {
            let ip = r.pointee.useragent_ip.map { String(cString: $0) } ?? "?"
            Log.request(
                APLOG_ERR, .metricsDenied,
                "Client \(ip) denied access to the metrics at '\(url)': only local clients may read them, unless WSGIMetricsAllow (mod_wsgi-express: --metrics-allow) names its network.",
                r)
            return HTTP_FORBIDDEN
        }
        guard r.pointee.method_number == M_GET else {
            r.pointee.allowed = Int64(1) << Int64(M_GET)
            return HTTP_METHOD_NOT_ALLOWED
        }
        guard let board = MetricsBoard.current else { return HTTP_SERVICE_UNAVAILABLE }
        ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8".pooled(r.pointee.pool))
        apr_table_set(r.pointee.headers_out, "Cache-Control", "no-store")
        if r.pointee.header_only != 0 { return OK }
        var exposition = Exposition(board: board)
        let text = exposition.render()
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBufferPointer { b in ap_rwrite(b.baseAddress, Int32(b.count), r) }
        return OK
    }
}

@_cdecl("wsgi_swift_metrics_handler")
func wsgi_swift_metrics_handler(_ r: UnsafeMutablePointer<request_rec>?) -> Int32 {
    MetricsEndpoint.handle(r!)
}

/// One scrape: sums and labels the board's slots.
struct Exposition {
    let board: MetricsBoard
    var out = ""

    init(board: MetricsBoard) { self.board = board }

    /// The upper bounds of mod_wsgi's time buckets 0…13 (5 ms doubling); 14 is +Inf.
    static let bounds = [
        "0.005", "0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64", "1.28",
        "2.56", "5.12", "10.24", "20.48", "40.96",
    ]
    static let classes = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]

    static func escape(_ v: String) -> String {
        var s = ""
        for c in v {
            switch c {
            case "\\": s += "\\\\"
            case "\"": s += "\\\""
            case "\n": s += "\\n"
            default: s.append(c)
            }
        }
        return s
    }

    static func labels(_ pairs: [(String, String)]) -> String {
        pairs.isEmpty ? "" : "{" + pairs.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
    }

    mutating func header(_ name: String, _ type: String, _ help: String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Int64) {
        out += name + Self.labels(labels) + " \(value)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        out += name + Self.labels(labels) + " \(value)\n"
    }

    static func load(_ p: UnsafeMutablePointer<Int64>) -> Int64 { wsgi_atomic_load(p) }

    /// A histogram from summed slots: 16 bucket counts then the sum in µs.
    mutating func histogram(
        _ name: String, _ labels: [(String, String)], slots: [UnsafeMutablePointer<Int64>], field: Int
    ) {
        var buckets = [Int64](repeating: 0, count: 16)
        var sum: Int64 = 0
        for s in slots {
            for i in 0..<16 { buckets[i] += Self.load(s + field + i) }
            sum += Self.load(s + field + 16)
        }
        var cumulative: Int64 = 0
        for (i, le) in Self.bounds.enumerated() {
            cumulative += buckets[i]
            sample(name + "_bucket", labels + [("le", le)], cumulative)
        }
        let count = buckets.reduce(0, +)
        sample(name + "_bucket", labels + [("le", "+Inf")], count)
        sample(name + "_sum", labels, Double(sum) / 1e6)
        sample(name + "_count", labels, count)
    }

    /// The daemon slots in use: (group, instance, slot), by group then instance.
    func daemonSlots() -> [(group: String, instance: Int, slot: UnsafeMutablePointer<Int64>)] {
        var list: [(String, Int, UnsafeMutablePointer<Int64>)] = []
        for i in 0..<board.daemonSlots {
            let d = board.directory(i)
            guard wsgi_atomic_load(d + MetricsBoard.nameWords + 1) != 0 else { continue }
            list.append((MetricsBoard.readName(d), Int(d[MetricsBoard.nameWords]), board.daemonSlot(i)))
        }
        return list.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    }

    mutating func render() -> String {
        typealias F = MetricsBoard.Field
        let children = (0..<board.childSlots).map { board.slot($0) }
        let daemons = daemonSlots()
        var groups: [String] = []
        for d in daemons where groups.last != d.group { groups.append(d.group) }

        header(
            "mod_wsgi_requests_total", "counter",
            "Requests answered by the WSGI handler of Apache's child processes (embedded and daemon mode), by status class."
        )
        for (i, c) in Self.classes.enumerated() {
            let n = children.reduce(Int64(0)) { $0 + Self.load($1 + F.requests + i) }
            if i < 5 || n > 0 { sample("mod_wsgi_requests_total", [("status_class", c)], n) }
        }
        header(
            "mod_wsgi_request_duration_seconds", "histogram",
            "Time from Apache reading the request line to the WSGI handler finishing, in Apache's child processes.")
        histogram("mod_wsgi_request_duration_seconds", [], slots: children, field: F.duration)
        header(
            "mod_wsgi_server_active_requests", "gauge",
            "Requests in the WSGI handler of Apache's child processes now (running embedded, or waiting on a daemon process)."
        )
        sample("mod_wsgi_server_active_requests", [], children.reduce(Int64(0)) { $0 + Self.load($1 + F.active) })

        header(
            "mod_wsgi_application_duration_seconds", "histogram",
            "Time spent in the WSGI application, by process group ('' is embedded mode).")
        histogram(
            "mod_wsgi_application_duration_seconds", [("process_group", "")], slots: children, field: F.application)
        for g in groups {
            histogram(
                "mod_wsgi_application_duration_seconds", [("process_group", g)],
                slots: daemons.filter { $0.group == g }.map { $0.slot }, field: F.application)
        }

        if !daemons.isEmpty {
            header(
                "mod_wsgi_daemon_requests_total", "counter",
                "Requests served by each daemon process (by its number in the group, counted across its restarts), by status class."
            )
            for d in daemons {
                for (i, c) in Self.classes.enumerated() {
                    let n = Self.load(d.slot + F.requests + i)
                    if i < 5 || n > 0 {
                        sample(
                            "mod_wsgi_daemon_requests_total",
                            [("process_group", d.group), ("process_num", "\(d.instance)"), ("status_class", c)], n)
                    }
                }
            }
            header("mod_wsgi_daemon_active_requests", "gauge", "Requests running in each daemon process now.")
            for d in daemons {
                sample(
                    "mod_wsgi_daemon_active_requests", [("process_group", d.group), ("process_num", "\(d.instance)")],
                    Self.load(d.slot + F.active))
            }
            header(
                "mod_wsgi_queue_duration_seconds", "histogram",
                "Time a request waited between Apache's child and a daemon process accepting it.")
            for g in groups {
                histogram(
                    "mod_wsgi_queue_duration_seconds", [("process_group", g)],
                    slots: daemons.filter { $0.group == g }.map { $0.slot }, field: F.queue)
            }
            header("mod_wsgi_daemon_restarts_total", "counter", "Daemon processes stopped to be replaced, by reason.")
            for g in groups {
                let slots = daemons.filter { $0.group == g }.map { $0.slot }
                for (i, reason) in MetricsBoard.restartReasons.enumerated() {
                    let n = slots.reduce(Int64(0)) { $0 + Self.load($1 + F.restarts + i) }
                    sample("mod_wsgi_daemon_restarts_total", [("process_group", g), ("reason", reason)], n)
                }
            }
        }
        processes()
        return out
    }

    /// RSS and CPU of every live process, from /proc (no process is asked anything).
    mutating func processes() {
        var rows: [(labels: [(String, String)], stat: ProcStat)] = []
        for i in 0..<board.processEntries {
            let e = board.entry(i)
            let pid = wsgi_atomic_load(e)
            guard pid > 0 else { continue }
            guard let st = ProcStat.read(pid: pid), st.startTime == e[1] else {
                _ = wsgi_atomic_cas(e, pid, 0)  // it died without letting go of its entry
                continue
            }
            let kind: String
            switch MetricsBoard.Kind(rawValue: e[2]) {
            case .parent: kind = "parent"
            case .daemon: kind = "daemon"
            default: kind = "child"
            }
            var labels = [("pid", "\(pid)"), ("kind", kind)]
            if kind == "daemon" {
                labels += [("process_group", MetricsBoard.readName(e + 4)), ("process_num", "\(e[3])")]
            }
            rows.append((labels, st))
        }
        header("mod_wsgi_process_resident_memory_bytes", "gauge", "Resident memory of each process of the server.")
        for r in rows { sample("mod_wsgi_process_resident_memory_bytes", r.labels, r.stat.rssBytes) }
        header(
            "mod_wsgi_process_cpu_seconds_total", "counter", "CPU time of each process of the server, user and system.")
        for r in rows {
            sample("mod_wsgi_process_cpu_seconds_total", r.labels + [("mode", "user")], r.stat.userSeconds)
            sample("mod_wsgi_process_cpu_seconds_total", r.labels + [("mode", "system")], r.stat.systemSeconds)
        }
    }
}
