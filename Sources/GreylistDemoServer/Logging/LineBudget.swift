import Greylist

/// A budget of log lines per interval for one noisy kind (failed logins): past it, lines are
/// counted instead of written, and the periodic summary reports the count. A flood of failures
/// from one client costs a few lines a minute, not megabytes.
final class LineBudget: Sendable {
    private struct State {
        var windowStart: ContinuousClock.Instant
        var used = 0
        var suppressed = 0
    }

    private let linesPerWindow: Int
    private let window: Duration
    private let clock: @Sendable () -> ContinuousClock.Instant
    private let state: LockedValue<State>

    init(linesPerWindow: Int = 20, window: Duration = .seconds(10), clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.linesPerWindow = linesPerWindow
        self.window = window
        self.clock = clock
        self.state = LockedValue(State(windowStart: clock()))
    }

    /// Whether one more line may be written now; when not, it is counted as suppressed.
    func spend() -> Bool {
        let now = clock()
        return state.withLock { state in
            if now - state.windowStart >= window {
                state.windowStart = now
                state.used = 0
            }
            guard state.used < linesPerWindow else {
                state.suppressed += 1
                return false
            }
            state.used += 1
            return true
        }
    }

    /// Lines suppressed since the last call.
    func takeSuppressed() -> Int {
        state.withLock { state in
            defer { state.suppressed = 0 }
            return state.suppressed
        }
    }
}
