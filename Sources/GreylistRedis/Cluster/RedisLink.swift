#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Greylist

/// The link thread of a ``RedisStore``: connects (with backoff), reads the shared state,
/// subscribes, then pipelines queued changes and applies other nodes' messages until the store
/// closes. Owned by its thread; nothing here is touched by another.
final class RedisLink {
    let store: RedisStore
    let settings: RedisStoreSettings
    /// Unbans seen (network → when), so a stale ban never comes back from a node that was away.
    var tombstones: [IPNetwork: Int64] = [:]
    /// Wall-clock milliseconds up to which this node is known to have seen every message.
    var syncedUntil: Int64 = 0
    var reportedDown = false
    var everConnected = false
    var delay: Int64
    var foreign = ForeignDataReport()
    /// Replies to treat as a failed link (retry later), not as a skipped record.
    static let retryableErrors = ["READONLY", "LOADING", "OOM", "MASTERDOWN", "NOAUTH", "NOPERM", "BUSY", "TRYAGAIN", "CLUSTERDOWN"]
    static let batchSize = 512

    init(store: RedisStore) {
        self.store = store
        self.settings = store.settings
        self.delay = Self.milliseconds(settings.reconnectDelay)
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        max(1, duration.wholeMilliseconds)
    }

    var stopping: Bool {
        store.shared.withLock { $0.stopping }
    }

    func run() {
        while !stopping {
            do {
                try serve()
            } catch {
                store.shared.withLock { $0.status.state = .unavailable(error.description) }
                if !reportedDown {
                    reportedDown = true
                    store.notices.deliver(.linkChanged(available: false, detail: "\(settings.displayed): \(error.description)"))
                }
                sleep(milliseconds: delay)
                delay = min(delay * 2, Self.milliseconds(settings.maximumReconnectDelay))
            }
        }
        store.linkExited()
    }

    /// Waits, waking early when the store closes.
    func sleep(milliseconds: Int64) {
        let deadline = RedisSocket.now() + milliseconds
        while !stopping, case let left = deadline - RedisSocket.now(), left > 0 {
            // Only closing wakes a backoff early (changes wait for the connection anyway).
            var poller = pollfd(fd: store.wake.readDescriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&poller, 1, Int32(clamping: left))
            store.wake.drain()
        }
    }

    func connect(limits: RESPParser.Limits) throws(RedisError) -> RedisConnection {
        try RedisConnection(host: settings.host, port: settings.port, username: settings.username, password: settings.password,
                            database: settings.database, timeout: settings.timeout, limits: limits)
    }

    /// What the link's replies may hold, bounded by what its commands need: keys and values
    /// longer than any record are skipped as they arrive, and a reply is at most a pipeline of
    /// `SCAN` pages or value reads (never gigabytes from a hostile server).
    static let commandLimits: RESPParser.Limits = {
        var limits = RESPParser.Limits(maxBulkBytes: 4_096, maxArrayElements: 65_536, maxDepth: 3, maxLineBytes: 4_096)
        limits.maxReplyBytes = 32 << 20
        return limits
    }()

    /// The subscription only ever carries `[message, channel, payload]` and its confirmations.
    static let subscriptionLimits: RESPParser.Limits = {
        var limits = RESPParser.Limits(maxBulkBytes: SharedRecord.maximumLength + 256, maxArrayElements: 4, maxDepth: 1, maxLineBytes: 4_096)
        limits.maxReplyBytes = 16_384
        return limits
    }()

