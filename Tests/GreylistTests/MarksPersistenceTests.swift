import Foundation
import GreylistTestSupport
import Testing
@testable import Greylist

/// The judgment's marks (an office's accounts, spent guess budgets, bots' names, the operator's
/// soft-trust additions) survive restarts, from the journal and from a snapshot.
@Suite struct MarksPersistenceTests {
    let clock = ManualClock()
    let office = IPAddress.literal("203.0.113.10")
    let configuration = GreylistConfiguration(rules: GreylistConfiguration.recommendedRules(), spraying: .init(distinctSources: 0),
                                              ranges: .init(bannedKeys: 0))

    func open(_ directory: String, threshold: Int, events: (@Sendable (GreylistEvent) -> Void)? = nil) async throws -> Greylist {
        let store = try await JournalStore.open(directory: directory, compactionThreshold: threshold)
        return try Greylist(configuration: configuration, clock: clock.wallClock, events: events, store: store)
    }

    /// Builds every kind of mark: twenty office accounts, user0's budget spent there, the bot
    /// name `admin`, and an added soft-trust network.
    func markEverything(_ greylist: Greylist) async throws {
        for index in 0..<20 { await greylist.recordSuccessfulAuth(user: "office\(index)", ip: office) }
        for _ in 0..<10 { await greylist.recordFailedAuth(user: "user0", ip: office, kind: .invalidCredentials) }
        #expect(!greylist.shouldVerify(user: "user0", ip: office))
        for index in 1...3 { await greylist.recordFailedAuth(user: "admin", ip: .literal("45.0.0.\(index)"), kind: .unknownAccount) }
        #expect(try await greylist.addSoftTrust(.cidr("100.64.0.0/10")))
    }

    /// What each mark does after the restart.
    func expectMarks(_ greylist: Greylist) async {
        // The office is still a shared address: a failure on an account that never logged in
        // there ends its stream without taking the address away.
        #expect(await greylist.recordFailedAuth(user: "user1", ip: office, kind: .invalidCredentials) == .sharedAddress(.cidr("203.0.113.10/32"), dryRun: false))
        for account in ["user2", "user3", "user4"] { await greylist.recordFailedAuth(user: account, ip: office, kind: .invalidCredentials) }
        #expect(await greylist.trusted().map(\.network) == [.cidr("203.0.113.10/32")], "still shared: wrong passwords did not revoke it")
        #expect(!greylist.shouldVerify(user: "user0", ip: office), "the spent budget stays spent")
        #expect(greylist.shouldVerify(user: "office1", ip: office))
        // The name is still a bot's: a new untrusted source's first try on it bans.
        let outcome = await greylist.recordFailedAuth(user: "admin", ip: .literal("45.0.0.9"), kind: .unknownAccount)
        guard case .banned(let entry, _) = outcome else {
            Issue.record("a new source's try on the marked name was not banned: \(outcome)")
            return
        }
        #expect(entry.reason == .rule("unknown-name"))
        #expect(await greylist.softTrustNetworks == [.cidr("100.64.0.0/10")])
        #expect(await greylist.addedSoftTrustNetworks == [.cidr("100.64.0.0/10")])
    }

    @Test("every mark survives a restart", arguments: [("journal replay", 1 << 20), ("snapshot", 0)])
    func survivesRestart(_ form: String, threshold: Int) async throws {
        let directory = temporaryStateDirectory()
        var greylist = try await open(directory, threshold: threshold)
        try await markEverything(greylist)
        clock.advance(by: .seconds(3_600))
        let exported = await greylist.export()
        await greylist.closeStore()
        if threshold == 0 {
            let snapshot = try Data(contentsOf: URL(fileURLWithPath: directory + "/snapshot"))
            #expect(snapshot.starts(with: Array("greylist-snapshot 4 ".utf8)))
        }
        greylist = try await open(directory, threshold: 1 << 20)
        let reloaded = await greylist.export()
        #expect(reloaded.trustedAccounts == exported.trustedAccounts, "\(form)")
        #expect(reloaded.blockedLogins == exported.blockedLogins, "\(form)")
        #expect(reloaded.markedNames == exported.markedNames, "\(form)")
        #expect(reloaded.softTrust == exported.softTrust, "\(form)")
        #expect(exported.trustedAccounts.count == 20)
        #expect(exported.blockedLogins.map(\.account) == ["user0"])
        #expect(exported.markedNames.map(\.name) == ["admin"])
        await expectMarks(greylist)
        await greylist.closeStore()
    }

