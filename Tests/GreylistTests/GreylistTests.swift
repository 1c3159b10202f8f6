import Foundation
import GreylistTestSupport
import Testing
@testable import Greylist

@Suite struct GreylistTests {
    let clock = ManualClock()
    let recorder = EventRecorder()

    func makeGreylist(_ configuration: GreylistConfiguration = GreylistConfiguration(rules: [botnetRule])) throws -> Greylist {
        try Greylist(configuration: configuration, clock: clock.wallClock, events: recorder.sink)
    }

    @Test("a failure whose username matches bans the source; others are still accepted")
    func matchingFailureBans() async throws {
        let greylist = try makeGreylist()
        let bot = IPAddress.literal("203.0.113.7")
        #expect(greylist.shouldAccept(ip: bot))
        let outcome = await greylist.recordFailedAuth(user: "bad_user_348211", ip: bot)
        guard case .banned(let entry, _) = outcome else {
            Issue.record("expected a ban, got \(outcome)")
            return
        }
        #expect(entry.network == .cidr("203.0.113.7/32"))
        #expect(entry.reason == .rule("botnet"))
        #expect(entry.user == "bad_user_348211")
        #expect(entry.duration == .seconds(4 * 3_600))
        #expect(outcome.isBanned)
        #expect(!greylist.shouldAccept(ip: bot))
        #expect(greylist.shouldAccept(ip: .literal("203.0.113.8")))
        #expect(recorder.events.contains(.refused(address: bot, network: .cidr("203.0.113.7/32"), dryRun: false)))
    }

    @Test("a failure whose username does not match any pattern is not counted")
    func nonMatchingFailure() async throws {
        let greylist = try makeGreylist()
        let human = IPAddress.literal("198.51.100.20")
        for user in ["alice", "bad_user_1234", "xbad_user_12345", "bad_user_12345x"] {
            #expect(await greylist.recordFailedAuth(user: user, ip: human) == .noRuleMatched)
        }
        #expect(greylist.shouldAccept(ip: human))
    }

    @Test("a ban stops refusing at the exact millisecond it expires")
    func exactExpiry() async throws {
        let greylist = try makeGreylist(GreylistConfiguration(rules: [botnetRule], knocking: .init(extendBans: false)))
        let bot = IPAddress.literal("203.0.113.7")
        await greylist.recordFailedAuth(user: "bad_user_99999", ip: bot)
        clock.advance(by: .seconds(4 * 3_600) - .milliseconds(1))
        #expect(!greylist.shouldAccept(ip: bot))
        clock.advance(by: .milliseconds(1))
        #expect(greylist.shouldAccept(ip: bot))
        #expect(await greylist.list().isEmpty)
    }

    @Test("maxFailures within the window trips the rule; failures outside the window do not")
    func thresholdAndWindow() async throws {
        let rule = GreylistRule(name: "guessing", maxFailures: 3, window: .seconds(60), banFor: .seconds(600))
        let greylist = try makeGreylist(GreylistConfiguration(rules: [rule], escalation: .init(factor: 1)))
        let source = IPAddress.literal("192.0.2.50")
        #expect(await greylist.recordFailedAuth(user: "alice", ip: source) == .counted(rules: ["guessing"]))
        clock.advance(by: .seconds(30))
        #expect(await greylist.recordFailedAuth(user: "bob", ip: source) == .counted(rules: ["guessing"]))
        clock.advance(by: .seconds(31))
        // The first failure is now 61 s old: only two count.
        #expect(await greylist.recordFailedAuth(user: "carol", ip: source) == .counted(rules: ["guessing"]))
        #expect(greylist.shouldAccept(ip: source))
        clock.advance(by: .seconds(1))
        #expect(await greylist.recordFailedAuth(user: "dave", ip: source).isBanned)
        #expect(!greylist.shouldAccept(ip: source))
    }

