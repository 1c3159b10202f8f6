import Foundation
import GreylistTestSupport
import Testing
@testable import Greylist
@_spi(Internals) @testable import GreylistRedis

/// Redis going away and coming back, hostile data in it, and credentials.
@Suite(.enabled(if: RedisServerFixture.isAvailable, "redis-server is not installed (.ci/run installs it)"))
struct RedisOutageTests {
    /// Bans `count` addresses of `10.<block>.x.y`, concurrently (the journal commits them in groups).
    static func flood(_ node: ClusterNode, block: Int, count: Int) async -> Set<IPNetwork> {
        await withTaskGroup(of: IPNetwork?.self) { group in
            for index in 0..<count {
                let address = IPAddress.literal("10.\(block).\(index / 250).\(index % 250 + 1)")
                group.addTask {
                    let outcome = await node.greylist.recordFailedAuth(user: "bad_user_\(10_000 + index)", ip: address)
                    return outcome.closesStream ? IPNetwork(host: address) : nil
                }
            }
            var banned: Set<IPNetwork> = []
            for await network in group { if let network { banned.insert(network) } }
            return banned
        }
    }

    @Test func redisKilledDuringABanFloodLosesNoAcknowledgedBan() async throws {
        let redis = try await RedisServerFixture()
        let port = redis.port
        let nodeA = try ClusterNode("a", port: port)
        let nodeB = try ClusterNode("b", port: port)
        #expect(await nodeA.connected())
        #expect(await nodeB.connected())

        async let early = Self.flood(nodeA, block: 1, count: 500)
        async let killed: Void = redis.stop()
        var bannedOnA = await early
        await killed
        // Redis is gone: bans are still acknowledged (by the local journals) and refused.
        bannedOnA.formUnion(await Self.flood(nodeA, block: 2, count: 500))
        let bannedOnB = await Self.flood(nodeB, block: 3, count: 300)
        #expect(bannedOnA.count == 1_000)
        #expect(bannedOnB.count == 300)
        #expect(!nodeB.greylist.shouldAccept(ip: IPAddress.literal("10.3.0.1")))
        #expect(await nodeA.events.wait(for: EventWaiter.isLinkDown))
        #expect(await nodeB.events.wait(for: EventWaiter.isLinkDown))

        // A new, empty Redis on the same port: both nodes add what it lacks and converge.
        let restarted = try await RedisServerFixture(port: port)
        let everything = bannedOnA.union(bannedOnB)
        #expect(await nodeA.events.wait(within: 60) { EventWaiter.bannedNetworks($0).isSuperset(of: everything) })
        #expect(await nodeB.events.wait(within: 60) { EventWaiter.bannedNetworks($0).isSuperset(of: everything) })
        for network in everything {
            #expect(!nodeA.greylist.shouldAccept(ip: network.address) && !nodeB.greylist.shouldAccept(ip: network.address))
        }
        #expect(await nodeA.events.wait { $0.count(where: EventWaiter.isLinkUp) >= 2 })
        // Said once per outage, not per ban.
        #expect(nodeA.events.count(where: EventWaiter.isLinkDown) == 1)
        #expect(nodeB.events.count(where: EventWaiter.isLinkDown) == 1)
        // Redis holds every ban, range bans included (each node's own ranges, from its own bans).
        let onA = EventWaiter.bannedNetworks(nodeA.events.events)
        #expect(onA == EventWaiter.bannedNetworks(nodeB.events.events))
        let keys = try await RedisServerFixture.blocking { try restarted.connect().call(["DBSIZE"]) }
        #expect(keys == .integer(Int64(onA.count)))
        await nodeA.close()
        await nodeB.close()
        await restarted.stop()
    }

    @Test func bansMadeWhileRedisIsDownAreAcknowledgedKeptAndSharedLater() async throws {
        let port = try RedisServerFixture.freePort()
        var nodeA = try ClusterNode("a", port: port)
        let bots = (1...20).map { IPAddress.literal("192.0.2.\($0)") }
        for (index, bot) in bots.enumerated() {
            #expect(await nodeA.greylist.recordFailedAuth(user: "bad_user_\(20_000 + index)", ip: bot).closesStream)
        }
        #expect(await nodeA.events.wait(for: EventWaiter.isLinkDown))
        #expect(nodeA.events.count(where: EventWaiter.isLinkDown) == 1)
        // A restart with Redis still away refuses from the local journal.
        await nodeA.close()
        nodeA = try await ClusterNode.restarted("a", port: port, directory: nodeA.directory)
        #expect(bots.allSatisfy { !nodeA.greylist.shouldAccept(ip: $0) })

        let redis = try await RedisServerFixture(port: port)
        #expect(await nodeA.connected())
        let nodeB = try ClusterNode("b", port: port)
        let keys = Set(bots.map { IPNetwork(host: $0) })
        #expect(await nodeB.events.wait { EventWaiter.bannedNetworks($0).isSuperset(of: keys) })
        #expect(bots.allSatisfy { !nodeB.greylist.shouldAccept(ip: $0) })
        await nodeA.close()
        await nodeB.close()
        await redis.stop()
    }

