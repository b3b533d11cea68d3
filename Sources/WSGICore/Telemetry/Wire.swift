/// mod_wsgi 6.1's telemetry datagram, byte for byte: a 24-byte header ('WSGI', version 1,
/// kind, flags 0, pid, seq, stamp as a float64 of seconds since the epoch), then TLV records
/// (uint16 field id, uint8 type, a uint16 length for bytes and arrays, the value), all
/// little-endian. The field ids and kinds are mod_wsgi's (wsgi_telemetry.h), which
/// mod_wsgi-telemetry's decoder (mod_wsgi/telemetry/wire.py) mirrors.
enum TelemetryKind: UInt8 {
    case request = 2
    case slowRequest = 4
    case processStarted = 5
    case processStopping = 6
    case processStopped = 7
    case gcSnapshot = 8
    case gcEvent = 9
}

enum TelemetryField {
    // Identity.
    static let modWSGIVersion: UInt16 = 1, pythonVersion: UInt16 = 2, apacheVersion: UInt16 = 3, mpmName: UInt16 = 4
    static let hostname: UInt16 = 5, processGroup: UInt16 = 6, parentPid: UInt16 = 7, interpreterName: UInt16 = 8
    // Sampling.
    static let samplePeriod: UInt16 = 10, telemetryInterval: UInt16 = 11, slowRequestsThreshold: UInt16 = 12
    static let switchInterval: UInt16 = 13
    // Rates, CPU, memory, threads.
    static let requestCount: UInt16 = 20, requestThroughput: UInt16 = 21, capacityUtilization: UInt16 = 22
    static let cpuUser: UInt16 = 30, cpuSystem: UInt16 = 31, cpu: UInt16 = 32
    static let memoryRSS: UInt16 = 40, memoryMaxRSS: UInt16 = 41
    static let threadsMaximum: UInt16 = 50, threadsStarted: UInt16 = 51, threadsActive: UInt16 = 52
    // Phases: mean = 60 + phase, min = 70 + phase, max = 80 + phase, buckets = 90 + phase.
    static let phaseMean: UInt16 = 60, phaseMin: UInt16 = 70, phaseMax: UInt16 = 80, phaseBuckets: UInt16 = 90
    // I/O and status totals.
    static let inputBytes: UInt16 = 100, inputReads: UInt16 = 101, outputBytes: UInt16 = 102, outputWrites: UInt16 = 103
    static let threadsCompleted: UInt16 = 110, threadsBusyTime: UInt16 = 111, threadsCPUTime: UInt16 = 112
    static let threadsCurrentElapsed: UInt16 = 113, threadsMaxDuration: UInt16 = 114
    static let status1xx: UInt16 = 120
    // Lifecycle.
    static let shutdownReason: UInt16 = 130, uptime: UInt16 = 131, lifetimeRequests: UInt16 = 132
    static let activeAtDecision: UInt16 = 133, activeAtExit: UInt16 = 134, gracefulDrain: UInt16 = 135
    // Slow requests.
    static let slowState: UInt16 = 200, slowStart: UInt16 = 201, slowDuration: UInt16 = 202, slowThread: UInt16 = 203
    static let slowLogID: UInt16 = 204, slowServerPid: UInt16 = 205
    static let slowMethod: UInt16 = 210, slowScheme: UInt16 = 211, slowHostname: UInt16 = 212
    static let slowScriptName: UInt16 = 213, slowPathInfo: UInt16 = 214, slowProtocol: UInt16 = 215
    static let slowPeerIP: UInt16 = 216, slowUserAgent: UInt16 = 217
    static let slowServerTime: UInt16 = 220, slowQueueTime: UInt16 = 221, slowDaemonTime: UInt16 = 222
    static let slowApplicationTime: UInt16 = 223, slowGILWaitTime: UInt16 = 224, slowGILWaitCount: UInt16 = 225
    static let slowInputBytes: UInt16 = 230, slowInputReads: UInt16 = 231, slowOutputBytes: UInt16 = 232
    static let slowOutputWrites: UInt16 = 233, slowInputReadTime: UInt16 = 234, slowOutputWriteTime: UInt16 = 235
    static let slowStatus: UInt16 = 240, slowCPUUser: UInt16 = 250, slowCPUSystem: UInt16 = 251
    static let slowActiveAtStart: UInt16 = 260, slowActiveAtCompletion: UInt16 = 261
    // GC (per interpreter): count 300-302, threshold 303-305, collections 306-308, collected
    // 309-311, uncollectable 312-314 (one per generation); then the collection records.
    static let gcCount0: UInt16 = 300, gcThreshold0: UInt16 = 303, gcCollections0: UInt16 = 306
    static let gcCollected0: UInt16 = 309, gcUncollectable0: UInt16 = 312
    static let gcIsEnabled: UInt16 = 315, gcFreezeCount: UInt16 = 316, gcDroppedEvents: UInt16 = 317
    static let gcEventStart: UInt16 = 320, gcEventDuration: UInt16 = 321, gcEventGeneration: UInt16 = 322
    static let gcEventCollected: UInt16 = 323, gcEventUncollectable: UInt16 = 324
}

