import Foundation
import GreylistTestSupport
import Testing
import Greylist

/// Trust, knocking, spraying, ranges and failure kinds, through the public API with a clock
/// driven by hand.
@Suite struct GreylistJudgmentTests {
    let clock = ManualClock()
    let recorder = EventRecorder()

    /// Only the mechanism under test is on; the others are off unless a test turns them on.
    func configuration(rules: [GreylistRule] = [botnetRule], trust: GreylistConfiguration.Trust = .init(),
                       knocking: GreylistConfiguration.Knocking = .init(extendBans: false),
                       spraying: GreylistConfiguration.Spraying = .init(distinctSources: 0),
                       ranges: GreylistConfiguration.Ranges = .init(bannedKeys: 0),
                       unknownNames: GreylistConfiguration.UnknownNames = .init(distinctSources: 0)) -> GreylistConfiguration {
        GreylistConfiguration(rules: rules, trust: trust, knocking: knocking, spraying: spraying, ranges: ranges, unknownNames: unknownNames)
    }

    func make(_ configuration: GreylistConfiguration) throws -> Greylist {
        try Greylist(configuration: configuration, clock: clock.wallClock, events: recorder.sink)
    }

    // MARK: - Failure kinds

    @Test("a rule counts only the failure kinds it selects; unknown accounts are reported as such")
    func kinds() async throws {
        let unknownOnly = GreylistRule(name: "unknown", maxFailures: 2, window: .seconds(3_600), counts: [.unknownAccount])
        let greylist = try make(configuration(rules: [unknownOnly]))
        let bot = IPAddress.literal("203.0.113.5")
        #expect(await greylist.recordFailedAuth(user: "alice", ip: bot, kind: .invalidCredentials) == .noRuleMatched)
        #expect(await greylist.recordFailedAuth(user: "admin", ip: bot, kind: .unknownAccount) == .counted(rules: ["unknown"]))
        #expect(await greylist.recordFailedAuth(user: "test", ip: bot, kind: .unknownAccount).closesStream)
        #expect(!greylist.shouldAccept(ip: bot))
        #expect(await greylist.recordFailedAuth(user: "x", ip: .literal("203.0.113.6"), kind: .serviceUnavailable) == .notClientFault)
        #expect(AuthenticationFailure.unknownAccount.description == "unknown-account")
    }

