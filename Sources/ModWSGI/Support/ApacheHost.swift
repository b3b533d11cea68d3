import CModWSGI
import WSGICore

/// What WSGICore asks its host, answered by httpd in every Apache process (and in a daemon
/// process forked from the parent): where log lines go, the server's facts, the scoreboard.
enum ApacheHost {
    /// pre_config, in the parent: before any line is logged or any process is forked.
    static func install() {
        Log.useApache()
        HostFacts.provider = { ApacheHost.facts() }
        ScoreboardView.provider = {
            guard let sb = wsgi_scoreboard(), let global = sb.pointee.global, let parent = sb.pointee.parent,
                let servers = sb.pointee.servers
            else { return nil }
            let n = Int(global.pointee.server_limit)
            return ScoreboardView(global: global, processes: parent, workers: (0..<n).map { servers[$0]! })
        }
    }

    static func facts() -> HostFacts {
        var f = HostFacts()
        var v = ap_version_t()
        ap_get_server_revision(&v)
        f.apacheVersion = [Int(v.major), Int(v.minor), Int(v.patch)]
        f.serverDescription = String(cString: ap_get_server_description())
        f.serverBuilt = String(cString: ap_get_server_built())
        f.mpmName = String(cString: ap_show_mpm())
        f.threaded = mpmQuery(AP_MPMQ_IS_THREADED) != AP_MPMQ_NOT_SUPPORTED
        f.maxDaemonsUsed = Int(mpmQuery(AP_MPMQ_MAX_DAEMON_USED))
        f.maxDaemons = Int(mpmQuery(AP_MPMQ_MAX_DAEMONS))
        f.maxThreads = Int(mpmQuery(AP_MPMQ_MAX_THREADS))
        if let s = ModuleState.mainServer { f.timeoutMicros = Int64(s.pointee.timeout) }
        return f
    }
}
