import Dispatch
import Greylist

/// Hands notices from the link thread to the greylist in order, each awaited before the next,
/// with back-pressure: past `limit` notices not yet handled, the link thread waits (its own
/// thread, never the Swift pool), so a large shared state never piles up in memory.
final class NoticeQueue: Sendable {
    private let stream: AsyncStream<GreylistStoreNotice>
    private let continuation: AsyncStream<GreylistStoreNotice>.Continuation
    private let room: DispatchSemaphore
    private let finished = LockedValue(false)

    init(limit: Int = 4_096) {
        (stream, continuation) = AsyncStream.makeStream(of: GreylistStoreNotice.self)
        room = DispatchSemaphore(value: limit)
    }

    /// Starts handing notices to `handler`, on a task that only awaits.
    func start(_ handler: @escaping @Sendable (GreylistStoreNotice) async -> Void) {
        let (stream, room) = (self.stream, self.room)
        Task {
            for await notice in stream {
                await handler(notice)
                room.signal()
            }
        }
    }

    /// Delivers a notice; blocks the calling (link) thread while too many are waiting, and gives
    /// up once the queue is finished.
    func deliver(_ notice: GreylistStoreNotice) {
        while room.wait(timeout: .now() + .milliseconds(200)) == .timedOut {
            if finished.withLock({ $0 }) { return }
        }
        continuation.yield(notice)
    }

    /// No more notices; a waiting deliverer returns.
    func finish() {
        finished.withLock { $0 = true }
        continuation.finish()
    }
}
