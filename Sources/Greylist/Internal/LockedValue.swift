#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A value guarded by a `pthread_mutex_t`.
///
/// Why not `Synchronization.Mutex`: on Linux it locks with raw futex system calls, which
/// ThreadSanitizer cannot see, so every access under it is reported as a race and the sanitizer
/// run (a CI requirement) becomes useless. A pthread mutex is intercepted by the sanitizer and
/// costs the same uncontended (one atomic exchange each way).
///
/// `@unchecked Sendable` is sound here: `value` is only reached through `withLock`, which holds
/// the mutex for the whole access, and `Value` itself is `Sendable`.
///
/// Bulk work (a scan of a million slots, a slice at a time) takes the lock through
/// ``withLockAfterWaiters(_:)``: a pthread mutex is not fair, and a thread that takes it again
/// right after letting go would keep a woken waiter out for the whole scan. A waiter announces
/// itself in `waiting` (only when the lock is busy: uncontended, `withLock` costs one atomic
/// exchange as before), and bulk work lets it go first.
package final class LockedValue<Value: Sendable>: @unchecked Sendable {
    private var value: Value
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let waiting = Atomic<Int>(0)

    package init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    @inline(__always)
    package func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        if pthread_mutex_trylock(mutex) != 0 {
            waiting.add(1, ordering: .relaxed)
            pthread_mutex_lock(mutex)
            waiting.subtract(1, ordering: .relaxed)
        }
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// Runs `body` with exclusive access, after the threads waiting for the lock have had it
    /// (waiting a bounded time for them: about a thousand yields at most).
    package func withLockAfterWaiters<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        var yields = 0
        while waiting.load(ordering: .relaxed) > 0 && yields < 1_000 {
            sched_yield()
            yields += 1
        }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
