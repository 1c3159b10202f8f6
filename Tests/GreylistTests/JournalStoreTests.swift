import Foundation
import GreylistTestSupport
import Glibc
import Testing
@_spi(Fuzzing) @testable import Greylist


@Suite struct JournalStoreTests {
    let clock = ManualClock(Date())

    func manualBan(_ text: String, minutes: Double = 60) -> BanEntry {
        BanEntry(network: .cidr(text), reason: .manual("test"), bannedAt: clock.now, expiresAt: clock.now.addingTimeInterval(minutes * 60))
    }

    @Test("stored changes come back after reopening; unbans and removals too")
    func reopen() async throws {
        let directory = temporaryStateDirectory()
        let store = try JournalStore(directory: directory)
        #expect(try store.load().bans.isEmpty)
        for index in 0..<10 { _ = store.append(.banned(manualBan("10.0.0.\(index)/32"))) }
        _ = store.append(.unbanned(.cidr("10.0.0.0/30")))
        try await store.waitUntilStored(store.append(.removed(.cidr("10.0.0.9/32"))))
        await store.close()

        let reopened = try await JournalStore.open(directory: directory)
        let snapshot = try reopened.load()
        #expect(snapshot.bans.map(\.network.description) == (4...8).map { "10.0.0.\($0)/32" })
        #expect(snapshot.warnings.isEmpty)
        await reopened.close()
    }