    @Test func anotherNodesBanSurvivesARestartWithoutRedis() async throws {
        let redis = try await RedisServerFixture()
        let port = redis.port
        let nodeA = try ClusterNode("a", port: port)
        var nodeB = try ClusterNode("b", port: port)
        #expect(await nodeA.connected())
        #expect(await nodeB.connected())
        let bot = IPAddress.literal("192.0.2.77")
        #expect(await nodeA.greylist.recordFailedAuth(user: "bad_user_77777", ip: bot).closesStream)
        let key = IPNetwork(host: bot)
        #expect(await nodeB.events.wait { EventWaiter.bannedNetworks($0).contains(key) })
        await redis.stop()
        // B restarts while Redis is gone: A's ban is in B's own journal.
        await nodeB.close()
        nodeB = try await ClusterNode.restarted("b", port: port, directory: nodeB.directory)
        #expect(!nodeB.greylist.shouldAccept(ip: bot))
        await nodeA.close()
        await nodeB.close()
    }

    @Test func foreignDataIsReportedAndSkipped() async throws {
        let redis = try await RedisServerFixture()
        let now = WallClock.system.nowMilliseconds
        func entry(_ network: String) -> BanEntry {
            BanEntry(network: .cidr(network), reason: .rule("botnet"), user: "bad_user_99999", bannedAtMilliseconds: now,
                     expiresAtMilliseconds: now + 3_600_000, banCount: 1, refusedCount: 0)
        }
        let valid = SharedRecord.ban(entry("10.0.0.6/32"))
        let elsewhere = SharedRecord.ban(entry("10.0.0.5/32"))
        try await RedisServerFixture.blocking {
            let connection = try redis.connect()
            let huge = RESPArgument(bytes: [UInt8](repeating: UInt8(ascii: "g"), count: 3 << 20))
            let replies = try connection.pipeline([
                ["SET", "test:ban:garbage", "x"],
                ["SET", "test:ban:10.0.0.1/32", "g2 00000000 b 1 2 1 r =botnet -"],
                ["RPUSH", "test:ban:10.0.0.2/32", "a"],
                ["SET", "test:ban:10.0.0.3/32", huge],
                ["SET", "test:ban:10.0.0.4/32", RESPArgument(bytes: elsewhere.value(key: ClusterKey.forTests))],
                ["SET", "test:ban:010.0.0.8/32", RESPArgument(bytes: valid.value(key: ClusterKey.forTests))],
                ["SET", "test:trust:10.0.0.9/32", RESPArgument(bytes: valid.value(key: ClusterKey.forTests))],
                ["SET", "test:ban:10.0.0.6/32", RESPArgument(bytes: valid.value(key: ClusterKey.forTests))],
            ])
            #expect(!replies.contains { if case .error = $0 { true } else { false } })
        }
        let node = try ClusterNode("a", port: redis.port)
        #expect(await node.events.wait { EventWaiter.bannedNetworks($0).contains(.cidr("10.0.0.6/32")) })
        #expect(await node.events.wait { events in
            events.contains { if case .storageWarning(let text) = $0 { text.contains("skipped 7 foreign") } else { false } }
        })
        #expect(EventWaiter.bannedNetworks(node.events.events) == [.cidr("10.0.0.6/32")])

        // Messages: garbage, a huge one, one from this node's id, then a valid one from another node.
        let fromElsewhere = SharedRecord.ban(entry("10.0.0.7/32")).message(from: "z", key: ClusterKey.forTests)
        let ownEcho = SharedRecord.ban(entry("10.0.0.10/32")).message(from: "a", key: ClusterKey.forTests)
        try await RedisServerFixture.blocking {
            let connection = try redis.connect()
            _ = try connection.pipeline([
                ["PUBLISH", "test:changes", "junk"],
                ["PUBLISH", "test:changes", RESPArgument(bytes: [UInt8](repeating: 0x20, count: 200_000))],
                ["PUBLISH", "test:changes", RESPArgument(bytes: Array("z 10.0.0.7/32 ".utf8) + Array(valid.value(key: ClusterKey.forTests)))],
                ["PUBLISH", "test:changes", RESPArgument(bytes: ownEcho)],
                ["PUBLISH", "test:changes", RESPArgument(bytes: fromElsewhere)],
            ])
        }
        #expect(await node.events.wait { EventWaiter.bannedNetworks($0).contains(.cidr("10.0.0.7/32")) })
        #expect(EventWaiter.bannedNetworks(node.events.events) == [.cidr("10.0.0.6/32"), .cidr("10.0.0.7/32")])
        #expect(node.store.status.skipped == 10)
        #expect(node.store.status.state == .connected)
        #expect(node.events.count(where: EventWaiter.isLinkDown) == 0)
        await node.close()
        await redis.stop()
    }

    @Test("records forged without the cluster key are foreign: a PUBLISH or SET that bans or trusts 0.0.0.0/0, or unbans all, changes nothing")
    func forgedRecordsAreForeign() async throws {
        let redis = try await RedisServerFixture()
        let now = WallClock.system.nowMilliseconds
        let forger = try ClusterKey(Array("someone-who-can-write-to-redis".utf8))
        let everything = IPNetwork.cidr("0.0.0.0/0")
        let banAll = SharedRecord.ban(BanEntry(network: everything, reason: .manual("pwned"), user: nil, bannedAtMilliseconds: now,
                                               expiresAtMilliseconds: 9_000_000_000_000_000, banCount: 1, refusedCount: 0))
        try await RedisServerFixture.blocking {
            _ = try redis.connect().pipeline([
                ["SET", "test:ban:0.0.0.0/0", RESPArgument(bytes: banAll.value(key: forger))],
                ["SET", "test:trust:0.0.0.0/0", RESPArgument(bytes: SharedRecord.trust(everything, until: now + 86_400_000).value(key: forger))],
            ])
        }
        let node = try ClusterNode("a", port: redis.port)
        let real = try await node.greylist.ban(.cidr("10.0.0.20/32"), for: .seconds(3_600), reason: "operator")
        #expect(real.network == .cidr("10.0.0.20/32"))
        #expect(await node.events.wait { events in
            events.contains { if case .storageWarning(let text) = $0 { text.contains("skipped 2 foreign") } else { false } }
        })
        try await RedisServerFixture.blocking {
            _ = try redis.connect().pipeline([
                ["PUBLISH", "test:changes", RESPArgument(bytes: banAll.message(from: "z", key: forger))],
                ["PUBLISH", "test:changes", RESPArgument(bytes: SharedRecord.unban(everything, at: now + 1).message(from: "z", key: forger))],
                ["PUBLISH", "test:changes", RESPArgument(bytes: SharedRecord.trust(.cidr("10.0.0.20/32"), until: now + 86_400_000).message(from: "z", key: forger))],
                // The same kind of record, made with the key: applied, so the ones above were read.
                ["PUBLISH", "test:changes", RESPArgument(bytes: SharedRecord.ban(BanEntry(
                    network: .cidr("10.0.0.21/32"), reason: .rule("botnet"), user: "bad_user_99999", bannedAtMilliseconds: now,
                    expiresAtMilliseconds: now + 3_600_000, banCount: 1, refusedCount: 0)).message(from: "z", key: .forTests))],
            ])
        }
        #expect(await node.events.wait { EventWaiter.bannedNetworks($0).contains(.cidr("10.0.0.21/32")) })
        #expect(node.store.status.skipped == 5)
        #expect(node.greylist.shouldAccept(ip: .literal("192.0.2.1")), "0.0.0.0/0 was never banned")
        #expect(!node.greylist.shouldAccept(ip: .literal("10.0.0.20")), "nothing was unbanned")
        #expect(await node.greylist.list().map(\.network).sorted { $0.description < $1.description } == [.cidr("10.0.0.20/32"), .cidr("10.0.0.21/32")])
        await node.close()
        await redis.stop()
    }

    @Test("a key name or a message over the reply limit (1 MiB) is skipped and counted; the link converges and stays up")
    func oversizedKeysAndMessagesAreSkipped() async throws {
        let redis = try await RedisServerFixture()
        let now = WallClock.system.nowMilliseconds
        let valid = SharedRecord.ban(BanEntry(network: .cidr("10.0.0.6/32"), reason: .rule("botnet"), user: "bad_user_99999",
                                              bannedAtMilliseconds: now, expiresAtMilliseconds: now + 3_600_000, banCount: 1, refusedCount: 0))
        let longName = "test:ban:" + String(repeating: "9", count: 2 << 20)
        try await RedisServerFixture.blocking {
            let connection = try redis.connect()
            _ = try connection.pipeline([
                ["SET", RESPArgument(longName), "x"],
                ["SET", "test:ban:10.0.0.6/32", RESPArgument(bytes: valid.value(key: ClusterKey.forTests))],
            ])
        }
        // Before the parser skipped what is over its limit, the SCAN reply broke the connection on
        // every (re)connect and the node never converged.
        let node = try ClusterNode("a", port: redis.port)
        #expect(await node.events.wait { EventWaiter.bannedNetworks($0).contains(.cidr("10.0.0.6/32")) })
        #expect(await node.events.wait { events in
            events.contains { if case .storageWarning(let text) = $0 { text.contains("skipped 1 foreign") } else { false } }
        })
        let fromElsewhere = SharedRecord.ban(BanEntry(network: .cidr("10.0.0.7/32"), reason: .rule("botnet"), user: "bad_user_99999",
                                                      bannedAtMilliseconds: now, expiresAtMilliseconds: now + 3_600_000, banCount: 1,
                                                      refusedCount: 0)).message(from: "z", key: ClusterKey.forTests)
        try await RedisServerFixture.blocking {
            _ = try redis.connect().pipeline([
                ["PUBLISH", "test:changes", RESPArgument(bytes: [UInt8](repeating: 0x20, count: 2 << 20))],
                ["PUBLISH", "test:changes", RESPArgument(bytes: fromElsewhere)],
            ])
        }
        #expect(await node.events.wait { EventWaiter.bannedNetworks($0).contains(.cidr("10.0.0.7/32")) })
        #expect(node.store.status.skipped == 2)
        #expect(node.store.status.state == .connected)
        #expect(node.events.count(where: EventWaiter.isLinkDown) == 0)
        await node.close()
        await redis.stop()
    }

    @Test func credentialsAndDatabaseFromTheURL() async throws {
        let redis = try await RedisServerFixture(["--requirepass", "s3cret pass", "--user", "greylist", "on", ">acl-pass", "~*", "&*", "+@all"])
        let wrong = try RedisStoreSettings(url: "redis://:nope@127.0.0.1:\(redis.port)/2", namespace: "test")
        #expect(wrong.password == "nope")
        let denied = try ClusterNode("a", port: redis.port, password: "nope") { $0.database = 2 }
        #expect(await denied.events.wait(for: EventWaiter.isLinkDown))
        let line = denied.events.events.first(where: EventWaiter.isLinkDown)?.description ?? ""
        #expect(line.contains("AUTH") && !line.contains("nope"))
        await denied.close()

        let right = try RedisStoreSettings(url: "redis://:s3cret%20pass@127.0.0.1:\(redis.port)/2", namespace: "test")
        #expect(right.password == "s3cret pass" && right.database == 2 && !right.displayed.contains("s3cret"))
        let node = try ClusterNode("b", port: redis.port, password: "s3cret pass") { $0.database = 2 }
        #expect(await node.connected())
        _ = try await node.greylist.ban(.cidr("198.51.100.0/24"), for: .seconds(600), reason: "test")
        // Closing sends what is queued while Redis is there.
        await node.close()
        let keys = try await RedisServerFixture.blocking { try redis.connect(password: "s3cret pass", database: 2).call(["KEYS", "test:ban:*"]) }
        #expect(keys == .array([.bulkString(Array("test:ban:198.51.100.0/24".utf8))]))

        // An ACL user (AUTH user password) reads the same state.
        let aclURL = try RedisStoreSettings(url: "redis://greylist:acl-pass@127.0.0.1:\(redis.port)/2", namespace: "test")
        let user = try ClusterNode("c", port: redis.port, password: "acl-pass") { $0.username = aclURL.username; $0.database = aclURL.database }
        #expect(await user.events.wait { EventWaiter.bannedNetworks($0).contains(.cidr("198.51.100.0/24")) })
        await user.close()
        await redis.stop()
    }
}
