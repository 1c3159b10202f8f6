import Foundation
import GreylistTestSupport
import Glibc
import Testing
@testable import Greylist

/// The store's durable steps watched and failed through its seam: every acknowledged batch was
/// synced, a failing sync fails the acknowledgement, and a compaction that fails at any step
/// loses no ban.
@Suite struct StoreFaultTests {
    let clock = ManualClock(Date())

    /// Records every durable step and fails the ones `failing` picks (once `armed`).
    final class Faults: Sendable {
        let steps = LockedValue<[(StorageOperations.Step, String)]>([])
        let armed = LockedValue(false)
        let failing: @Sendable (StorageOperations.Step, String) -> Int32

        init(failing: @escaping @Sendable (StorageOperations.Step, String) -> Int32 = { _, _ in 0 }) {
            self.failing = failing
        }

        var operations: StorageOperations {
            StorageOperations { step, path in
                self.steps.withLock { $0.append((step, path)) }
                return self.armed.withLock { $0 } ? self.failing(step, path) : 0
            }
        }

        func count(_ step: StorageOperations.Step, pathContaining fragment: String) -> Int {
            steps.withLock { $0.filter { $0.0 == step && $0.1.contains(fragment) }.count }
        }
    }

    @Test("every batch acknowledged with stateSync on was fsynced; with it off, none was")
    func everyBatchSynced() async throws {
        for synchronous in [true, false] {
            let faults = Faults()
            let store = try JournalStore(directory: temporaryStateDirectory(), synchronous: synchronous, operations: faults.operations)
            let greylist = try Greylist(configuration: GreylistConfiguration(), clock: clock.wallClock, store: store)
            let before = faults.count(.syncFile, pathContaining: "journal-")
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<300 {
                    group.addTask { _ = try? await greylist.ban(IPNetwork(host: IPAddress(ipv4: 0x0A00_0000 + UInt32(index))), for: .seconds(60), reason: "x") }
                }
            }
            let syncs = faults.count(.syncFile, pathContaining: "journal-") - before
            if synchronous {
                #expect(store.batchesWritten > 0)
                #expect(syncs >= store.batchesWritten, "\(store.batchesWritten) batches, \(syncs) journal fsyncs")
            } else {
                #expect(syncs == 0)
            }
            await store.close()
        }
    }

    @Test("a failing fsync (EIO) fails the acknowledgement and reports storageFailed, never a silent success")
    func failingSync() async throws {
        let faults = Faults { step, path in step == .syncFile && path.contains("journal-") ? EIO : 0 }
        let directory = temporaryStateDirectory()
        let store = try JournalStore(directory: directory, operations: faults.operations)
        let recorder = EventRecorder()
        let greylist = try Greylist(configuration: GreylistConfiguration(rules: [botnetRule]), clock: clock.wallClock, events: recorder.sink, store: store)
        faults.armed.withLock { $0 = true }
        await #expect(throws: GreylistError.self) {
            try await store.waitUntilStored(store.append(.banned(BanEntry(network: .cidr("192.0.2.1/32"), reason: .manual("x"),
                                                                           bannedAt: clock.now, expiresAt: clock.now.addingTimeInterval(60)))))
        }
        await greylist.recordFailedAuth(user: "bad_user_12345", ip: .literal("203.0.113.1"))
        #expect(recorder.events.contains { if case .storageFailed(let text) = $0 { return text.contains("fsync") && text.contains("Input/output error") } else { return false } })
        faults.armed.withLock { $0 = false }
        await store.close()
    }

    /// Bans 60 keys through a greylist whose store compacts often and fails `step` on the
    /// snapshot (or, for `.removeFile`, on the old journals), then reopens the directory with
    /// nothing injected and returns the bans found.
    func compactionFailing(_ step: StorageOperations.Step, at fragment: String) async throws -> (found: Int, failures: Int) {
        let faults = Faults { failingStep, path in failingStep == step && path.contains(fragment) ? EIO : 0 }
        let directory = temporaryStateDirectory()
        let store = try JournalStore(directory: directory, compactionThreshold: 256, operations: faults.operations)
        let recorder = EventRecorder()
        let greylist = try Greylist(configuration: GreylistConfiguration(), clock: clock.wallClock, events: recorder.sink, store: store)
        faults.armed.withLock { $0 = true }
        for index in 0..<60 {
            try await greylist.ban(IPNetwork(host: IPAddress(ipv4: 0xC000_0200 + UInt32(index))), for: .seconds(3_600), reason: "x")
        }
        await greylist.closeStore()
        let failures = recorder.events.filter { if case .storageFailed = $0 { return true } else { return false } }.count
        let reopened = try await JournalStore.open(directory: directory)
        let found = try reopened.load().bans.count
        await reopened.close()
        return (found, failures)
    }

    @Test("a compaction whose snapshot write fails loses no ban")
    func snapshotWriteFails() async throws {
        let (found, failures) = try await compactionFailing(.writeFile, at: "snapshot")
        #expect(failures > 0, "the fault was hit")
        #expect(found == 60)
    }

    @Test("a compaction whose snapshot fsync fails loses no ban")
    func snapshotSyncFails() async throws {
        let (found, failures) = try await compactionFailing(.syncFile, at: "snapshot")
        #expect(failures > 0)
        #expect(found == 60)
    }

    @Test("a compaction whose rename fails (the process dying before the new snapshot is in place) loses no ban")
    func renameFails() async throws {
        let (found, failures) = try await compactionFailing(.renameFile, at: "snapshot")
        #expect(failures > 0)
        #expect(found == 60)
    }

    @Test("a compaction that stops after the rename, before the old journals are gone, loses no ban")
    func journalDeletionFails() async throws {
        let (found, failures) = try await compactionFailing(.removeFile, at: "journal-")
        #expect(failures > 0)
        #expect(found == 60)
    }
}
