import Foundation
import GreylistTestSupport
import Testing
@testable import Greylist
@_spi(Internals) @testable import GreylistRedis

/// Unbans converge as bans do: a node that was stopped, or cut off from Redis, while another node
/// lifted a ban serves the network once it is back. Real `redis-server`s started by each test.
@Suite(.enabled(if: RedisServerFixture.isAvailable, "redis-server is not installed (.ci/run installs it)"))
struct RedisConvergenceTests {
    let bot = IPAddress.literal("203.0.113.70")
    var botKey: IPNetwork { IPNetwork(host: bot) }

    static func isUnban(of key: IPNetwork) -> @Sendable (GreylistEvent) -> Bool {
        { event in if case .unbanned(let entry) = event { entry.network == key } else { false } }
    }

    @Test func aNetworkUnbannedWhileANodeIsStoppedIsServedByItAfterItsRestart() async throws {
        let redis = try await RedisServerFixture()
        let nodeA = try ClusterNode("a", port: redis.port)
        var nodeB = try ClusterNode("b", port: redis.port)
        #expect(await nodeA.connected())
        #expect(await nodeB.connected())
        #expect(await nodeA.greylist.recordFailedAuth(user: "bad_user_70000", ip: bot).closesStream)
        let key = botKey
        #expect(await nodeB.events.wait { EventWaiter.bannedNetworks($0).contains(key) })

        // B stops with the ban in its journal; A lifts it meanwhile.
        await nodeB.close()
        #expect(await nodeA.greylist.unban(key).count == 1)
        let tombstone = try await RedisServerFixture.blocking {
            try redis.connect().call(["EXISTS", "test:unban:203.0.113.70/32", "test:ban:203.0.113.70/32"])
        }
        #expect(tombstone == .integer(1), "the ban's key is gone and the unban's tombstone is in Redis")

        nodeB = try await ClusterNode.restarted("b", port: redis.port, directory: nodeB.directory)
        #expect(!nodeB.greylist.shouldAccept(ip: bot), "before it reconnects, B refuses from its journal")
        #expect(await nodeB.connected())
        // The link reports itself up after it applied what it read: the unban came first.
        #expect(nodeB.events.count(where: Self.isUnban(of: key)) == 1)
        #expect(nodeB.greylist.shouldAccept(ip: bot), "B serves the network A unbanned while B was stopped")
        await nodeA.close()
        await nodeB.close()
        await redis.stop()
    }

    @Test func aNetworkUnbannedWhileTheNodesAreCutOffIsServedEverywhereOnceRedisIsBack() async throws {
        let redis = try await RedisServerFixture()
        let port = redis.port
        let nodeA = try ClusterNode("a", port: port)
        let nodeB = try ClusterNode("b", port: port)
        #expect(await nodeA.connected())
        #expect(await nodeB.connected())
        #expect(await nodeA.greylist.recordFailedAuth(user: "bad_user_70001", ip: bot).closesStream)
        let key = botKey
        #expect(await nodeB.events.wait { EventWaiter.bannedNetworks($0).contains(key) })

        // Redis goes away (and comes back empty: no persistence); B lifts the ban while cut off.
        await redis.stop()
        #expect(await nodeA.events.wait(for: EventWaiter.isLinkDown))
        #expect(await nodeB.events.wait(for: EventWaiter.isLinkDown))
        #expect(await nodeB.greylist.unban(key).count == 1)
        #expect(!nodeA.greylist.shouldAccept(ip: bot), "A has not heard of it yet")

        let restarted = try await RedisServerFixture(port: port)
        // Whichever node reconnects first, A ends up serving the network: B's queued unban
        // reaches Redis and A, and A's hand-over does not put the ban back.
        #expect(await nodeA.events.wait(for: Self.isUnban(of: key)))
        #expect(nodeA.greylist.shouldAccept(ip: bot))
        #expect(nodeB.greylist.shouldAccept(ip: bot))
        #expect(await nodeB.events.wait { $0.count(where: EventWaiter.isLinkUp) >= 2 })
        #expect(await nodeA.events.wait { $0.count(where: EventWaiter.isLinkUp) >= 2 })
        // A node that joins now reads the unban, and does not apply the ban (a hand-over that
        // raced the unban may have stored its key again; the tombstone is newer).
        let nodeC = try ClusterNode("c", port: port)
        #expect(await nodeC.connected())
        #expect(nodeC.greylist.shouldAccept(ip: bot))
        #expect(nodeB.greylist.shouldAccept(ip: bot), "B did not take the ban back from A's hand-over")
        await nodeA.close()
        await nodeB.close()
        await nodeC.close()
        await restarted.stop()
    }

