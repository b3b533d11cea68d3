import CModWSGI
import WSGICore

/// What Apache's child adds to the metrics board: its process entry, and every request of the
/// WSGI handler (embedded or relayed to a daemon).
extension MetricsRecorder {
    /// child_init: the child appears in the board's process list until its pool goes.
    static func childStarted(pool: OpaquePointer?) {
        guard var board = MetricsBoard.current else { return }
        // The child needs the mapping, not the memfd behind it (only a daemon's exec does).
        if board.fd >= 0 {
            close(board.fd)
            board.fd = -1
            MetricsBoard.current = board
        }
        entry = board.register(kind: .child, group: "", instance: 0)
        apr_pool_cleanup_register(
            pool, nil,
            { _ in
                MetricsRecorder.processExiting()
                return APR_SUCCESS
            }, apr_pool_cleanup_null)
    }

    @inline(__always)
    static func handlerBegin(_ r: UnsafeMutablePointer<request_rec>) -> UnsafeMutablePointer<Int64>? {
        guard let board = MetricsBoard.current else { return nil }
        var s = slot
        if s == nil {
            s = board.childSlot(Int(wsgi_child_number(r))) ?? board.childSlot(0)
            slot = s  // every thread finds the same slot: whichever store lands is right
        }
        if let s { wsgi_atomic_add(s + MetricsBoard.Field.active, 1) }
        return s
    }

    static func handlerEnd(_ r: UnsafeMutablePointer<request_rec>, slot s: UnsafeMutablePointer<Int64>, result: Int32) {
        wsgi_atomic_add(s + MetricsBoard.Field.active, -1)
        guard result != DECLINED else { return }
        let status = result == OK || result == DONE ? Int(r.pointee.status) : Int(result)
        wsgi_atomic_add(s + MetricsBoard.Field.requests + statusClass(status), 1)
        observe(s + MetricsBoard.Field.duration, micros: Int64(wsgi_now() - r.pointee.request_time))
    }
}