    @Test("a soft-trust network taken out stays out after a restart; the configuration's own entries are not the operator's to remove")
    func removalSurvivesRestart() async throws {
        let directory = temporaryStateDirectory()
        var greylist = try await open(directory, threshold: 1 << 20)
        #expect(try await greylist.addSoftTrust(.cidr("198.51.100.0/24")))
        #expect(!(try await greylist.addSoftTrust(.cidr("198.51.100.0/24"))), "adding twice changes nothing")
        #expect(try await greylist.addSoftTrust(.cidr("192.0.2.0/24")))
        #expect(await greylist.removeSoftTrust(.cidr("198.51.100.0/24")))
        #expect(!(await greylist.removeSoftTrust(.cidr("198.51.100.0/24"))))
        await greylist.closeStore()
        greylist = try await open(directory, threshold: 1 << 20)
        #expect(await greylist.softTrustNetworks == [.cidr("192.0.2.0/24")])
        // A ban inside the remaining network is soft: the accept path serves it.
        try await greylist.ban(.cidr("192.0.2.7/32"), for: .seconds(60), reason: "test")
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("192.0.2.8"))
        #expect(greylist.shouldAccept(ip: .literal("192.0.2.8")), "a rule ban inside soft trust is soft")
        await greylist.closeStore()
    }

    @Test("an account that logs in again keeps its trust on the key across a restart after the first trust would have ended")
    func accountTrustRenewalsStored() async throws {
        let directory = temporaryStateDirectory()
        var greylist = try await open(directory, threshold: 1 << 20)
        for index in 0..<3 { await greylist.recordSuccessfulAuth(user: "office\(index)", ip: office) }
        clock.advance(by: .seconds(20 * 86_400))
        for index in 0..<3 { await greylist.recordSuccessfulAuth(user: "office\(index)", ip: office) }
        await greylist.closeStore()
        clock.advance(by: .seconds(15 * 86_400))  // 35 days after the first logins, 15 after the renewals
        greylist = try await open(directory, threshold: 1 << 20)
        #expect(await greylist.export().trustedAccounts.map(\.account) == ["office0", "office1", "office2"],
                "the renewed trust was stored, not only the first")
        await greylist.closeStore()
    }

    @Test("stored marks dated far in the future load clamped to their settings from now")
    func clamped() async throws {
        let directory = temporaryStateDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let now = WallClock.milliseconds(clock.now)
        let far = now + 1_000 * 86_400_000
        let records = [
            JournalRecord(.accountTrusted(AccountMark(network: .cidr("203.0.113.10/32"), account: "alice", until: WallClock.date(far)))),
            JournalRecord(.loginsBlocked(AccountMark(network: .cidr("203.0.113.10/32"), account: "bob", until: WallClock.date(far)))),
            JournalRecord(.nameMarked(NameMark(name: "admin", until: WallClock.date(far)))),
        ]
        try Data(records.flatMap(\.line)).write(to: URL(fileURLWithPath: directory + "/journal-1.log"))
        let recorder = EventRecorder()
        let greylist = try await open(directory, threshold: 1 << 20, events: recorder.sink)
        let warnings = recorder.events.compactMap { event -> String? in
            if case .storageWarning(let text) = event { return text } else { return nil }
        }
        let exported = await greylist.export()
        #expect(exported.trustedAccounts.map(\.until) == [clock.now.addingTimeInterval(30 * 86_400)])
        #expect(exported.blockedLogins.map(\.until) == [clock.now.addingTimeInterval(86_400)])
        #expect(exported.markedNames.map(\.until) == [clock.now.addingTimeInterval(7 * 86_400)], "unknownNames.markFor")
        #expect(warnings.contains { $0.contains("clamped 3 stored record(s)") }, "\(warnings)")
        await greylist.closeStore()
    }

    @Test("marks in a binary snapshot: encoded and decoded whole; a version 3 snapshot (no marks) still loads")
    func binaryMarks() throws {
        var marks = StoredMarks()
        marks.trustedAccounts[SharedAddresses.Pair(key: .cidr("203.0.113.10/32"), account: "älice\n")] = 1_000
        marks.blockedLogins[SharedAddresses.Pair(key: .cidr("2001:db8::/64"), account: "bob")] = 2_000
        marks.names["admin"] = 3_000
        marks.softTrust = [.cidr("100.64.0.0/10"), .cidr("2001:db8:1::/48")]
        let encoded = BinarySnapshot.encode(StateImage(tables: [], reasons: [], users: [], marks: marks), covering: 7)
        var state = RecoveredState()
        let result = try BinarySnapshot.decode(encoded, into: &state).get()
        #expect(result.covers == 7 && result.skipped == 0)
        #expect(state.marks == marks)

        // Version 3: the same layout without the marks section.
        let withoutMarks = BinarySnapshot.encode(StateImage(tables: [], reasons: [], users: []), covering: 7)
        let newline = try #require(withoutMarks.firstIndex(of: 0x0A))
        let body = Array(withoutMarks[(newline + 1)...].dropLast(4))  // the empty marks section's count
        let header = "greylist-snapshot 3 covers=7 bytes=\(body.count) crc=\(String(CRC32.checksum(body), radix: 16))\n"
        var old = RecoveredState()
        #expect(try BinarySnapshot.decode(Array(header.utf8) + body, into: &old).get().covers == 7)
        #expect(old.marks.isEmpty)
        // A marks section cut short is a malformed body, not a crash.
        let cut = Array(encoded.dropLast(3))
        var damaged = RecoveredState()
        if case .success = BinarySnapshot.decode(cut, into: &damaged) { Issue.record("a truncated marks section was accepted") }
    }

    @Test("events: a spent budget is reported once, a bot's name once, soft-trust changes each time")
    func events() async throws {
        let seen = EventRecorder()
        let greylist = try Greylist(configuration: configuration, clock: clock.wallClock, events: seen.sink)
        for index in 0..<3 { await greylist.recordSuccessfulAuth(user: "office\(index)", ip: office) }
        for _ in 0..<12 { await greylist.recordFailedAuth(user: "user0", ip: office, kind: .invalidCredentials) }
        for index in 1...4 { await greylist.recordFailedAuth(user: "admin", ip: .literal("45.0.0.\(index)"), kind: .unknownAccount) }
        try await greylist.addSoftTrust(.cidr("100.64.0.0/10"))
        await greylist.removeSoftTrust(.cidr("100.64.0.0/10"))
        let interesting = seen.events.filter { event in
            switch event {
            case .loginsBlocked, .nameMarked, .softTrustChanged: return true
            default: return false
            }
        }
        #expect(interesting == [
            .loginsBlocked(.cidr("203.0.113.10/32"), user: "user0", until: clock.now.addingTimeInterval(86_400)),
            .nameMarked(user: "admin", sources: 3),
            .softTrustChanged(.cidr("100.64.0.0/10"), added: true),
            .softTrustChanged(.cidr("100.64.0.0/10"), added: false),
        ])
        #expect(interesting.map(\.description).allSatisfy { !$0.contains("\n") })
    }
}
