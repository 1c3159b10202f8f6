import Greylist
import Synchronization

/// A store whose acknowledgement the test holds: `waitUntilStored` suspends (no thread blocked)
/// until ``release()``, so a ban's verdict stays owed while the test acts.
final class HeldStore: GreylistStore {
    private struct State {
        var released = false
        var waits = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var watchers: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func load() throws(GreylistError) -> GreylistSnapshot { GreylistSnapshot() }
    func append(_ change: GreylistChange, state: () -> GreylistSnapshot) -> UInt64 { 1 }
    func close() async { release() }
    func subscribe(_ handler: @escaping @Sendable (GreylistStoreNotice) async -> Void) {}

    func waitUntilStored(_ sequence: UInt64) async throws(GreylistError) {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (resumeNow, watchers) = state.withLock { state in
                state.waits += 1
                defer { state.watchers = [] }
                if state.released { return (true, state.watchers) }
                state.waiters.append(continuation)
                return (false, state.watchers)
            }
            for watcher in watchers { watcher.resume() }
            if resumeNow { continuation.resume() }
        }
    }

    /// How many times the greylist has waited for an acknowledgement.
    var waits: Int { state.withLock { $0.waits } }

    /// Returns once the greylist waits for an acknowledgement (at once if it already did); the
    /// calling test's time limit bounds it.
    func untilWaitedOn() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state in
                if state.waits > 0 { return true }
                state.watchers.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Acknowledges every wait, now and later.
    func release() {
        let waiters = state.withLock { state in
            state.released = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