    @Test("a rule that counts service-unavailable or nothing is refused, naming the field")
    func kindsValidated() {
        #expect(throws: GreylistError.self) {
            try Greylist(configuration: configuration(rules: [GreylistRule(name: "bad", counts: [.serviceUnavailable])]))
        }
        do {
            _ = try Greylist(configuration: configuration(rules: [GreylistRule(name: "empty", counts: [])]))
            Issue.record("an empty counts set was accepted")
        } catch {
            #expect(error.description.contains("rules[0].counts"))
        }
    }

    // MARK: - Trust

    @Test("a success clears only that account's failures on the key, not a bot's behind the same NAT")
    func successClearsOnlyItsAccount() async throws {
        let guessing = GreylistRule(name: "guessing", maxFailures: 4, window: .seconds(600), banFor: .seconds(600))
        let greylist = try make(configuration(rules: [guessing], trust: .init(memory: .zero)))
        let nat = IPAddress.literal("198.51.100.10")
        await greylist.recordFailedAuth(user: "admin", ip: nat, kind: .unknownAccount)
        await greylist.recordFailedAuth(user: "admin", ip: nat, kind: .unknownAccount)
        await greylist.recordFailedAuth(user: "alice", ip: nat)
        await greylist.recordSuccessfulAuth(user: "alice", ip: nat)
        // The bot's two failures stay and alice's is gone: the bot's third is counted, its fourth bans.
        #expect(await greylist.recordFailedAuth(user: "admin", ip: nat, kind: .unknownAccount) == .counted(rules: ["guessing"]))
        #expect(await greylist.recordFailedAuth(user: "admin", ip: nat, kind: .unknownAccount).isBanned)
    }

    @Test("a rule ban on a key with a recent success is soft: served at accept, closed at its failed login, listed as soft")
    func softBan() async throws {
        let greylist = try make(configuration())
        let nat = IPAddress.literal("198.51.100.10")
        await greylist.recordSuccessfulAuth(user: "alice", ip: nat)
        let outcome = await greylist.recordFailedAuth(user: "bad_user_12345", ip: nat)
        guard case .banned(let entry, _) = outcome else {
            Issue.record("expected a ban, got \(outcome)")
            return
        }
        #expect(entry.isSoft)
        #expect(outcome.closesStream, "the bot's stream is closed")
        #expect(greylist.shouldAccept(ip: nat), "the users behind the NAT are served")
        #expect(await greylist.recordFailedAuth(user: "bad_user_12346", ip: nat).closesStream)
        #expect(await greylist.list().map(\.isSoft) == [true])
        #expect(await greylist.statistics().softAccepted == 1)
        #expect(recorder.events.contains { if case .banned(let entry, _) = $0 { return entry.isSoft } else { return false } })
        #expect(entry.description.contains("soft"))
    }

    @Test("trust ends after its memory; a manual ban is never overridden by trust")
    func trustMemoryAndManualBans() async throws {
        let greylist = try make(configuration(trust: .init(memory: .seconds(3_600))))
        let nat = IPAddress.literal("198.51.100.10")
        await greylist.recordSuccessfulAuth(user: "alice", ip: nat)
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: nat)
        #expect(greylist.shouldAccept(ip: nat))
        clock.advance(by: .seconds(3_600))
        #expect(!greylist.shouldAccept(ip: nat), "trust ended: the ban refuses again")

        let office = IPAddress.literal("198.51.100.20")
        await greylist.recordSuccessfulAuth(user: "bob", ip: office)
        try await greylist.ban(IPNetwork(host: office), for: .seconds(600), reason: "abuse report")
        #expect(!greylist.shouldAccept(ip: office))
    }

    @Test("wrong passwords for three accounts from a trusted key take its trust away")
    func trustRevoked() async throws {
        let greylist = try make(configuration())
        let key = IPAddress.literal("198.51.100.30")
        await greylist.recordSuccessfulAuth(user: "mallory", ip: key)  // one stolen password
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: key)
        #expect(greylist.shouldAccept(ip: key))
        await greylist.recordFailedAuth(user: "alice", ip: key)
        await greylist.recordFailedAuth(user: "bob", ip: key)
        #expect(greylist.shouldAccept(ip: key), "two accounts are not yet enough")
        await greylist.recordFailedAuth(user: "carol", ip: key)
        #expect(!greylist.shouldAccept(ip: key))
        #expect(recorder.events.contains(.trustRevoked(IPNetwork(host: key), accounts: 3)))
        #expect(await greylist.statistics().trustRevoked == 1)
    }

    @Test("with trust off, a success trusts nothing")
    func trustOff() async throws {
        let greylist = try make(configuration(trust: .init(memory: .zero)))
        let key = IPAddress.literal("198.51.100.40")
        await greylist.recordSuccessfulAuth(user: "alice", ip: key)
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: key)
        #expect(!greylist.shouldAccept(ip: key))
        #expect(await greylist.statistics().trustedKeys == 0)
    }

    // MARK: - Knocking

    @Test("a banned key that keeps knocking stays banned; one that falls silent is released; maxBan caps it")
    func knocking() async throws {
        let escalation = GreylistConfiguration.Escalation(factor: 2, maxBan: .seconds(24 * 3_600), forgetAfter: .seconds(86_400))
        var configuration = configuration(knocking: .init(extendBans: true, extendBy: .seconds(4 * 3_600)))
        configuration.escalation = escalation
        let greylist = try make(configuration)
        let knocker = IPAddress.literal("203.0.113.7")
        let silent = IPAddress.literal("203.0.113.8")
        await greylist.recordFailedAuth(user: "bad_user_11111", ip: knocker)
        await greylist.recordFailedAuth(user: "bad_user_22222", ip: silent)
        // Knock every 10 minutes for 6 hours: the silent key is released at 4 h, the knocker is not.
        for _ in 0..<36 {
            clock.advance(by: .seconds(600))
            #expect(!greylist.shouldAccept(ip: knocker))
        }
        #expect(greylist.shouldAccept(ip: silent))
        let extended = try #require(await greylist.list().first { $0.network == IPNetwork(host: knocker) })
        // 6 h of knocking at factor 2: in force 12 h after the last knock.
        #expect(extended.expiresAt == clock.now.addingTimeInterval(12 * 3_600))
        #expect(await greylist.statistics().banExtensions > 0)
        // Knocking on, the ban never outlasts maxBan from its start.
        for _ in 0..<200 {
            clock.advance(by: .seconds(600))
            _ = greylist.shouldAccept(ip: knocker)
        }
        #expect(greylist.shouldAccept(ip: knocker), "24 h after it began, maxBan released it")
    }

    @Test("knocking does not extend manual bans, and a reload can turn it off")
    func knockingScope() async throws {
        let greylist = try make(configuration(knocking: .init(extendBans: true, extendBy: .seconds(4 * 3_600))))
        let manual = IPAddress.literal("203.0.113.9")
        try await greylist.ban(IPNetwork(host: manual), for: .seconds(600), reason: "test")
        clock.advance(by: .seconds(300))
        #expect(!greylist.shouldAccept(ip: manual))
        clock.advance(by: .seconds(300))
        #expect(greylist.shouldAccept(ip: manual))

        try await greylist.apply(configuration(knocking: .init(extendBans: false)))
        let bot = IPAddress.literal("203.0.113.10")
        await greylist.recordFailedAuth(user: "bad_user_11111", ip: bot)
        clock.advance(by: .seconds(4 * 3_600 - 1))
        #expect(!greylist.shouldAccept(ip: bot))
        clock.advance(by: .seconds(1))
        #expect(greylist.shouldAccept(ip: bot), "not extended after the reload turned knocking off")
    }

    // MARK: - Spraying

    @Test("one account failing from five sources is under attack; untrusted sources then ban at their second failure")
    func spraying() async throws {
        let greylist = try make(configuration(rules: [], spraying: .init(distinctSources: 5, failuresToBan: 2)))
        for index in 1...5 {
            await greylist.recordFailedAuth(user: "alice", ip: IPAddress(ipv4: 0xCB00_7100 + UInt32(index)))
        }
        #expect(recorder.events.contains(.accountUnderAttack(user: "alice", sources: 5)))
        let sprayer = IPAddress.literal("203.0.113.50")
        #expect(!(await greylist.recordFailedAuth(user: "alice", ip: sprayer).isBanned))
        let outcome = await greylist.recordFailedAuth(user: "alice", ip: sprayer)
        guard case .banned(let entry, _) = outcome else {
            Issue.record("expected a spraying ban, got \(outcome)")
            return
        }
        #expect(entry.reason == .rule("spraying"))
        #expect(!greylist.shouldAccept(ip: sprayer))

        // The owner on a new address: one typo, then the right password; the typo is forgotten.
        let phone = IPAddress.literal("100.64.1.2")
        await greylist.recordFailedAuth(user: "alice", ip: phone)
        await greylist.recordSuccessfulAuth(user: "alice", ip: phone)
        await greylist.recordFailedAuth(user: "alice", ip: phone)
        #expect(greylist.shouldAccept(ip: phone))
        #expect(await greylist.statistics().sprayBans == 1)
    }

    @Test("failuresToBan 1 bans at the first failure on an account under attack; trusted keys are spared")
    func sprayingAtOnce() async throws {
        let greylist = try make(configuration(rules: [], spraying: .init(distinctSources: 3, failuresToBan: 1)))
        let home = IPAddress.literal("198.18.0.1")
        await greylist.recordSuccessfulAuth(user: "alice", ip: home)
        for index in 1...3 {
            await greylist.recordFailedAuth(user: "alice", ip: IPAddress(ipv4: 0xCB00_7100 + UInt32(index)))
        }
        #expect(await greylist.recordFailedAuth(user: "alice", ip: .literal("203.0.113.60")).isBanned)
        #expect(!(await greylist.recordFailedAuth(user: "alice", ip: home).isBanned), "the owner's trusted home key is spared")
    }

    @Test("spraying counts only the sources within its window: older failures no longer mark the account")
    func sprayingWindow() async throws {
        let greylist = try make(configuration(rules: [], spraying: .init(distinctSources: 3, window: .seconds(3_600), failuresToBan: 1)))
        await greylist.recordFailedAuth(user: "alice", ip: .literal("203.0.113.1"))
        clock.advance(by: .seconds(1_800))
        await greylist.recordFailedAuth(user: "alice", ip: .literal("203.0.113.2"))
        clock.advance(by: .seconds(1_860))
        // The first source failed 61 minutes ago: out of the window, so only two count.
        #expect(!(await greylist.recordFailedAuth(user: "alice", ip: .literal("203.0.113.3")).isBanned))
        #expect(await greylist.statistics().accountsMarked == 0)
        #expect(!recorder.events.contains(.accountUnderAttack(user: "alice", sources: 3)))
        // A third source within the window marks it.
        #expect(await greylist.recordFailedAuth(user: "alice", ip: .literal("203.0.113.4")).isBanned)
        #expect(await greylist.statistics().accountsMarked == 1)
    }

    // MARK: - Ranges

    @Test("enough banned keys in a /24 ban the range; trusted keys inside are still served; an allowlisted range is never banned")
    func ranges() async throws {
        var settings = configuration(ranges: .init(bannedKeys: 3, ipv4PrefixLength: 24))
        settings.allowlist = [.cidr("192.0.2.200/32")]
        let greylist = try make(settings)
        let trusted = IPAddress.literal("198.51.100.77")
        await greylist.recordSuccessfulAuth(user: "alice", ip: trusted)
        for host in 1...3 {
            await greylist.recordFailedAuth(user: "bad_user_11111", ip: .literal("198.51.100.\(host)"))
        }
        #expect(await greylist.list().contains { $0.network == .cidr("198.51.100.0/24") && $0.reason == .rule("range") })
        #expect(!greylist.shouldAccept(ip: .literal("198.51.100.99")), "a new address in the range is refused")
        #expect(greylist.shouldAccept(ip: trusted), "a trusted key inside the range is served")
        #expect(greylist.shouldAccept(ip: .literal("198.51.101.1")))
        #expect(await greylist.statistics().rangeBans == 1)

        for host in 1...3 {
            await greylist.recordFailedAuth(user: "bad_user_11111", ip: .literal("192.0.2.\(host)"))
        }
        #expect(!(await greylist.list().contains { $0.network == .cidr("192.0.2.0/24") }), "the range holds an allowlisted address")
    }

    @Test("keys banned longer ago than ranges.window no longer count toward their range")
    func rangeWindow() async throws {
        let greylist = try make(configuration(ranges: .init(bannedKeys: 3, ipv4PrefixLength: 24, window: .seconds(3_600))))
        for host in 1...2 { await greylist.recordFailedAuth(user: "bad_user_11111", ip: .literal("203.0.113.\(host)")) }
        clock.advance(by: .seconds(2 * 3_600))
        await greylist.recordFailedAuth(user: "bad_user_11111", ip: .literal("203.0.113.3"))
        #expect(greylist.shouldAccept(ip: .literal("203.0.113.99")), "two of the three bans are out of the window: no range ban")
        await greylist.recordFailedAuth(user: "bad_user_11111", ip: .literal("203.0.113.4"))
        await greylist.recordFailedAuth(user: "bad_user_11111", ip: .literal("203.0.113.5"))
        #expect(!greylist.shouldAccept(ip: .literal("203.0.113.99")), "three within the window ban the range")
    }

    @Test("IPv6 keys count toward their /48")
    func ipv6Ranges() async throws {
        let greylist = try make(configuration(ranges: .init(bannedKeys: 2)))
        await greylist.recordFailedAuth(user: "bad_user_11111", ip: .literal("2001:db8:1:1::1"))
        await greylist.recordFailedAuth(user: "bad_user_11111", ip: .literal("2001:db8:1:2::1"))
        #expect(!greylist.shouldAccept(ip: .literal("2001:db8:1:ffff::5")))
        #expect(greylist.shouldAccept(ip: .literal("2001:db8:2::5")))
    }

    @Test("range counting is bounded: after its range is banned, a flood of keys in one /48 leaves no tracker behind")
    func rangeTrackersBounded() async throws {
        let greylist = try make(configuration(ranges: .init(bannedKeys: 8)))
        for index in 0..<7 {
            await greylist.recordFailedAuth(user: "bad_user_11111", ip: IPAddress(bits: UInt128(0x2001_0db8_0001) << 80 | UInt128(index) << 64 | 1))
        }
        #expect(await greylist.rangeKeysTracked() == 7, "counting toward the threshold")
        // Before the fix, every later key was kept in the banned range's tracker (65,536 per /48
        // at most, doubling the memory per ban) and each failure filtered all of them.
        for index in 7..<2_000 {
            await greylist.recordFailedAuth(user: "bad_user_11111", ip: IPAddress(bits: UInt128(0x2001_0db8_0001) << 80 | UInt128(index) << 64 | 1))
        }
        #expect(!greylist.shouldAccept(ip: .literal("2001:db8:1:ffff::5")), "the /48 is banned")
        #expect(await greylist.rangeKeysTracked() == 0, "a banned range keeps no tracker")
        #expect(await greylist.statistics().rangeBans == 1)
    }
}
