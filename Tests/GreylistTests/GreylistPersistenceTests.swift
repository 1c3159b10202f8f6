import Foundation
import GreylistTestSupport
import Testing
@testable import Greylist

@Suite struct GreylistPersistenceTests {
    let clock = ManualClock(Date())
    let recorder = EventRecorder()

    /// Opens (or reopens) `directory`, waiting for the lock: a child process between `fork` and
    /// `exec` (other suites start some) may briefly hold a copy of it.
    func open(_ directory: String, threshold: Int = 1 << 20, configuration: GreylistConfiguration = GreylistConfiguration(rules: [botnetRule])) async throws -> (Greylist, JournalStore) {
        let store = try await JournalStore.open(directory: directory, compactionThreshold: threshold)
        return (try Greylist(configuration: configuration, clock: clock.wallClock, events: recorder.sink, store: store), store)
    }

    @Test("a restart keeps rule bans, manual bans and escalation history with their wall-clock expiry")
    func restartKeepsState() async throws {
        let directory = temporaryStateDirectory()
        var (greylist, store) = try await open(directory)
        guard case .banned(let first, _) = await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("203.0.113.1")) else {
            Issue.record("expected a ban")
            return
        }
        try await greylist.ban(.cidr("198.51.100.0/24"), for: .seconds(600), reason: "abuse desk")
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("203.0.113.2"))
        await store.close()

        clock.advance(by: .seconds(60))
        (greylist, store) = try await open(directory)
        let entries = await greylist.list()
        #expect(Set(entries.map(\.network)) == [.cidr("203.0.113.1/32"), .cidr("203.0.113.2/32"), .cidr("198.51.100.0/24")])
        #expect(entries.first { $0.network == .cidr("203.0.113.1/32") }?.expiresAt == first.expiresAt)
        #expect(entries.first { $0.network == .cidr("198.51.100.0/24") }?.reason == .manual("abuse desk"))
        #expect(!greylist.shouldAccept(ip: .literal("203.0.113.1")))
        #expect(!greylist.shouldAccept(ip: .literal("198.51.100.77")))

        // After the ban ends, the history still escalates the next one.
        clock.advance(by: .seconds(4 * 3_600))
        await store.close()
        (greylist, store) = try await open(directory)
        #expect(greylist.shouldAccept(ip: .literal("203.0.113.1")))
        guard case .banned(let second, _) = await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("203.0.113.1")) else {
            Issue.record("expected a ban")
            return
        }
        #expect(second.banCount == 2)
        #expect(second.duration == .seconds(8 * 3_600))
        await store.close()
    }

    @Test("an unban survives a restart: the address does not come back")
    func unbanSurvives() async throws {
        let directory = temporaryStateDirectory()
        var (greylist, store) = try await open(directory)
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("203.0.113.1"))
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("203.0.113.2"))
        await greylist.unban(.cidr("203.0.113.1/32"))
        await store.close()
        (greylist, store) = try await open(directory)
        #expect(greylist.shouldAccept(ip: .literal("203.0.113.1")))
        #expect(!greylist.shouldAccept(ip: .literal("203.0.113.2")))
        await store.close()
        // And again once a compaction has folded the journals into a snapshot (a zero threshold
        // compacts at the next change).
        (greylist, store) = try await open(directory, threshold: 0)
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("203.0.113.3"))
        await store.close()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).contains("snapshot"))
        (greylist, store) = try await open(directory)
        #expect(await greylist.list().map(\.network) == [.cidr("203.0.113.2/32"), .cidr("203.0.113.3/32")])
        await store.close()
    }

    @Test("expired bans are dropped at start-up")
    func expiredDropped() async throws {
        let directory = temporaryStateDirectory()
        var (greylist, store) = try await open(directory)
        try await greylist.ban(.cidr("192.0.2.1/32"), for: .seconds(10), reason: "short")
        try await greylist.ban(.cidr("192.0.2.2/32"), for: .seconds(100), reason: "long")
        await store.close()
        clock.advance(by: .seconds(10))
        (greylist, store) = try await open(directory)
        #expect(await greylist.list().map(\.network) == [.cidr("192.0.2.2/32")])
        await store.close()
    }

    @Test("compaction under concurrent bans loses nothing")
    func compactionUnderLoad() async throws {
        let directory = temporaryStateDirectory()
        var (greylist, store) = try await open(directory, threshold: 4_096)
        let sources = 5
        let perSource = 120
        let loaded = greylist
        await withTaskGroup(of: Void.self) { group in
            for source in 0..<sources {
                group.addTask {
                    for index in 0..<perSource {
                        _ = try? await loaded.ban(IPNetwork(host: IPAddress(ipv4: 0x0A00_0000 | UInt32(source) << 16 | UInt32(index))),
                                                for: .seconds(3_600), reason: "load")
                    }
                }
            }
        }
        await greylist.closeStore()
        let journals = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("journal-") }
        (greylist, store) = try await open(directory)
        #expect(await greylist.list().count == sources * perSource)
        #expect(journals.count < 5, "compaction should have dropped old journals: \(journals)")
        await store.close()
    }

    @Test("a store failure at runtime is reported, refusing carries on, and a full snapshot is written once the disk works")
    func runtimeFailure() async throws {
        let directory = temporaryStateDirectory()
        let (greylist, _) = try await open(directory)
        try FileManager.default.removeItem(atPath: directory)
        try await greylist.ban(.cidr("192.0.2.1/32"), for: .seconds(600), reason: "during outage")
        #expect(recorder.events.contains { if case .storageFailed = $0 { return true } else { return false } })
        #expect(!greylist.shouldAccept(ip: .literal("192.0.2.1")))

        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try await greylist.ban(.cidr("192.0.2.2/32"), for: .seconds(600), reason: "after outage")
        // Closing waits for the owed snapshot, which runs in the background.
        await greylist.closeStore()
        #expect(FileManager.default.fileExists(atPath: "\(directory)/snapshot"))
        let (restarted, reopened) = try await open(directory)
        #expect(Set(await restarted.list().map(\.network)) == [.cidr("192.0.2.1/32"), .cidr("192.0.2.2/32")])
        await reopened.close()
    }

    @Test("bans from other nodes arrive through the store seam and refuse at once")
    func remoteChanges() async throws {
        let store = RemoteStoreDouble()
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: [botnetRule]), clock: clock.wallClock, events: recorder.sink, store: store)
        let entry = BanEntry(network: .cidr("203.0.113.0/24"), reason: .rule("botnet"), user: "bad_user_1",
                             bannedAt: clock.now, expiresAt: clock.now.addingTimeInterval(600))
        await store.deliver(.banned(entry), to: greylist)
        #expect(!greylist.shouldAccept(ip: .literal("203.0.113.9")))
        await store.deliver(.unbanned(.cidr("203.0.113.0/24")), to: greylist)
        #expect(greylist.shouldAccept(ip: .literal("203.0.113.9")))
        #expect(store.appended.isEmpty, "remote changes must not be stored again")
    }

    @Test("another node's change can never be wider than this node could make: bans and unbans within the range prefix, trust per key, bans capped at maxRemoteBan")
    func remoteScope() async throws {
        let store = RemoteStoreDouble()
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: [botnetRule]), clock: clock.wallClock, events: recorder.sink, store: store)
        let tenYears = clock.now.addingTimeInterval(10 * 365 * 86_400)
        await store.deliver(.banned(BanEntry(network: .cidr("0.0.0.0/0"), reason: .manual("x"), user: nil, bannedAt: clock.now, expiresAt: tenYears)), to: greylist)
        await store.deliver(.banned(BanEntry(network: .cidr("::/0"), reason: .manual("x"), user: nil, bannedAt: clock.now, expiresAt: tenYears)), to: greylist)
        await store.deliver(.trusted(.cidr("0.0.0.0/0"), until: tenYears), to: greylist)
        #expect(greylist.shouldAccept(ip: .literal("192.0.2.1")))
        #expect(greylist.shouldAccept(ip: .literal("2001:db8::1")))
        #expect(await greylist.trusted().isEmpty)

        // Within scope: applied, a manual ban shortened to 30 days; an unban of everything refused.
        await store.deliver(.banned(BanEntry(network: .cidr("198.51.100.0/24"), reason: .manual("x"), user: nil, bannedAt: clock.now, expiresAt: tenYears)), to: greylist)
        #expect(!greylist.shouldAccept(ip: .literal("198.51.100.7")))
        let placed = try #require(await greylist.list().first)
        #expect(abs(placed.expiresAt.timeIntervalSince(clock.now.addingTimeInterval(30 * 86_400))) < 0.001)
        await store.deliver(.unbanned(.cidr("0.0.0.0/0")), to: greylist)
        #expect(!greylist.shouldAccept(ip: .literal("198.51.100.7")), "an unban of 0.0.0.0/0 is refused")
        await store.deliver(.trusted(.cidr("192.0.2.9/32"), until: tenYears), to: greylist)
        #expect(await greylist.trusted().map(\.network) == [.cidr("192.0.2.9/32")])
        #expect(await greylist.statistics().remoteRefused == 4)
        let warnings = recorder.events.filter { if case .storageWarning = $0 { true } else { false } }
        #expect(warnings.count == 1, "reported once")
    }

    @Test("a stored trust that ends later than trust.memory from now loads clamped to it")
    func storedTrustClamped() async throws {
        let directory = temporaryStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var (greylist, store) = try await open(directory)
        await greylist.recordSuccessfulAuth(user: "alice", ip: .literal("192.0.2.7"))
        #expect(abs(try #require(await greylist.trusted().first).until.timeIntervalSince(clock.now.addingTimeInterval(30 * 86_400))) < 0.001)
        await store.close()
        // Restarted with a memory of one day (an operator shortened it, or the clock jumped back):
        // no key stays trusted for the stored 30 days.
        var shorter = GreylistConfiguration(rules: [botnetRule])
        shorter.trust.memory = .seconds(86_400)
        (greylist, store) = try await open(directory, configuration: shorter)
        let loaded = try #require(await greylist.trusted().first)
        #expect(loaded.network == .cidr("192.0.2.7/32"))
        #expect(loaded.until <= clock.now.addingTimeInterval(86_400))
        clock.advance(by: .seconds(86_400 + 60))
        #expect(await greylist.trusted().isEmpty, "the clamped trust ended a day on")
        await store.close()
    }

    @Test("a renewed trust survives a restart past the first trust's end: renewals are stored, not only the first")
    func trustRenewalsStored() async throws {
        let directory = temporaryStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var (greylist, store) = try await open(directory)
        let home = IPAddress.literal("192.0.2.8")
        await greylist.recordSuccessfulAuth(user: "alice", ip: home)
        // Logins every day for 40 days: each renewal past a thirtieth of the memory is stored.
        for _ in 0..<40 {
            clock.advance(by: .seconds(86_400))
            await greylist.recordSuccessfulAuth(user: "alice", ip: home)
        }
        await store.close()
        (greylist, store) = try await open(directory)
        // 40 days after the first login, its 30-day trust alone would have ended 10 days ago.
        #expect(await greylist.trusted().map(\.network) == [.cidr("192.0.2.8/32")])
        #expect(try #require(await greylist.trusted().first).until >= clock.now.addingTimeInterval(29 * 86_400))
        await store.close()
    }

    @Test("export lists bans and remembered histories")
    func export() async throws {
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: [botnetRule]), clock: clock.wallClock)
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("203.0.113.1"))
        #expect(await greylist.export().bans.map(\.network) == [.cidr("203.0.113.1/32")])
        clock.advance(by: .seconds(4 * 3_600))
        let snapshot = await greylist.export()
        #expect(snapshot.bans.isEmpty)
        #expect(snapshot.histories.map(\.banCount) == [1])
    }
}

/// A shared-backend stand-in: it stores nothing and hands the greylist changes "from other nodes".
final class RemoteStoreDouble: GreylistStore {
    private let handler = LockedValue<(@Sendable (GreylistStoreNotice) async -> Void)?>(nil)
    private let log = LockedValue<[GreylistChange]>([])

    var appended: [GreylistChange] { log.withLock { $0 } }

    func load() throws(GreylistError) -> GreylistSnapshot { GreylistSnapshot() }
    func append(_ change: GreylistChange, state: () -> GreylistSnapshot) -> UInt64 {
        log.withLock { $0.append(change); return UInt64($0.count) }
    }
    func waitUntilStored(_ sequence: UInt64) async throws(GreylistError) {}
    func close() async {}
    func subscribe(_ handler: @escaping @Sendable (GreylistStoreNotice) async -> Void) { self.handler.withLock { $0 = handler } }

    /// Delivers a change as a backend would: in order, each applied before the next.
    func deliver(_ change: GreylistChange, to greylist: Greylist) async {
        await handler.withLock { $0 }?(.remoteChange(change))
    }
}