    @Test("a failure feeds every matching rule and the first rule in order that trips bans")
    func firstTrippingRuleBans() async throws {
        let broad = GreylistRule(name: "broad", maxFailures: 2, window: .seconds(600), banFor: .seconds(60))
        let bots = GreylistRule(name: "bots", pattern: "^bot", maxFailures: 2, window: .seconds(600), banFor: .seconds(3_600))
        let greylist = try makeGreylist(GreylistConfiguration(rules: [broad, bots]))
        let source = IPAddress.literal("192.0.2.60")
        #expect(await greylist.recordFailedAuth(user: "bot1", ip: source) == .counted(rules: ["broad", "bots"]))
        let outcome = await greylist.recordFailedAuth(user: "bot2", ip: source)
        guard case .banned(let entry, _) = outcome else {
            Issue.record("expected a ban, got \(outcome)")
            return
        }
        #expect(entry.reason == .rule("broad"))
        #expect(entry.duration == .seconds(60))
    }

    @Test("a backend failure is reported but never counted")
    func serviceUnavailableIsNotCounted() async throws {
        let greylist = try makeGreylist()
        let source = IPAddress.literal("192.0.2.70")
        for _ in 0..<5 {
            #expect(await greylist.recordFailedAuth(user: "bad_user_55555", ip: source, kind: .serviceUnavailable) == .notClientFault)
        }
        #expect(greylist.shouldAccept(ip: source))
        let statistics = await greylist.statistics()
        #expect(statistics.failuresReported == 5)
        #expect(statistics.failuresCounted == 0)
    }

    @Test("a successful login clears failure counters but not bans (trust off)")
    func successClearsCounters() async throws {
        let rule = GreylistRule(name: "guessing", maxFailures: 2, window: .seconds(600), banFor: .seconds(600))
        let greylist = try makeGreylist(GreylistConfiguration(rules: [rule], trust: .init(memory: .zero)))
        let source = IPAddress.literal("192.0.2.80")
        await greylist.recordFailedAuth(user: "alice", ip: source)
        await greylist.recordSuccessfulAuth(user: "alice", ip: source)
        #expect(await greylist.recordFailedAuth(user: "alice", ip: source) == .counted(rules: ["guessing"]))
        #expect(await greylist.recordFailedAuth(user: "alice", ip: source).isBanned)
        await greylist.recordSuccessfulAuth(user: "alice", ip: source)
        #expect(!greylist.shouldAccept(ip: source))
    }

    @Test("an allowlisted address is never counted or banned, even inside a manual network ban")
    func allowlist() async throws {
        let greylist = try makeGreylist(GreylistConfiguration(allowlist: [.cidr("10.0.0.0/8")], rules: [botnetRule]))
        let trusted = IPAddress.literal("10.1.2.3")
        #expect(await greylist.recordFailedAuth(user: "bad_user_12345", ip: trusted) == .allowlisted)
        #expect(greylist.shouldAccept(ip: trusted))
        try await greylist.ban(.cidr("10.0.0.0/7"), for: .seconds(60), reason: "test")
        #expect(greylist.shouldAccept(ip: trusted))
        #expect(!greylist.shouldAccept(ip: .literal("11.0.0.1")))
    }

    @Test("IPv6 sources are banned by their /64; IPv4-mapped sources share the IPv4 ban")
    func prefixAggregation() async throws {
        let greylist = try makeGreylist()
        await greylist.recordFailedAuth(user: "bad_user_10001", ip: .literal("2001:db8:1:2:aaaa::1"))
        #expect(!greylist.shouldAccept(ip: .literal("2001:db8:1:2:ffff:ffff:ffff:ffff")))
        #expect(greylist.shouldAccept(ip: .literal("2001:db8:1:3::1")))
        #expect(await greylist.list().map(\.network) == [.cidr("2001:db8:1:2::/64")])

        await greylist.recordFailedAuth(user: "bad_user_10002", ip: .literal("::ffff:198.51.100.9"))
        #expect(!greylist.shouldAccept(ip: .literal("198.51.100.9")))
        #expect(greylist.shouldAccept(ip: .literal("198.51.100.10")))
    }

    @Test("a configurable IPv4 prefix bans the whole block")
    func ipv4Prefix() async throws {
        let greylist = try makeGreylist(GreylistConfiguration(prefixLength: .init(ipv4: 24), rules: [botnetRule]))
        await greylist.recordFailedAuth(user: "bad_user_10001", ip: .literal("198.51.100.9"))
        #expect(!greylist.shouldAccept(ip: .literal("198.51.100.200")))
        #expect(greylist.shouldAccept(ip: .literal("198.51.101.1")))
    }

