import GreylistTestSupport
import Dispatch
import Greylist

/// A store whose acknowledgement the test holds: `waitUntilStored` suspends (no thread blocked)
/// until ``release()``, so a test can look at what a server does while a ban's verdict is owed.
final class HeldStore: GreylistStore {
    private struct State {
        var released = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var waitStarted: [Int: CheckedContinuation<Bool, Never>] = [:]
        var nextWatcher = 0
        var waits = 0
    }

    private let state = LockedValue(State())

    func load() throws(GreylistError) -> GreylistSnapshot { GreylistSnapshot() }
    func append(_ change: GreylistChange, state: () -> GreylistSnapshot) -> UInt64 { 1 }
    func close() async { release() }
    func subscribe(_ handler: @escaping @Sendable (GreylistStoreNotice) async -> Void) {}

    func waitUntilStored(_ sequence: UInt64) async throws(GreylistError) {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let (resumeNow, started) = state.withLock { state in
                state.waits += 1
                let started = state.waitStarted
                state.waitStarted = [:]
                if state.released { return (true, started) }
                state.waiters.append(continuation)
                return (false, started)
            }
            for waiter in started.values { waiter.resume(returning: true) }
            if resumeNow { continuation.resume() }
        }
    }

    /// Returns `true` once the greylist waits for an acknowledgement (at once if it already
    /// did), `false` when `seconds` pass first.
    func untilWaitedOn(within seconds: Double = 10) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let watcher: Int? = state.withLock { state in
                if state.waits > 0 { return nil }
                state.nextWatcher += 1
                state.waitStarted[state.nextWatcher] = continuation
                return state.nextWatcher
            }
            guard let watcher else { return continuation.resume(returning: true) }
            DispatchQueue(label: "greylist.tests.held-store").asyncAfter(deadline: .now() + seconds) { [state] in
                state.withLock { $0.waitStarted.removeValue(forKey: watcher) }?.resume(returning: false)
            }
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
