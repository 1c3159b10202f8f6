#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Greylist

/// Shares bans across a cluster through Redis (or Valkey), over a local journal.
///
/// The local `JournalStore` stays the acknowledgement: a ban is acknowledged once it is on
/// the local disk, and every node keeps refusing from memory and its journal when Redis is away.
/// Each change this node makes is also queued for Redis: bans, unbans and trusted keys become
/// keys with absolute expiry (`PXAT`) under the namespace, and every change is published on
/// `<namespace>:changes` with this node's id. A link thread of its own (never the Swift
/// concurrency pool) pipelines the queue, receives the other nodes' changes and failures and
/// hands them to the greylist in order; on connecting it reads the whole shared state, then
/// asks the greylist for its own and adds what Redis lacks (`SET NX`), so the nodes converge
/// after an outage or a Redis that lost its data. The accept path never waits on Redis.
///
/// ```swift
/// Every record carries an HMAC-SHA-256 under the cluster's ``ClusterKey``: whoever can write
/// to Redis without the key can make nodes skip data, never act on it.
///
/// ```swift
/// let settings = try RedisStoreSettings(url: "redis://127.0.0.1:6379/0", namespace: "xmpp")
/// let key = try ClusterKey(contentsOfFile: "/etc/xmpp/greylist-cluster.key")
/// let store = RedisStore(settings: settings, key: key, localJournal: try JournalStore(directory: "/var/lib/xmpp/greylist"))
/// let greylist = try Greylist(configuration: configuration, store: store)
/// ```
public final class RedisStore: GreylistStore {
    /// What the link thread and the callers share.
    struct Shared {
        var queue: OutgoingQueue
        /// The greylist's whole state, being added to Redis a batch at a time.
        var state: [SharedRecord] = []
        var stateCursor = 0
        /// Bumped by each whole-state hand-over, so a batch of an older one is not counted twice.
        var stateGeneration = 0
        var status: RedisLinkStatus
        var stopping = false
        var started = false
        /// The link waits in `poll` and wants a wake-up byte.
        var sleeping = false
        var exited: CheckedContinuation<Void, Never>?
        var hasExited = false
        var sequence: UInt64 = 0
    }

    /// The embedded journal underneath, the acknowledgement of every change.
    public let localJournal: JournalStore?
    /// Where Redis is and how the link behaves.
    public let settings: RedisStoreSettings
    /// Tags what this node writes and checks what it reads.
    let key: ClusterKey
    /// This node's id in published messages (its own messages are not applied twice).
    public let nodeID: String
    let clock: WallClock
    let shared: LockedValue<Shared>
    let wake: WakePipe
    let notices: NoticeQueue

    /// Creates the store; the link starts when the greylist subscribes (at its creation).
    ///
    /// - Parameters:
    ///   - settings: Where Redis is.
    ///   - key: The cluster's shared secret.
    ///   - localJournal: The local journal (`nil`: changes are acknowledged at once and live
    ///     in memory and Redis only).
    ///   - clock: Wall-clock time for unbans and failures.
    ///   - nodeID: This node's id; a random one by default.
    public init(settings: RedisStoreSettings, key: ClusterKey, localJournal: JournalStore?, clock: WallClock = .system, nodeID: String? = nil) {
        self.settings = settings
        self.key = key
        self.localJournal = localJournal
        self.clock = clock
        var generator = SystemRandomNumberGenerator()
        self.nodeID = nodeID.map { String($0.unicodeScalars.filter { $0.value > 0x20 && $0.value < 0x7F }.prefix(64)) }
            ?? String(generator.next() as UInt64, radix: 16)
        var status = RedisLinkStatus(address: settings.displayed)
        status.state = .starting
        self.shared = LockedValue(Shared(queue: OutgoingQueue(capacity: settings.maximumQueuedChanges), status: status))
        self.wake = WakePipe()
        self.notices = NoticeQueue()
    }

    /// The link's state and counters now.
    public var status: RedisLinkStatus {
        shared.withLock { shared in
            var status = shared.status
            status.queued = shared.queue.count + (shared.state.count - shared.stateCursor)
            return status
        }
    }

    /// The local journal's state (the shared state arrives once the link connects).
    public func load() throws(GreylistError) -> GreylistSnapshot {
        try localJournal?.load() ?? GreylistSnapshot()
    }

    /// Appends to the local journal and queues the change for Redis.
    public func append(_ change: GreylistChange, state: () -> GreylistSnapshot) -> UInt64 {
        let sequence = localJournal?.append(change, state: state) ?? shared.withLock { shared -> UInt64 in
            shared.sequence += 1
            return shared.sequence
        }
        share(change)
        return sequence
    }

    /// Waits for the local journal (Redis is never waited for).
    public func waitUntilStored(_ sequence: UInt64) async throws(GreylistError) {
        try await localJournal?.waitUntilStored(sequence)
    }

    /// Sends what is queued if Redis is there (bounded by the command timeout), stops the link,
    /// then closes the local journal.
    public func close() async {
        let running = shared.withLock { shared -> Bool in
            shared.stopping = true
            return shared.started && !shared.hasExited
        }
        wake.signal()
        if running {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = shared.withLock { shared -> Bool in
                    if shared.hasExited { return true }
                    shared.exited = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
        notices.finish()
        shared.withLock { $0.status.state = .stopped }
        await localJournal?.close()
    }

    /// Starts the link: notices arrive in order, each handled before the next.
    public func subscribe(_ handler: @escaping @Sendable (GreylistStoreNotice) async -> Void) {
        localJournal?.subscribe(handler)
        let start = shared.withLock { shared -> Bool in
            defer { shared.started = true }
            return !shared.started && !shared.stopping
        }
        guard start else { return }
        notices.start(handler)
        let thread = Thread { [self] in RedisLink(store: self).run() }
        thread.name = "greylist.redis"
        thread.start()
    }

    /// Queues a change this node made for Redis.
    public func share(_ change: GreylistChange) {
        guard let record = SharedRecord(change, now: clock.nowMilliseconds) else { return }
        enqueue(record)
    }

    /// Queues a counted failure for the other nodes.
    public func share(_ failure: SharedFailure) {
        enqueue(.failure(failure))
    }

    /// Takes the greylist's whole state, to add what Redis lacks (bans, trusted keys and
    /// accounts, spent guess budgets; an ended ban's history, bots' names and soft trust stay local).
    public func share(state: GreylistSnapshot) {
        var records = state.bans.map(SharedRecord.ban)
        records += state.trusted.map { SharedRecord.trust($0.network, until: WallClock.milliseconds($0.until)) }
        records += state.trustedAccounts.map { SharedRecord.accountTrust($0.network, account: $0.account, until: WallClock.milliseconds($0.until)) }
        records += state.blockedLogins.map { SharedRecord.loginsBlocked($0.network, account: $0.account, until: WallClock.milliseconds($0.until)) }
        let wakeLink = shared.withLock { shared -> Bool in
            shared.state = records
            shared.stateCursor = 0
            shared.stateGeneration += 1
            shared.queue.beginState()
            return shared.sleeping
        }
        if wakeLink { wake.signal() }
    }

    private func enqueue(_ record: SharedRecord) {
        let wakeLink = shared.withLock { shared -> Bool in
            shared.queue.push(record)
            return shared.sleeping
        }
        if wakeLink { wake.signal() }
    }

    /// Called by the link thread as it ends.
    func linkExited() {
        let continuation = shared.withLock { shared -> CheckedContinuation<Void, Never>? in
            shared.hasExited = true
            defer { shared.exited = nil }
            return shared.exited
        }
        continuation?.resume()
    }
}