    @Test("journals replayed past the compaction threshold are compacted at start-up, so the next start replays a snapshot")
    func compactsAtStart() async throws {
        let directory = temporaryStateDirectory()
        // Written with a threshold nothing reaches: a journal of 2,000 bans and no snapshot.
        let store = try JournalStore(directory: directory, compactionThreshold: 1 << 30)
        var last: UInt64 = 0
        for index in 0..<2_000 { last = store.append(.banned(manualBan("10.\(index / 256).\(index % 256).1/32"))) }
        try await store.waitUntilStored(last)
        await store.close()
        #expect(!FileManager.default.fileExists(atPath: directory + "/snapshot"))

        let reopened = try await JournalStore.open(directory: directory, compactionThreshold: 64 << 10)
        let greylist = try Greylist(clock: clock.wallClock, store: reopened)
        await greylist.closeStore()
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names.contains("snapshot"), "\(names)")
        let journals = names.filter { $0.hasPrefix("journal-") }
        let journalBytes = try journals.reduce(0) { $0 + (try FileManager.default.attributesOfItem(atPath: directory + "/" + $1)[.size] as? Int ?? 0) }
        #expect(journalBytes < 64 << 10, "the replayed journals were folded into the snapshot: \(journals)")
        let third = try await JournalStore.open(directory: directory)
        #expect(try third.load().bans.count == 2_000)
        await third.close()
    }

    @Test("a second process cannot open the same state directory")
    func lock() async throws {
        let directory = temporaryStateDirectory()
        let store = try JournalStore(directory: directory)
        #expect(throws: GreylistError.stateDirectoryInUse(directory)) {
            try JournalStore(directory: directory)
        }
        await #expect(throws: GreylistError.stateDirectoryInUse(directory)) {
            try await JournalStore.open(directory: directory, lockTimeout: .milliseconds(100))
        }
        await store.close()
        _ = try await JournalStore.open(directory: directory)
    }

    @Test("a directory that cannot be created or written is a clear error at start-up")
    func unusableDirectory() {
        do {
            _ = try JournalStore(directory: "/dev/null/state")
            Issue.record("opened a store under /dev/null")
        } catch {
            #expect(error.description.contains("/dev/null/state"))
            #expect(error.description.contains("mkdir"))
        }
    }

    @Test("the last record truncated at every byte offset loads cleanly, losing only that record")
    func truncatedTail() async throws {
        let directory = temporaryStateDirectory()
        let store = try JournalStore(directory: directory)
        _ = try store.load()
        _ = store.append(.banned(manualBan("192.0.2.1/32")))
        let sequence = store.append(.banned(manualBan("192.0.2.2/32")))
        try await store.waitUntilStored(sequence)
        await store.close()
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).first { $0.hasPrefix("journal-") })
        let journal = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)"))
        let lastStart = journal.dropLast().lastIndex(of: 0x0A)! + 1
        for cut in lastStart..<journal.count {
            let copy = temporaryStateDirectory()
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            try journal.prefix(cut).write(to: URL(fileURLWithPath: "\(copy)/\(name)"))
            let reopened = try JournalStore(directory: copy)
            let snapshot = try reopened.load()
            // Only the newline missing: the record and its checksum are whole, so it counts.
            let whole = cut == journal.count - 1
            #expect(snapshot.bans.map(\.network) == (whole ? [.cidr("192.0.2.1/32"), .cidr("192.0.2.2/32")] : [.cidr("192.0.2.1/32")]), "cut at \(cut)")
            #expect(snapshot.warnings.count == (cut == lastStart || whole ? 0 : 1), "cut at \(cut)")
            await reopened.close()
            try? FileManager.default.removeItem(atPath: copy)
        }
    }

    @Test("a snapshot with garbage appended or a flipped byte is detected and kept aside", arguments: ["append", "flip"])
    func damagedSnapshot(damage: String) async throws {
        let directory = temporaryStateDirectory()
        // A zero threshold compacts at the first change: the snapshot then holds the ban.
        let store = try JournalStore(directory: directory, compactionThreshold: 0)
        _ = try store.load()
        let ban = manualBan("198.51.100.7/32")
        try await store.waitUntilStored(store.append(.banned(ban)) { GreylistSnapshot(bans: [ban]) })
        await store.close()
        let intact = try await JournalStore.open(directory: directory)
        #expect(try intact.load().bans.count == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/snapshot")).starts(with: Array("greylist-snapshot 4 ".utf8)))
        await intact.close()

        let path = "\(directory)/snapshot"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        if damage == "append" {
            bytes.append(contentsOf: Array("garbage\n".utf8))
        } else {
            bytes[bytes.count - 5] ^= 0x01
        }
        try bytes.write(to: URL(fileURLWithPath: path))
        let reopened = try await JournalStore.open(directory: directory)
        let snapshot = try reopened.load()
        #expect(snapshot.warnings.contains { $0.contains("snapshot is damaged") })
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).contains { $0.hasPrefix("snapshot.damaged-") })
        await reopened.close()
    }

    @Test("a damaged record in the middle of a journal is skipped, a copy of the file kept aside, and the good records kept")
    func damagedJournal() async throws {
        let directory = temporaryStateDirectory()
        let store = try JournalStore(directory: directory)
        _ = try store.load()
        for index in 1...3 { _ = store.append(.banned(manualBan("192.0.2.\(index)/32"))) }
        await store.close()
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).first { $0.hasPrefix("journal-") })
        var bytes = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)"))
        let secondLine = bytes.firstIndex(of: 0x0A)! + 20
        bytes[secondLine] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: "\(directory)/\(name)"))
        let reopened = try await JournalStore.open(directory: directory)
        let snapshot = try reopened.load()
        #expect(snapshot.bans.map(\.network.description) == ["192.0.2.1/32", "192.0.2.3/32"])
        #expect(snapshot.warnings.contains { $0.contains("line 2") })
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).contains { $0.hasPrefix("\(name).damaged-") })
        await reopened.close()
        // No compaction ran: the journal itself stays, so its good records survive another start.
        let again = try await JournalStore.open(directory: directory)
        #expect(try again.load().bans.map(\.network.description) == ["192.0.2.1/32", "192.0.2.3/32"])
        await again.close()
    }

    @Test("a flood of concurrent bans shares fsyncs: group commit")
    func groupCommit() async throws {
        let directory = temporaryStateDirectory()
        let store = try JournalStore(directory: directory)
        _ = try store.load()
        let greylist = try Greylist(configuration: GreylistConfiguration(), clock: clock.wallClock, store: store)
        let before = store.batchesWritten
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<2_000 {
                group.addTask {
                    _ = try? await greylist.ban(IPNetwork(host: IPAddress(ipv4: 0x0A00_0000 + UInt32(index))), for: .seconds(60), reason: "flood")
                }
            }
        }
        let batches = store.batchesWritten - before
        #expect(await greylist.list().count == 2_000)
        #expect(batches < 1_000, "2,000 acknowledged bans took \(batches) fsyncs")
        await store.close()
    }
}

@Suite struct StateFileDecodingTests {
    @Test("decodeStateFile reads a journal as start-up does: damaged and torn lines are skipped with warnings")
    func decodesJournal() {
        let clock = ManualClock(Date())
        let good = JournalRecord(.banned(BanEntry(network: .cidr("192.0.2.1/32"), reason: .manual("x"),
                                                  bannedAt: clock.now, expiresAt: clock.now.addingTimeInterval(60)))).line
        let bytes = good + Array("00000000 {\"op\":\"ban\"}\n".utf8) + good + Array("12".utf8)
        let snapshot = JournalStore.decodeStateFile(bytes, name: "journal-1")
        #expect(snapshot.bans.map(\.network) == [.cidr("192.0.2.1/32")])
        #expect(snapshot.warnings == ["journal-1: skipped a damaged record on line 2", "journal-1: skipped a torn record at the end (2 bytes)"])
        #expect(JournalStore.decodeStateFile(Array("greylist-snapshot 2 covers=1 records=1 crc=0\nx\n".utf8), name: "snapshot")
            .warnings.first?.contains("damaged") == true)
    }
}
