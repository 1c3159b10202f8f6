import Foundation
import GreylistTestSupport
import Glibc
import Testing
@testable import Greylist

/// The state directory is hostile ground until proven otherwise: ownership, permissions, links,
/// records dated beyond what the configuration allows, torn writes.
@Suite struct StateDirectoryTests {
    let clock = ManualClock(Date())

    @Test("a state directory that others can write is refused at start-up, naming it and its mode")
    func worldWritable() throws {
        let directory = temporaryStateDirectory()
        #expect(mkdir(directory, 0o700) == 0)
        #expect(chmod(directory, 0o777) == 0)
        do {
            _ = try JournalStore(directory: directory)
            Issue.record("used a world-writable directory")
        } catch {
            #expect(error.description.contains(directory))
            #expect(error.description.contains("writable by group or others (mode 777)"))
        }
    }

    @Test("a state directory owned by another user is refused (checked when the tests run as root)")
    func otherOwner() throws {
        guard geteuid() == 0 else { return }
        let directory = temporaryStateDirectory()
        #expect(mkdir(directory, 0o700) == 0)
        #expect(chown(directory, 65_534, 65_534) == 0)
        do {
            _ = try JournalStore(directory: directory)
            Issue.record("used a directory owned by uid 65534")
        } catch {
            #expect(error.description.contains("owned by uid 65534"))
        }
    }

    @Test("a link planted where the store writes is never followed: the file it points to is untouched")
    func plantedLink() throws {
        let directory = temporaryStateDirectory()
        #expect(mkdir(directory, 0o700) == 0)
        let victim = temporaryStateDirectory() + ".victim"
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: victim))
        #expect(symlink(victim, directory + "/lock") == 0)
        #expect(throws: GreylistError.self) { try JournalStore(directory: directory) }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
    }

    @Test("stored records are clamped: a rule ban to the year 292 million lasts maxBan, a future history is not a ban")
    func clampsRecords() async throws {
        let directory = temporaryStateDirectory()
        #expect(mkdir(directory, 0o700) == 0)
        let now = WallClock.milliseconds(clock.now)
        func line(_ json: String) -> String {
            let crc = String(CRC32.checksum(Array(json.utf8)), radix: 16)
            return String(repeating: "0", count: 8 - crc.count) + crc + " " + json + "\n"
        }
        let body = line(#"{"banCount":1,"bannedAt":\#(now),"expiresAt":9223372036854775000,"network":"203.0.113.1/32","op":"ban","rule":"botnet"}"#)
            + line(#"{"banCount":3,"lastBanEnd":\#(now + 86_400_000_000),"network":"203.0.113.2/32","op":"history"}"#)
            + line(#"{"banCount":1,"bannedAt":\#(now),"expiresAt":\#(now + 30 * 86_400_000),"manual":"court order","network":"203.0.113.3/32","op":"ban"}"#)
        let header = "greylist-snapshot 2 covers=1 records=3 crc=\(String(CRC32.checksum(Array(body.utf8)), radix: 16))\n"
        try Data((header + body).utf8).write(to: URL(fileURLWithPath: directory + "/snapshot"))
        let recorder = EventRecorder()
        let store = try await JournalStore.open(directory: directory)
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: [botnetRule]), clock: clock.wallClock,
                                    events: recorder.sink, store: store)
        let bans = await greylist.list()
        let rule = try #require(bans.first { $0.network == .cidr("203.0.113.1/32") })
        #expect(rule.expiresAt <= clock.now.addingTimeInterval(7 * 86_400))
        #expect(greylist.shouldAccept(ip: .literal("203.0.113.2")), "a history dated in the future is not a ban")
        let manual = try #require(bans.first { $0.network == .cidr("203.0.113.3/32") })
        #expect(manual.duration == .seconds(30 * 86_400), "an operator's ban keeps its length")
        #expect(recorder.events.contains { if case .storageWarning(let text) = $0 { return text.contains("clamped 2") } else { return false } })
        await greylist.closeStore()
    }

    @Test("a write that failed half-way (a full disk) is cut back: the next record is not spoiled")
    func tornWriteCutBack() async throws {
        let directory = temporaryStateDirectory()
        let failNext = LockedValue(false)
        let failSnapshots = LockedValue(false)
        // The injected failure leaves half a line behind, as a full disk does, then reports ENOSPC;
        // snapshots keep failing, so no compaction rewrites the journal before the "crash".
        let operations = StorageOperations { step, path in
            if step == .writeFile, path.contains("snapshot"), failSnapshots.withLock({ $0 }) { return ENOSPC }
            guard step == .writeFile, path.contains("journal-"), failNext.withLock({ let fail = $0; $0 = false; return fail }) else { return 0 }
            let descriptor = open(path, O_WRONLY | O_APPEND)
            _ = "3f2a1b0c {\"op\":\"ba".withCString { write(descriptor, $0, strlen($0)) }
            close(descriptor)
            return ENOSPC
        }
        let store = try JournalStore(directory: directory, operations: operations)
        let greylist = try Greylist(configuration: GreylistConfiguration(), clock: clock.wallClock, store: store)
        try await greylist.ban(.cidr("192.0.2.1/32"), for: .seconds(3_600), reason: "before")
        failSnapshots.withLock { $0 = true }
        failNext.withLock { $0 = true }
        try await greylist.ban(.cidr("192.0.2.2/32"), for: .seconds(3_600), reason: "lost to the full disk")
        try await greylist.ban(.cidr("192.0.2.3/32"), for: .seconds(3_600), reason: "after")
        await greylist.closeStore()
        let reopened = try await JournalStore.open(directory: directory)
        let snapshot = try reopened.load()
        #expect(Set(snapshot.bans.map(\.network)).isSuperset(of: [.cidr("192.0.2.1/32"), .cidr("192.0.2.3/32")]))
        #expect(snapshot.warnings.isEmpty, "\(snapshot.warnings)")
        await reopened.close()
    }
}
