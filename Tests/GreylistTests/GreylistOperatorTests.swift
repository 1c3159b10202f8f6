import Foundation
import GreylistTestSupport
import Testing
@testable import Greylist

@Suite struct GreylistOperatorTests {
    let clock = ManualClock()
    let recorder = EventRecorder()

    func makeGreylist(_ configuration: GreylistConfiguration = GreylistConfiguration(rules: [botnetRule])) throws -> Greylist {
        try Greylist(configuration: configuration, clock: clock.wallClock, events: recorder.sink)
    }

    @Test("an operator bans a network with a reason and a duration")
    func manualBan() async throws {
        let greylist = try makeGreylist()
        let entry = try await greylist.ban(.cidr("198.51.100.0/24"), for: .seconds(600), reason: "abuse report")
        #expect(entry.reason == .manual("abuse report"))
        #expect(entry.expiresAt == clock.now.addingTimeInterval(600))
        #expect(!greylist.shouldAccept(ip: .literal("198.51.100.77")))
        #expect(greylist.shouldAccept(ip: .literal("198.51.101.77")))
        await #expect(throws: GreylistError.self) { try await greylist.ban(.cidr("192.0.2.0/24"), for: .zero, reason: "x") }
        #expect(await greylist.statistics().manualBans == 1)
    }

