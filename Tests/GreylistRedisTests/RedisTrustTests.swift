import Foundation
import GreylistTestSupport
import Testing
@testable import Greylist
@_spi(Internals) @testable import GreylistRedis

/// Trust in a cluster: a key's trust, an account's trust on a key (shared addresses) and spent
/// guess budgets, shared through a real `redis-server` started for each test.
@Suite(.enabled(if: RedisServerFixture.isAvailable, "redis-server is not installed (.ci/run installs it)"))
struct RedisTrustTests {
    let office = IPAddress.literal("198.51.100.10")
    var officeKey: IPNetwork { IPNetwork(host: office) }

    /// Bans a fresh sentinel on `from` and waits until `to` has applied it: Redis delivers in
    /// publish order, so `to` has then applied everything `from` published before.
    func barrier(_ index: Int, from: ClusterNode, to: ClusterNode) async throws -> Bool {
        let sentinel = IPNetwork.cidr("192.0.2.\(index)/32")
        try await from.greylist.ban(sentinel, for: .seconds(60), reason: "barrier")
        return await to.events.wait { EventWaiter.bannedNetworks($0).contains(sentinel) }
    }

    @Test func trustEarnedOnOneNodeMakesABanSoftOnTheOtherAndARevocationMakesItHardAgain() async throws {
        let redis = try await RedisServerFixture()
        let nodeA = try ClusterNode("a", port: redis.port)
        let nodeB = try ClusterNode("b", port: redis.port)
        #expect(await nodeA.connected())
        #expect(await nodeB.connected())

        await nodeA.greylist.recordSuccessfulAuth(user: "alice", ip: office)
        #expect(try await barrier(1, from: nodeA, to: nodeB))
        #expect(await nodeB.greylist.trusted().map(\.network) == [officeKey])
        // A bot behind the trusted address trips the rule on B: the ban is soft there.
        #expect(await nodeB.greylist.recordFailedAuth(user: "bad_user_12345", ip: office).closesStream)
        #expect(nodeB.greylist.shouldAccept(ip: office), "B serves the trusted key despite its ban")

        // A revokes; B refuses again.
        #expect(await nodeA.greylist.revokeTrust(officeKey).map(\.network) == [officeKey])
        #expect(try await barrier(2, from: nodeA, to: nodeB))
        #expect(await nodeB.greylist.trusted().isEmpty)
        #expect(!nodeB.greylist.shouldAccept(ip: office), "with the trust revoked on A, B's ban is hard")
        await nodeA.close()
        await nodeB.close()
        await redis.stop()
    }

    @Test func anOfficeKnownOnOneNodeIsASharedAddressOnTheOtherAndASpentBudgetIsSpentEverywhere() async throws {
        let redis = try await RedisServerFixture()
        let nodeA = try ClusterNode("a", port: redis.port, rules: GreylistConfiguration.recommendedRules())
        let nodeB = try ClusterNode("b", port: redis.port, rules: GreylistConfiguration.recommendedRules())
        #expect(await nodeA.connected())
        #expect(await nodeB.connected())

        // Twenty users log in through A.
        for index in 0..<20 { await nodeA.greylist.recordSuccessfulAuth(user: "staff\(index)", ip: office) }
        #expect(try await barrier(1, from: nodeA, to: nodeB))
        #expect(await nodeB.greylist.export().trustedAccounts.count == 20)
        // On B, a bot behind the office guesses other accounts: their streams end, the address stays trusted.
        for account in ["x1", "x2", "x3", "x4"] {
            #expect(await nodeB.greylist.recordFailedAuth(user: account, ip: office, kind: .invalidCredentials) == .sharedAddress(officeKey, dryRun: false))
        }
        #expect(await nodeB.greylist.trusted().map(\.network) == [officeKey], "the office's twenty accounts keep it trusted on B")
        #expect(nodeB.greylist.shouldAccept(ip: office))

        // The bot spends x9's budget on A; B answers x9 unchecked too.
        for _ in 0..<10 { await nodeA.greylist.recordFailedAuth(user: "x9", ip: office, kind: .invalidCredentials) }
        #expect(!nodeA.greylist.shouldVerify(user: "x9", ip: office))
        #expect(try await barrier(2, from: nodeA, to: nodeB))
        #expect(!nodeB.greylist.shouldVerify(user: "x9", ip: office))
        #expect(nodeB.greylist.shouldVerify(user: "staff3", ip: office))

        // A node started now reads both from Redis when it connects.
        let nodeC = try ClusterNode("c", port: redis.port, rules: GreylistConfiguration.recommendedRules())
        #expect(await nodeC.connected())
        #expect(await nodeC.greylist.export().trustedAccounts.count == 20)
        #expect(!nodeC.greylist.shouldVerify(user: "x9", ip: office))
        let keys = try await RedisServerFixture.blocking { try redis.connect().call(["KEYS", "test:blocked:*"]) }
        guard case .array(let names?) = keys, let name = names.first?.text else {
            Issue.record("no blocked key in Redis: \(keys)")
            return
        }
        #expect(name.hasPrefix("test:blocked:198.51.100.10/32#") && name.count == "test:blocked:198.51.100.10/32#".count + 32)
        await nodeA.close()
        await nodeB.close()
        await nodeC.close()
        await redis.stop()
    }

    @Test func anotherNodesMarkForARangeOrAnOverlongBudgetIsRefusedOrClamped() async throws {
        let redis = try await RedisServerFixture()
        let node = try ClusterNode("a", port: redis.port, rules: GreylistConfiguration.recommendedRules())
        #expect(await node.connected())
        let now = WallClock.milliseconds(Date())
        // In delivery order: the budget is applied before the range's refusal is reported.
        let forged = [
            SharedRecord.loginsBlocked(IPNetwork(host: office), account: "bob", until: now + 365 * 86_400_000),
            SharedRecord.accountTrust(.cidr("198.51.100.0/24"), account: "alice", until: now + 86_400_000),
        ]
        let connection = try await RedisServerFixture.blocking { UncheckedBox(try redis.connect()) }
        for record in forged {
            _ = try await RedisServerFixture.blocking { try connection.value.call(["PUBLISH", "test:changes", RESPArgument(bytes: record.message(from: "z", key: .forTests))]) }
        }
        #expect(await node.events.wait { events in events.contains { if case .storageWarning(let text) = $0 { text.contains("not one key") } else { false } } })
        let exported = await node.greylist.export()
        #expect(exported.trustedAccounts.isEmpty, "a range is not one key")
        #expect(exported.blockedLogins.count == 1)
        #expect(exported.blockedLogins.allSatisfy { $0.until <= Date().addingTimeInterval(86_400 + 60) }, "a budget is clamped to trust.guessWindow")
        await node.close()
        await redis.stop()
    }
}