    @Test("repeat offenders get banFor × factor^n up to maxBan; history decays after forgetAfter")
    func escalationAndDecay() async throws {
        let rule = GreylistRule(name: "botnet", pattern: "^bad", banFor: .seconds(3_600))
        let escalation = GreylistConfiguration.Escalation(factor: 2, maxBan: .seconds(5 * 3_600), forgetAfter: .seconds(86_400))
        let greylist = try makeGreylist(GreylistConfiguration(rules: [rule], escalation: escalation))
        let bot = IPAddress.literal("203.0.113.99")
        var lengths: [Duration] = []
        var counts: [Int] = []
        for _ in 0..<4 {
            guard case .banned(let entry, _) = await greylist.recordFailedAuth(user: "bad", ip: bot) else {
                Issue.record("expected a ban")
                return
            }
            lengths.append(entry.duration)
            counts.append(entry.banCount)
            clock.advance(by: entry.duration + .seconds(60))
        }
        #expect(lengths == [.seconds(3_600), .seconds(7_200), .seconds(14_400), .seconds(18_000)])
        #expect(counts == [1, 2, 3, 4])
        // A day and a minute after the last ban ended, nothing is remembered.
        clock.advance(by: .seconds(86_400))
        guard case .banned(let fresh, _) = await greylist.recordFailedAuth(user: "bad", ip: bot) else {
            Issue.record("expected a ban")
            return
        }
        #expect(fresh.duration == .seconds(3_600))
        #expect(fresh.banCount == 1)
    }

    @Test("a failure from an address already banned is not counted again")
    func alreadyBanned() async throws {
        let greylist = try makeGreylist()
        let bot = IPAddress.literal("203.0.113.1")
        await greylist.recordFailedAuth(user: "bad_user_11111", ip: bot)
        guard case .alreadyBanned(let entry, _) = await greylist.recordFailedAuth(user: "bad_user_22222", ip: bot) else {
            Issue.record("expected alreadyBanned")
            return
        }
        #expect(entry.user == "bad_user_11111")
        #expect(await greylist.statistics().rulesTripped == 1)
    }

    @Test("dry run accepts everything and reports what it would have refused")
    func dryRun() async throws {
        let greylist = try makeGreylist(GreylistConfiguration(dryRun: true, rules: [botnetRule]))
        let bot = IPAddress.literal("203.0.113.7")
        #expect(await greylist.recordFailedAuth(user: "bad_user_348211", ip: bot).isBanned)
        #expect(greylist.isDryRun)
        #expect(greylist.shouldAccept(ip: bot))
        let events = recorder.events
        #expect(events.contains { if case .banned(_, dryRun: true) = $0 { return true } else { return false } })
        #expect(events.contains(.refused(address: bot, network: .cidr("203.0.113.7/32"), dryRun: true)))
        let statistics = await greylist.statistics()
        #expect(statistics.refused == 0)
        #expect(statistics.wouldHaveRefused == 1)
        #expect(statistics.accepted == 1)
        #expect(await greylist.list().first?.refusedCount == 1)
    }
}

@Suite struct PatternSearchTests {
    @Test("a pattern is searched anywhere in the username: unanchored, end-anchored and fully anchored", arguments: [
        ("bot", "mybotname", true),
        ("bot", "robot", true),
        ("bot", "bo-t", false),
        ("_[0-9]+$", "user_123", true),
        ("_[0-9]+$", "user_123x", false),
        ("_[0-9]+$", "_1", true),
        ("^admin$", "admin", true),
        ("^admin$", "xadmin", false),
        ("^admin$", "admin2", false),
        ("^bad_user_[0-9]{5,}$", "bad_user_12345", true),
        ("^bad_user_[0-9]{5,}$", "my_bad_user_12345", false),
    ])
    func patternSearch(pattern: String, user: String, matches: Bool) async throws {
        let rule = GreylistRule(name: "r", pattern: pattern)
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: [rule], spraying: .init(distinctSources: 0)))
        let outcome = await greylist.recordFailedAuth(user: user, ip: .literal("203.0.113.1"))
        #expect(outcome.isBanned == matches, "\(pattern) on \(user): \(outcome)")
    }
}
