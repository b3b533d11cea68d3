/// Apache's process/thread limits for the chosen MPM, computed as mod_wsgi-express 4.9 does.
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

    static func compute(processes: Int, threads: Int, maxClients: Int?, initial: Double?, minSpare: Double?,
                        maxSpare: Double?, embedded: Bool) -> MPMSizing {
        if embedded {
            let m = processes * threads
            return MPMSizing(preforkMaxClients: m, preforkServerLimit: m, preforkStartServers: m,
                             preforkMinSpare: m, preforkMaxSpare: m,
                             workerMaxClients: m, workerServerLimit: processes, workerThreadLimit: threads,
                             workerThreadsPerChild: threads, workerStartServers: processes,
                             workerMinSpareThreads: m, workerMaxSpareThreads: m)
        }
        var m = processes * threads
        if let given = maxClients { m = max(given, m) } else { m = 10 + max(10, Int(1.5 * Double(m))) }
        let pInitial = initial ?? 0.05
        let pMin = minSpare ?? pInitial
        let pMax = maxSpare ?? 0.1
        let wInitial = initial ?? 0.2
        let wMin = minSpare ?? wInitial
        let wMax = maxSpare ?? 0.6
        let perChild = m > 20 ? m / (m / 20 + 1) : 10
        var serverLimit = m / perChild
        if serverLimit * perChild != m { serverLimit += 1 }
        return MPMSizing(
            preforkMaxClients: m, preforkServerLimit: m,
            preforkStartServers: max(1, Int(pInitial * Double(m))),
            preforkMinSpare: max(1, Int(pMin * Double(m))),
            preforkMaxSpare: max(1, Int(pMax * Double(m))),
            workerMaxClients: serverLimit * perChild, workerServerLimit: serverLimit,
            workerThreadLimit: perChild, workerThreadsPerChild: perChild,
            workerStartServers: max(1, Int(wInitial * Double(serverLimit))),
            workerMinSpareThreads: max(perChild, Int(wMin * Double(serverLimit)) * perChild),
            workerMaxSpareThreads: max(perChild, Int(wMax * Double(serverLimit)) * perChild))
    }
}