    @Test("unban lifts every ban inside a CIDR and forgets their history")
    func unbanInsideNetwork() async throws {
        let greylist = try makeGreylist()
        for last in 1...3 {
            await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("192.0.2.\(last)"))
        }
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("198.51.100.1"))
        let lifted = await greylist.unban(.cidr("192.0.2.0/24"))
        #expect(Set(lifted.map(\.network)) == [.cidr("192.0.2.1/32"), .cidr("192.0.2.2/32"), .cidr("192.0.2.3/32")])
        #expect(greylist.shouldAccept(ip: .literal("192.0.2.2")))
        #expect(!greylist.shouldAccept(ip: .literal("198.51.100.1")))
        // History forgotten: the next ban is a first ban again.
        guard case .banned(let again, _) = await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("192.0.2.1")) else {
            Issue.record("expected a ban")
            return
        }
        #expect(again.banCount == 1)
        #expect(recorder.events.filter { if case .unbanned = $0 { return true } else { return false } }.count == 3)
    }

    @Test("list shows key, reason, expiry, ban count and refused count, soonest expiry first")
    func listing() async throws {
        let greylist = try makeGreylist()
        try await greylist.ban(.cidr("2001:db8::/32"), for: .seconds(60), reason: "manual")
        await greylist.recordFailedAuth(user: "bad_user_77777", ip: .literal("192.0.2.9"))
        _ = greylist.shouldAccept(ip: .literal("192.0.2.9"))
        _ = greylist.shouldAccept(ip: .literal("192.0.2.9"))
        let entries = await greylist.list()
        #expect(entries.map(\.network) == [.cidr("2001:db8::/32"), .cidr("192.0.2.9/32")])
        #expect(entries[1].refusedCount == 2)
        #expect(entries[1].banCount == 1)
        #expect(entries[1].reason == .rule("botnet"))
        #expect(entries[1].description.contains("192.0.2.9/32 rule botnet user=bad_user_77777 for 4h"))
    }

    @Test("statistics count accepted, refused, bans, failures")
    func statistics() async throws {
        let greylist = try makeGreylist()
        let bot = IPAddress.literal("192.0.2.9")
        _ = greylist.shouldAccept(ip: bot)
        await greylist.recordFailedAuth(user: "bad_user_77777", ip: bot)
        await greylist.recordFailedAuth(user: "alice", ip: .literal("192.0.2.10"))
        for _ in 0..<3 { _ = greylist.shouldAccept(ip: bot) }
        let statistics = await greylist.statistics()
        #expect(statistics.accepted == 1)
        #expect(statistics.refused == 3)
        #expect(statistics.activeBans == 1)
        #expect(statistics.failuresReported == 2)
        #expect(statistics.failuresCounted == 1)
        #expect(statistics.rulesTripped == 1)
    }

    @Test("purging removes expired bans, reports each, and forgets stale counters")
    func purge() async throws {
        let counting = GreylistRule(name: "guessing", maxFailures: 5, window: .seconds(60), banFor: .seconds(600))
        let greylist = try makeGreylist(GreylistConfiguration(rules: [botnetRule, counting], escalation: .init(forgetAfter: .seconds(60))))
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("192.0.2.1"))
        try await greylist.ban(.cidr("192.0.2.0/24"), for: .seconds(10 * 3_600), reason: "long")
        await greylist.recordFailedAuth(user: "alice", ip: .literal("192.0.2.200"))
        #expect(await greylist.purgeExpired().isEmpty)
        clock.advance(by: .seconds(4 * 3_600))
        let purged = await greylist.purgeExpired()
        #expect(purged.map(\.network) == [.cidr("192.0.2.1/32")])
        #expect(recorder.events.contains { if case .expired(let entry) = $0 { return entry.network == .cidr("192.0.2.1/32") } else { return false } })
        // The history of 192.0.2.1 (ended 0 s ago, forgotten after 60 s) stays; alice's counter is stale.
        #expect(await greylist.statistics().trackedAddresses == 0)
        #expect(await greylist.export().histories.map(\.network) == [.cidr("192.0.2.1/32")])
        #expect(await greylist.purgeExpired().isEmpty, "an expiry is reported once")
        clock.advance(by: .seconds(61))
        await greylist.purgeExpired()
        #expect(await greylist.export().histories.isEmpty)
        let statistics = await greylist.statistics()
        #expect(statistics.activeBans == 1)
        #expect(statistics.expired == 1)
    }

    @Test("run() purges on its interval and stops when cancelled")
    func runStopsOnCancel() async throws {
        let greylist = try makeGreylist()
        let task = Task { await greylist.run() }
        task.cancel()
        await task.value
        #expect(task.isCancelled)
    }

    @Test("a new configuration keeps bans and counters, drops counters of removed rules")
    func reloadKeepsState() async throws {
        let counting = GreylistRule(name: "guessing", maxFailures: 3, window: .seconds(600), banFor: .seconds(600))
        let greylist = try makeGreylist(GreylistConfiguration(rules: [botnetRule, counting]))
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("192.0.2.1"))
        await greylist.recordFailedAuth(user: "alice", ip: .literal("192.0.2.2"))
        await greylist.recordFailedAuth(user: "alice", ip: .literal("192.0.2.2"))
        let renamed = GreylistRule(name: "renamed", maxFailures: 3, window: .seconds(600), banFor: .seconds(600))
        try await greylist.apply(GreylistConfiguration(rules: [counting, renamed]))
        #expect(!greylist.shouldAccept(ip: .literal("192.0.2.1")))
        // "guessing" kept its two failures: the third trips it; "renamed" starts from zero.
        let outcome = await greylist.recordFailedAuth(user: "alice", ip: .literal("192.0.2.2"))
        guard case .banned(let entry, _) = outcome else {
            Issue.record("expected a ban, got \(outcome)")
            return
        }
        #expect(entry.reason == .rule("guessing"))
        #expect(recorder.events.contains(.reconfigured(rules: ["guessing", "renamed"], dryRun: false)))
    }

    @Test("an invalid new configuration changes nothing")
    func invalidReload() async throws {
        let greylist = try makeGreylist()
        await #expect(throws: GreylistError.self) {
            try await greylist.apply(GreylistConfiguration(rules: [GreylistRule(name: "x", pattern: "(")]))
        }
        #expect(await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("192.0.2.1")).isBanned)
    }

    @Test("reload can switch dry run and the allowlist on the accept path")
    func reloadChangesAcceptPath() async throws {
        let greylist = try makeGreylist()
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("192.0.2.1"))
        try await greylist.apply(GreylistConfiguration(dryRun: true, rules: [botnetRule]))
        #expect(greylist.shouldAccept(ip: .literal("192.0.2.1")))
        try await greylist.apply(GreylistConfiguration(allowlist: [.cidr("192.0.2.1/32")], rules: [botnetRule]))
        #expect(greylist.shouldAccept(ip: .literal("192.0.2.1")))
        try await greylist.apply(GreylistConfiguration(rules: [botnetRule]))
        #expect(!greylist.shouldAccept(ip: .literal("192.0.2.1")))
    }
}