    /// One connected session; returns when the store closes, throws when Redis fails.
    func serve() throws(RedisError) {
        let commands = try connect(limits: Self.commandLimits)
        let subscriber = try connect(limits: Self.subscriptionLimits)
        defer {
            commands.close()
            subscriber.close()
        }
        try subscriber.send(["SUBSCRIBE", RESPArgument(settings.channel)])
        let confirmation = try subscriber.receive()
        guard case .array(let parts?) = confirmation, parts.first?.text == "subscribe" else {
            throw .server(command: "SUBSCRIBE \(settings.channel)", message: confirmation.description)
        }
        // Subscribed first, then read: a change made meanwhile arrives as a message after the
        // state read, so the latest wins. This node's own unbans still queued (made while the link
        // was down) count as tombstones already: a ban they lifted, read back from Redis, is not
        // applied again here (it is deleted there when they go out).
        for (network, at) in store.shared.withLock({ $0.queue.pendingUnbans() }) { noteTombstone(network, at: at) }
        try converge(commands)
        let connectedAt = store.clock.nowMilliseconds
        store.shared.withLock { shared in
            shared.status.state = .connected
            shared.status.connections += 1
        }
        if reportedDown || !everConnected {
            store.notices.deliver(.linkChanged(available: true, detail: "\(settings.displayed), namespace \(settings.namespace), node \(store.nodeID)"))
        }
        reportedDown = false
        everConnected = true
        delay = Self.milliseconds(settings.reconnectDelay)
        store.notices.deliver(.stateWanted)
        var lastPing = RedisSocket.now()
        syncedUntil = connectedAt
        while true {
            while let value = try subscriber.bufferedValue() { receive(value) }
            reportForeign()
            let stopping = self.stopping
            let sent = try flush(commands)
            if store.shared.withLock({ $0.queue.takeStateOwed() }) {
                // The queue dropped changes for room: have the whole state again.
                store.notices.deliver(.stateWanted)
            }
            if stopping && !sent { return }
            var pollers = [pollfd(fd: subscriber.fileDescriptor, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: store.wake.readDescriptor, events: Int16(POLLIN), revents: 0)]
            // Asleep only if nothing was queued meanwhile, decided under the lock a producer
            // takes to queue: it either sees `sleeping` and writes a wake-up byte, or its
            // change is seen here (no lost wake-up).
            let idle = !sent && !stopping && store.shared.withLock { shared in
                guard shared.queue.isEmpty && shared.stateCursor >= shared.state.count else { return false }
                shared.sleeping = true
                return true
            }
            let ready = poll(&pollers, 2, idle ? 1_000 : 0)
            if idle { store.shared.withLock { $0.sleeping = false } }
            if ready > 0 && pollers[1].revents != 0 { store.wake.drain() }
            if ready > 0 && pollers[0].revents != 0 { try subscriber.readAvailable() }
            if RedisSocket.now() - lastPing > 5_000 {
                let reply = try commands.call(["PING"])
                if case .error(let message) = reply { throw .server(command: "PING", message: message) }
                lastPing = RedisSocket.now()
            }
            syncedUntil = store.clock.nowMilliseconds
        }
    }

    // MARK: - Receiving

    /// A pushed value on the subscription: another node's change or failure.
    func receive(_ value: RESPValue) {
        guard case .array(let parts?) = value, parts.count == 3, parts[0].text == "message" else { return }
        guard case .bulkString(let payload?) = parts[2] else {
            foreign.note("a message on \(settings.channel): \(parts[2])")
            return
        }
        guard let (node, record) = SharedRecord.decode(message: payload, key: store.key) else {
            foreign.note("a message on \(settings.channel)")
            return
        }
        guard node != store.nodeID else { return }
        store.shared.withLock { $0.status.received += 1 }
        deliver(record)
    }

    func deliver(_ record: SharedRecord) {
        switch record {
        case .failure(let failure):
            store.notices.deliver(.remoteFailure(failure))
        case .unban(let network, let at):
            noteTombstone(network, at: at)
            store.notices.deliver(.remoteChange(.unbanned(network)))
        case .ban(let entry) where isLifted(entry):
            // Lifted since it was placed (a hand-over that raced an unban, this node's own
            // included): not applied again.
            return
        default:
            if let change = record.change { store.notices.deliver(.remoteChange(change)) }
        }
    }

    func noteTombstone(_ network: IPNetwork, at: Int64) {
        tombstones[network] = max(tombstones[network] ?? .min, at)
        if tombstones.count > 10_000 {
            let oldest = Self.milliseconds(settings.unbanMemory)
            let now = store.clock.nowMilliseconds
            tombstones = tombstones.filter { now - $0.value < oldest }
            while tombstones.count > 10_000, let first = tombstones.min(by: { $0.value < $1.value }) { tombstones[first.key] = nil }
        }
    }

    /// Whether an unban newer than the ban lifted it.
    func isLifted(_ entry: BanEntry) -> Bool {
        tombstones.contains { network, at in at > entry.bannedAtMilliseconds && network.contains(entry.network.address) && network.prefixLength <= entry.network.prefixLength }
    }

    func reportForeign() {
        let total = foreign.total
        store.shared.withLock { $0.status.skipped = total }
        if let text = foreign.take(now: RedisSocket.now()) {
            store.notices.deliver(.warning(text))
        }
    }
}
