import CModWSGI
import WSGICore

/// A server_rec (the main server or a <VirtualHost>) by its place in Apache's list: the Apache
/// child names the server of a request this way to a daemon process, which has the same list
/// (both forked from the parent after the configuration was read), so that the daemon logs
/// about the request to that server's ErrorLog, as mod_wsgi 6.0.1 does.
enum ServerIndex {
    static func index(of s: UnsafePointer<server_rec>?) -> Int {
        var cur = UnsafePointer(ModuleState.mainServer)
        var i = 0
        while let c = cur {
            if c == s { return i }
            cur = UnsafePointer(c.pointee.next)
            i += 1
        }
        return 0
    }

    static func server(at index: Int) -> UnsafePointer<server_rec>? {
        var cur = UnsafePointer(ModuleState.mainServer)
        var i = 0
        while let c = cur {
            if i == index { return c }
            cur = UnsafePointer(c.pointee.next)
            i += 1
        }
        return UnsafePointer(ModuleState.mainServer)
    }
}
