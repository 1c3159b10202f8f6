import Dispatch
import Foundation
import GreylistTestSupport
@testable import Greylist
@_spi(Internals) @testable import GreylistRedis

/// Collects a greylist's events and lets a test wait, with a deadline, until they satisfy a
/// condition: the wait blocks on a semaphore signalled by each event (off the concurrency pool),
/// never on a timer.
final class EventWaiter: Sendable {
    private let storage = LockedValue<[GreylistEvent]>([])
    private let arrived = DispatchSemaphore(value: 0)

    var events: [GreylistEvent] { storage.withLock { $0 } }

    var sink: @Sendable (GreylistEvent) -> Void {
        { event in
            self.storage.withLock { $0.append(event) }
            self.arrived.signal()
        }
    }

    /// Waits until `condition` holds for the events so far; false when `seconds` pass first.
    func wait(within seconds: Double = 20, until condition: @escaping @Sendable ([GreylistEvent]) -> Bool) async -> Bool {
        await RedisServerFixture.blocking {
            let deadline = DispatchTime.now() + seconds
            while true {
                if condition(self.events) { return true }
                if self.arrived.wait(timeout: deadline) == .timedOut { return condition(self.events) }
            }
        }
    }

    /// Waits for one event matching `predicate`.
    func wait(within seconds: Double = 20, for predicate: @escaping @Sendable (GreylistEvent) -> Bool) async -> Bool {
        await wait(within: seconds) { $0.contains(where: predicate) }
    }

    /// How many events match.
    func count(where predicate: (GreylistEvent) -> Bool) -> Int {
        events.count(where: predicate)
    }

    /// Networks banned so far (by this node or applied from others).
    static func bannedNetworks(_ events: [GreylistEvent]) -> Set<IPNetwork> {
        Set(events.compactMap { if case .banned(let entry, _) = $0 { return entry.network } else { return nil } })
    }

    static func isLinkUp(_ event: GreylistEvent) -> Bool {
        if case .sharedStoreChanged(true, _) = event { return true }
        return false
    }

    static func isLinkDown(_ event: GreylistEvent) -> Bool {
        if case .sharedStoreChanged(false, _) = event { return true }
        return false
    }
}

/// One cluster node for a test: a greylist over a ``RedisStore`` over a journal in a fresh
/// directory of its own (or a given one, for restarts).
struct ClusterNode {
    let greylist: Greylist
    let store: RedisStore
    let events: EventWaiter
    let directory: String

    init(_ name: String, port: Int, namespace: String = "test", rules: [GreylistRule] = [redisBotnetRule],
         directory: String? = nil, password: String? = nil, clock: WallClock = .system, journal: Bool = true,
         openedJournal: JournalStore? = nil, configure: (inout RedisStoreSettings) -> Void = { _ in }) throws {
        let path = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("greylist-redis-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var settings = try RedisStoreSettings(host: "127.0.0.1", port: port, password: password, namespace: namespace)
        settings.reconnectDelay = .milliseconds(20)
        settings.maximumReconnectDelay = .milliseconds(200)
        settings.timeout = .seconds(2)
        configure(&settings)
        let local = try openedJournal ?? (journal ? JournalStore(directory: path) : nil)
        let store = RedisStore(settings: settings, key: .forTests, localJournal: local, clock: clock, nodeID: name)
        let events = EventWaiter()
        self.greylist = try Greylist(configuration: GreylistConfiguration(rules: rules), clock: clock, events: events.sink, store: store)
        self.store = store
        self.events = events
        self.directory = path
    }

    /// The same node restarted on its state directory: waits (at most 2 s) for the lock, which a
    /// child process another test is starting may hold for a moment (between its fork and exec).
    static func restarted(_ name: String, port: Int, directory: String) async throws -> ClusterNode {
        try ClusterNode(name, port: port, directory: directory, openedJournal: try await JournalStore.open(directory: directory))
    }

    /// Closes the greylist's store (the journal lets go of its directory, the link stops).
    func close() async {
        await greylist.closeStore()
    }

    /// Waits until the link is up.
    func connected() async -> Bool {
        await events.wait(for: EventWaiter.isLinkUp)
    }
}

/// One matching failure bans for four hours.
let redisBotnetRule = GreylistRule(name: "botnet", pattern: "^bad_user_[0-9]{5,}$", banFor: .seconds(4 * 3_600))


extension RedisServerFixture {
    /// A connection subscribed to `channel`, ready before anything is published.
    func subscriber(_ channel: String) async throws -> RedisConnection {
        let box = try await Self.blocking { () throws -> UncheckedBox<RedisConnection> in
            let connection = try self.connect()
            try connection.send(["SUBSCRIBE", RESPArgument(channel)])
            _ = try connection.receive()
            return UncheckedBox(connection)
        }
        return box.value
    }
}

/// Hands a non-Sendable value across one `await`, owned by one side at a time.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Receives `count` pub/sub messages within the connection's timeout each; their payloads.
func receiveMessages(_ count: Int, on connection: RedisConnection) async throws -> [String] {
    let box = UncheckedBox(connection)
    return try await RedisServerFixture.blocking {
        var payloads: [String] = []
        while payloads.count < count {
            if case .array(let parts?) = try box.value.receive(timeout: .seconds(10)), parts.count == 3, parts[0].text == "message" {
                payloads.append(parts[2].text ?? "")
            }
        }
        return payloads
    }
}