/// Builds one datagram. The buffer is reused from tick to tick by the reporter thread.
struct TelemetryEncoder {
    static let maxDatagram = 8192
    private(set) var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(Self.maxDatagram) }

    mutating func begin(_ kind: TelemetryKind, pid: UInt32, seq: UInt32, stamp: Double) {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: [0x57, 0x53, 0x47, 0x49, 1, kind.rawValue, 0, 0])  // "WSGI", version, kind, flags
        le32(pid)
        le32(seq)
        le64(stamp.bitPattern)
    }

    private mutating func le16(_ v: UInt16) {
        bytes.append(UInt8(v & 0xff))
        bytes.append(UInt8(v >> 8))
    }
    private mutating func le32(_ v: UInt32) {
        for i in 0..<4 { bytes.append(UInt8((v >> (8 * UInt32(i))) & 0xff)) }
    }
    private mutating func le64(_ v: UInt64) {
        for i in 0..<8 { bytes.append(UInt8((v >> (8 * UInt64(i))) & 0xff)) }
    }

    mutating func u64(_ id: UInt16, _ v: UInt64) {
        le16(id); bytes.append(0x01); le64(v)
    }
    mutating func u64(_ id: UInt16, _ v: Int) { u64(id, UInt64(max(v, 0))) }
    mutating func f64(_ id: UInt16, _ v: Double) {
        le16(id); bytes.append(0x02); le64(v.bitPattern)
    }
    /// A string (skipped when empty, as mod_wsgi does).
    mutating func text(_ id: UInt16, _ s: String) {
        let utf8 = Array(s.utf8.prefix(Int(UInt16.max)))
        guard !utf8.isEmpty else { return }
        le16(id); bytes.append(0x04); le16(UInt16(utf8.count)); bytes.append(contentsOf: utf8)
    }
    /// Bytes as they are (skipped when empty, as mod_wsgi does).
    mutating func raw(_ id: UInt16, _ b: [UInt8]) {
        guard !b.isEmpty else { return }
        let n = min(b.count, Int(UInt16.max))
        le16(id); bytes.append(0x04); le16(UInt16(n)); bytes.append(contentsOf: b.prefix(n))
    }
    mutating func i32Array(_ id: UInt16, _ values: [Int32]) {
        le16(id); bytes.append(0x05); le16(UInt16(values.count))
        for v in values { le32(UInt32(bitPattern: v)) }
    }
    mutating func f64Array(_ id: UInt16, _ values: [Double]) {
        le16(id); bytes.append(0x06); le16(UInt16(values.count))
        for v in values { le64(v.bitPattern) }
    }
}

/// mod_wsgi 6.1's histogram: 16 octaves from 1 ms by 4 linear sub-buckets, plus one for
/// 65.536 s and more (65 buckets); under 1 ms is bucket 0.
enum TelemetryBuckets {
    static let count = 65

    @inline(__always)
    static func index(_ seconds: Double) -> Int {
        let ms = seconds * 1000
        if !(ms >= 1) { return 0 }
        if ms >= 65536 { return count - 1 }
        // frexp: ms = mantissa * 2^exp, mantissa in [0.5, 1).
        let exp = Int(ms.exponent) + 1
        let mantissa = ms.significand / 2
        let sub = min(Int((2 * mantissa - 1) * 4), 3)
        return (exp - 1) * 4 + sub
    }
}
