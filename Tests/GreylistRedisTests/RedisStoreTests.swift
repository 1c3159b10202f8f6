import Foundation
import GreylistTestSupport
import Testing
@testable import Greylist
@_spi(Internals) @testable import GreylistRedis

/// Greylists sharing bans through a real `redis-server` started for each test.
@Suite(.enabled(if: RedisServerFixture.isAvailable, "redis-server is not installed (.ci/run installs it)"))
struct RedisStoreTests {
    let bot = IPAddress.literal("203.0.113.7")
    var botKey: IPNetwork { IPNetwork(host: bot) }

    @Test func banOnOneNodeRefusesOnTheOtherAndUnbanLiftsEverywhere() async throws {
        let redis = try await RedisServerFixture()
        let nodeA = try ClusterNode("a", port: redis.port)
        let nodeB = try ClusterNode("b", port: redis.port)
        #expect(await nodeA.connected())
        #expect(await nodeB.connected())

        let outcome = await nodeA.greylist.recordFailedAuth(user: "bad_user_12345", ip: bot)
        #expect(outcome.closesStream)
        let key = botKey
        #expect(await nodeB.events.wait { EventWaiter.bannedNetworks($0).contains(key) })
        #expect(!nodeB.greylist.shouldAccept(ip: bot))
        #expect(nodeB.greylist.shouldAccept(ip: IPAddress.literal("203.0.113.8")))
        let onB = await nodeB.greylist.list()
        #expect(onB.first?.reason == .rule("botnet"))
        #expect(onB.first?.user == "bad_user_12345")

        let lifted = await nodeB.greylist.unban(key)
        #expect(lifted.count == 1)
        #expect(await nodeA.events.wait { events in events.contains { if case .unbanned(let entry) = $0 { entry.network == key } else { false } } })
        #expect(nodeA.greylist.shouldAccept(ip: bot))
        // Redis delivers in publish order: A's own ban message came back before B's unban, and
        // only the unban counts as received (a node skips its own messages).
        #expect(nodeA.store.status.received == 1)

        // Redis holds what the cluster holds: no ban key, an unban tombstone.
        let keys = try await RedisServerFixture.blocking { try redis.connect().call(["KEYS", "test:*"]) }
        #expect(keys == .array([.bulkString(Array("test:unban:203.0.113.7/32".utf8))]))
        await nodeA.close()
        await nodeB.close()
        await redis.stop()
    }

    /// With and without a local journal under the link.
    @Test(arguments: [true, false]) func aBotAlternatingNodesTripsTheThresholdAtTheSameCount(journal: Bool) async throws {
        let redis = try await RedisServerFixture()
        let rule = GreylistRule(name: "slow", pattern: "^admin$", maxFailures: 3, window: .seconds(600), banFor: .seconds(3_600))
        let nodeA = try ClusterNode("a", port: redis.port, rules: [rule], journal: journal)
        let nodeB = try ClusterNode("b", port: redis.port, rules: [rule], journal: journal)
        #expect(await nodeA.connected())
        #expect(await nodeB.connected())

        func sharedCount(_ count: Int) -> @Sendable ([GreylistEvent]) -> Bool {
            { events in events.contains { if case .sharedFailureCounted(_, let seen) = $0 { seen == count } else { false } } }
        }
        #expect(await nodeA.greylist.recordFailedAuth(user: "admin", ip: bot) == .counted(rules: ["slow"]))
        #expect(await nodeB.events.wait(until: sharedCount(1)))
        #expect(await nodeB.greylist.recordFailedAuth(user: "admin", ip: bot) == .counted(rules: ["slow"]))
        #expect(await nodeA.events.wait(until: sharedCount(2)))
        let third = await nodeA.greylist.recordFailedAuth(user: "admin", ip: bot)
        guard case .banned(let entry, _) = third else {
            Issue.record("the third failure, on A, did not ban: \(third)")
            return
        }
        #expect(entry.network == botKey)
        let key = botKey
        #expect(await nodeB.events.wait { EventWaiter.bannedNetworks($0).contains(key) })
        #expect(!nodeB.greylist.shouldAccept(ip: bot))
        // A second bot that stays on one node needs its three failures there as well.
        let other = IPAddress.literal("198.51.100.9")
        #expect(await nodeB.greylist.recordFailedAuth(user: "admin", ip: other) == .counted(rules: ["slow"]))
        #expect(await nodeB.greylist.recordFailedAuth(user: "admin", ip: other) == .counted(rules: ["slow"]))
        #expect(await nodeB.greylist.recordFailedAuth(user: "admin", ip: other).closesStream)
        await nodeA.close()
        await nodeB.close()
        await redis.stop()
    }

    @Test func aNodeStartedLaterLoadsTheSharedState() async throws {
        let redis = try await RedisServerFixture()
        let nodeA = try ClusterNode("a", port: redis.port)
        #expect(await nodeA.connected())
        let watcher = try await redis.subscriber("test:changes")
        let manual = try await nodeA.greylist.ban(IPNetwork.cidr("192.0.2.0/24"), for: .seconds(600), reason: "abuse desk")
        _ = await nodeA.greylist.recordFailedAuth(user: "bad_user_55555", ip: bot)
        // A reaches Redis: B, started now, reads both at connection (no message is replayed).
        let key = botKey
        // Each change is published after it is stored (one pipeline), so two messages mean both are in.
        let messages = try await receiveMessages(2, on: watcher)
        #expect(messages.allSatisfy { $0.hasPrefix("a ") })
        let stored = try await RedisServerFixture.blocking { try redis.connect().call(["EXISTS", "test:ban:192.0.2.0/24", "test:ban:203.0.113.7/32"]) }
        #expect(stored == .integer(2))
        let nodeB = try ClusterNode("b", port: redis.port)
        #expect(await nodeB.events.wait { EventWaiter.bannedNetworks($0).isSuperset(of: [key, manual.network]) })
        #expect(!nodeB.greylist.shouldAccept(ip: IPAddress.literal("192.0.2.200")))
        #expect(!nodeB.greylist.shouldAccept(ip: bot))
        await nodeA.close()
        await nodeB.close()
        await redis.stop()
    }

    @Test func aBotBackOnAnotherNodeAfterItsBanIsBannedLongerThere() async throws {
        let redis = try await RedisServerFixture()
        let clock = ManualClock()
        let nodeA = try ClusterNode("a", port: redis.port, clock: clock.wallClock)
        #expect(await nodeA.connected())
        let first = await nodeA.greylist.recordFailedAuth(user: "bad_user_12345", ip: bot)
        guard case .banned(let firstBan, _) = first else {
            Issue.record("no first ban: \(first)")
            return
        }
        #expect(firstBan.banCount == 1)
        await nodeA.close()  // Closing sends what is queued: the ban's key is in Redis.
        // Five hours later the four-hour ban is over; a node that never saw it starts now.
        clock.advance(by: .seconds(5 * 3_600))
        let nodeB = try ClusterNode("b", port: redis.port, clock: clock.wallClock)
        #expect(await nodeB.connected())
        #expect(nodeB.greylist.shouldAccept(ip: bot))
        let second = await nodeB.greylist.recordFailedAuth(user: "bad_user_12346", ip: bot)
        guard case .banned(let secondBan, _) = second else {
            Issue.record("no second ban: \(second)")
            return
        }
        #expect(secondBan.banCount == 2)
        #expect(secondBan.duration == .seconds(8 * 3_600))
        await nodeB.close()
        await redis.stop()
    }
}
