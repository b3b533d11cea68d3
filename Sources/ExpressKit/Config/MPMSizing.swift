/// Apache's process/thread limits for the chosen MPM.
///
/// Prefork and embedded mode are sized as mod_wsgi-express 4.9 sizes them. Daemon mode with the
/// event or worker MPM differs, on purpose (issue 9, item 4): there an Apache worker thread only
/// relays a request to the daemon and holds it while the daemon is busy, and the event MPM closes
/// *every* idle keep-alive connection of a child whenever that child finds no idle worker for a
/// connection that became readable. mod_wsgi-express's sizing (children of at most 20 threads,
/// one started) hands out resets as soon as more clients than a child's threads are connected:
/// 64 connections against the default 1 x 5 daemon gave thousands of read errors in 10 s.
///
/// The rule: the server holds `connections` keep-alive clients without a reset, where
/// `connections` is `--max-clients` when given (at least processes x threads) and otherwise
/// mod_wsgi-express's figure (10 + max(10, 1.5 x processes x threads)) but at least
/// `minimumConnections`. Since a child may end up holding all of them, every child gets
/// `connections` threads plus a quarter (at least 16) for the moment between a worker answering
/// and it counting as idle again; `activeChildren` (2) children are started at once and never
/// reaped as spare, so a child that stops (graceful restart, crash) leaves one holding its share;
/// `ServerLimit` leaves as many scoreboard slots again for children finishing after a graceful
/// restart. `--initial-workers`, `--minimum-spare-workers` and `--maximum-spare-workers`, when
/// given, still apply mod_wsgi-express's fractions to those children.
public struct MPMSizing: Equatable {
    public var preforkMaxClients: Int
    public var preforkServerLimit: Int
    public var preforkStartServers: Int
    public var preforkMinSpare: Int
    public var preforkMaxSpare: Int
    public var workerMaxClients: Int
    public var workerServerLimit: Int
    public var workerThreadLimit: Int
    public var workerThreadsPerChild: Int
    public var workerStartServers: Int
    public var workerMinSpareThreads: Int
    public var workerMaxSpareThreads: Int
    /// Keep-alive connections the event/worker MPM holds without closing one under load.
    public var workerConnections: Int
    /// ThreadStackSize of the event/worker MPM. mod_wsgi-express renders 256 KB everywhere; in
    /// embedded mode Apache's threads run the application, and a recursion Python stops at its
    /// recursion limit (1000 frames, each through C) overflows 256 KB and kills the child: they
    /// get Python's own default thread stack, 8 MB (virtual; only what is used is resident).
    /// So do daemon mode's when access, authentication or dispatch scripts run in them.
    public var workerThreadStackSize: Int

    static let relayStackSize = 262_144
    static let pythonStackSize = 8 << 20

    /// Connections a daemon-mode server holds by default: wrk's and typical proxies' pools.
    static let minimumConnections = 64
    /// Children of the event/worker MPM in daemon mode, all started at once.
    static let activeChildren = 2

    static func compute(
        processes: Int, threads: Int, maxClients: Int?, initial: Double?, minSpare: Double?,
        maxSpare: Double?, embedded: Bool
    ) -> MPMSizing {
        if embedded {
            let m = processes * threads
            return MPMSizing(
                preforkMaxClients: m, preforkServerLimit: m, preforkStartServers: m,
                preforkMinSpare: m, preforkMaxSpare: m,
                workerMaxClients: m, workerServerLimit: processes, workerThreadLimit: threads,
                workerThreadsPerChild: threads, workerStartServers: processes,
                workerMinSpareThreads: m, workerMaxSpareThreads: m, workerConnections: m,
                workerThreadStackSize: pythonStackSize)
        }
        // mod_wsgi-express 4.9: prefork is sized on this figure as it does.
        var m = processes * threads
        if let given = maxClients { m = max(given, m) } else { m = 10 + max(10, Int(1.5 * Double(m))) }
        let pInitial = initial ?? 0.05
        let pMin = minSpare ?? pInitial
        let pMax = maxSpare ?? 0.1
        // Event/worker in daemon mode: every child can hold every connection.
        let connections = maxClients == nil ? max(m, minimumConnections) : m
        let perChild = connections + max(16, connections / 4)
        let children = activeChildren
        let startServers = initial.map { max(1, Int($0 * Double(children))) } ?? children
        let minSpareThreads = minSpare.map { max(perChild, Int($0 * Double(children)) * perChild) } ?? perChild
        let maxSpareThreads =
            maxSpare.map { max(perChild, Int($0 * Double(children)) * perChild) }
            ?? children * perChild
        return MPMSizing(
            preforkMaxClients: m, preforkServerLimit: m,
            preforkStartServers: max(1, Int(pInitial * Double(m))),
            preforkMinSpare: max(1, Int(pMin * Double(m))),
            preforkMaxSpare: max(1, Int(pMax * Double(m))),
            workerMaxClients: children * perChild, workerServerLimit: 2 * children,
            workerThreadLimit: perChild, workerThreadsPerChild: perChild,
            workerStartServers: startServers,
            workerMinSpareThreads: minSpareThreads, workerMaxSpareThreads: maxSpareThreads,
            workerConnections: connections, workerThreadStackSize: relayStackSize)
    }
}
