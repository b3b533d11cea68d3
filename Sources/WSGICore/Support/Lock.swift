import CWSGICore

/// A mutex. Swift gives a `pthread_mutex_t` stored in a `var` no stable address (passing it
/// with `&` may hand pthreads a temporary copy), so the mutex is allocated once on the heap
/// and never moves, as swift-nio's `Lock` does.
package final class Lock {
    fileprivate let mutex: UnsafeMutablePointer<pthread_mutex_t>

    package init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }

    func unlock() { pthread_mutex_unlock(mutex) }

    @inline(__always)
    package func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A condition variable, waited on with a `Lock` held; allocated once like the lock.
final class Condition {
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    package init() {
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        let rc = pthread_cond_init(cond, nil)
        precondition(rc == 0, "pthread_cond_init failed: \(rc)")
    }

    deinit {
        pthread_cond_destroy(cond)
        cond.deinitialize(count: 1)
        cond.deallocate()
    }

    /// Releases `lock` while waiting; holds it again on return.
    func wait(_ lock: Lock) { pthread_cond_wait(cond, lock.mutex) }

    /// As `wait`, for at most `micros` (a wake-up may come earlier: callers re-check).
    func wait(_ lock: Lock, micros: Int64) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let ns = Int64(now.tv_nsec) + (micros % 1_000_000) * 1000
        var deadline = timespec(
            tv_sec: now.tv_sec + Int(micros / 1_000_000) + Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        _ = pthread_cond_timedwait(cond, lock.mutex, &deadline)
    }

    func broadcast() { pthread_cond_broadcast(cond) }
}
