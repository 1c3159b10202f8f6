import Foundation
import GreylistTestSupport
import Testing
@testable import Greylist

/// Trust and knocking survive restarts; format version 1 state directories still load.
@Suite struct JudgmentPersistenceTests {
    let clock = ManualClock(Date())

    func open(_ directory: String, _ configuration: GreylistConfiguration) async throws -> (Greylist, JournalStore) {
        let store = try await JournalStore.open(directory: directory)
        return (try Greylist(configuration: configuration, clock: clock.wallClock, store: store), store)
    }

    @Test("trust survives a restart: the soft ban stays soft; a revoked trust stays revoked")
    func trustSurvivesRestart() async throws {
        let directory = temporaryStateDirectory()
        let configuration = GreylistConfiguration(rules: [botnetRule])
        var (greylist, _) = try await open(directory, configuration)
        let office = IPAddress.literal("198.51.100.10")
        let revoked = IPAddress.literal("198.51.100.11")
        await greylist.recordSuccessfulAuth(user: "alice", ip: office)
        await greylist.recordSuccessfulAuth(user: "mallory", ip: revoked)
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: office)
        for account in ["a", "b", "c"] { await greylist.recordFailedAuth(user: account, ip: revoked) }
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: revoked)
        await greylist.closeStore()

        (greylist, _) = try await open(directory, configuration)
        #expect(greylist.shouldAccept(ip: office), "trust came back: the ban is soft")
        #expect(!greylist.shouldAccept(ip: revoked), "the revocation came back too")
        #expect(await greylist.export().trusted.map(\.network) == [IPNetwork(host: office)])
        await greylist.closeStore()
    }

    @Test("an extension by knocking is stored at the next purge and survives a restart")
    func extensionSurvivesRestart() async throws {
        let directory = temporaryStateDirectory()
        let configuration = GreylistConfiguration(rules: [botnetRule], knocking: .init(extendBans: true, extendBy: .seconds(4 * 3_600)))
        var (greylist, _) = try await open(directory, configuration)
        let bot = IPAddress.literal("203.0.113.7")
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: bot)
        clock.advance(by: .seconds(3 * 3_600))
        #expect(!greylist.shouldAccept(ip: bot))
        let extended = try #require(await greylist.list().first).expiresAt
        await greylist.purgeExpired()
        await greylist.closeStore()

        (greylist, _) = try await open(directory, configuration)
        #expect(try #require(await greylist.list().first).expiresAt == extended)
        clock.advance(by: .seconds(5 * 3_600))
        #expect(!greylist.shouldAccept(ip: bot), "past the original 4 h, the stored extension still refuses")
        await greylist.closeStore()
    }

    @Test("a version 1 state directory (no trust records) loads and is rewritten as a version 4 snapshot at start-up")
    func readsVersionOne() async throws {
        let directory = temporaryStateDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let now = WallClock.milliseconds(clock.now)
        let json = #"{"banCount":1,"bannedAt":\#(now),"expiresAt":\#(now + 3_600_000),"network":"203.0.113.9/32","op":"ban","rule":"botnet"}"#
        let crc = String(CRC32.checksum(Array(json.utf8)), radix: 16)
        let body = String(repeating: "0", count: 8 - crc.count) + crc + " " + json + "\n"
        let header = "greylist-snapshot 1 covers=1 records=1 crc=\(String(CRC32.checksum(Array(body.utf8)), radix: 16))\n"
        try Data((header + body).utf8).write(to: URL(fileURLWithPath: directory + "/snapshot"))
        let (greylist, _) = try await open(directory, GreylistConfiguration(rules: [botnetRule]))
        #expect(!greylist.shouldAccept(ip: .literal("203.0.113.9")))
        #expect(await greylist.export().bans.count == 1)
        await greylist.closeStore()
        let snapshot = try Data(contentsOf: URL(fileURLWithPath: directory + "/snapshot"))
        #expect(snapshot.starts(with: Array("greylist-snapshot 4 ".utf8)), "an older snapshot is rewritten at start-up")
        let reopened = try await open(directory, GreylistConfiguration(rules: [botnetRule])).0
        #expect(!reopened.shouldAccept(ip: .literal("203.0.113.9")), "the binary snapshot holds the ban")
        await reopened.closeStore()
    }
}