    @Test func aNodeThatUnbannedWhileCutOffDoesNotTakeTheBanBackFromAnotherNodesHandOver() async throws {
        let redis = try await RedisServerFixture()
        let port = redis.port
        let nodeA = try ClusterNode("a", port: port)
        // B reconnects a second after A: A's hand-over has put the ban back into Redis by then.
        let nodeB = try ClusterNode("b", port: port) { settings in
            settings.reconnectDelay = .seconds(1)
            settings.maximumReconnectDelay = .seconds(1)
        }
        #expect(await nodeA.connected())
        #expect(await nodeB.connected())
        #expect(await nodeA.greylist.recordFailedAuth(user: "bad_user_70002", ip: bot).closesStream)
        let key = botKey
        #expect(await nodeB.events.wait { EventWaiter.bannedNetworks($0).contains(key) })
        await redis.stop()
        #expect(await nodeB.events.wait(for: EventWaiter.isLinkDown))
        #expect(await nodeB.greylist.unban(key).count == 1)

        let restarted = try await RedisServerFixture(port: port)
        #expect(await nodeA.events.wait { $0.count(where: EventWaiter.isLinkUp) >= 2 })
        #expect(await nodeB.events.wait { $0.count(where: EventWaiter.isLinkUp) >= 2 })
        // B read A's ban back at connection, with its own unban still queued: not applied.
        #expect(nodeB.greylist.shouldAccept(ip: bot), "B took the ban it lifted back from A's hand-over")
        #expect(await nodeA.events.wait(for: Self.isUnban(of: key)))
        #expect(nodeA.greylist.shouldAccept(ip: bot))
        await nodeA.close()
        await nodeB.close()
        await restarted.stop()
    }

    @Test func aBanMessageOlderThanAnUnbanThisNodeMadeIsNotApplied() async throws {
        let redis = try await RedisServerFixture()
        let node = try ClusterNode("b", port: redis.port)
        #expect(await node.connected())
        let watcher = try await redis.subscriber("test:changes")
        #expect(await node.greylist.recordFailedAuth(user: "bad_user_70003", ip: bot).closesStream)
        let key = botKey
        #expect(await node.greylist.unban(key).count == 1)
        let unbannedAt = WallClock.milliseconds(Date())
        // The ban's and the unban's messages: the unban went out (stored, then published).
        #expect(try await receiveMessages(2, on: watcher).count == 2)
        // Another node's hand-over, computed before it heard of the unban, announces the old ban;
        // then a ban of another key, as a barrier (messages arrive in order).
        let stale = SharedRecord.ban(BanEntry(network: key, reason: .rule("botnet"), user: nil, bannedAtMilliseconds: unbannedAt - 60_000,
                                              expiresAtMilliseconds: unbannedAt + 3_600_000, banCount: 1, refusedCount: 0))
        let sentinel = IPNetwork.cidr("192.0.2.99/32")
        let fresh = SharedRecord.ban(BanEntry(network: sentinel, reason: .manual("barrier"), user: nil, bannedAtMilliseconds: unbannedAt,
                                              expiresAtMilliseconds: unbannedAt + 3_600_000, banCount: 1, refusedCount: 0))
        let connection = try await RedisServerFixture.blocking { UncheckedBox(try redis.connect()) }
        for record in [stale, fresh] {
            _ = try await RedisServerFixture.blocking { try connection.value.call(["PUBLISH", "test:changes", RESPArgument(bytes: record.message(from: "a", key: .forTests))]) }
        }
        #expect(await node.events.wait { EventWaiter.bannedNetworks($0).contains(sentinel) })
        #expect(node.greylist.shouldAccept(ip: bot), "a ban placed before this node's unban came back through a message")
        await node.close()
        await redis.stop()
    }

    @Test func anUnbanQueuedDuringAWholeStateHandOverKeepsThatBanOutOfTheHandOver() {
        var queue = OutgoingQueue(capacity: 16)
        let entry = BanEntry(network: .cidr("203.0.113.70/32"), reason: .rule("botnet"), user: nil, bannedAtMilliseconds: 1,
                             expiresAtMilliseconds: 2, banCount: 1, refusedCount: 0)
        queue.beginState()
        queue.push(.unban(entry.network, at: 3))
        // The hand-over's records are filtered by the slots touched since it began: the ban is one.
        #expect(queue.touchedSinceState.contains(OutgoingQueue.slot(of: .ban(entry))))
        #expect(!queue.touchedSinceState.contains(OutgoingQueue.slot(of: .trust(entry.network, until: 5))))
        queue.endState()
        #expect(queue.touchedSinceState.isEmpty)
    }
}
