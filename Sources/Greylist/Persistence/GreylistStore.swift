#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where a ``Greylist`` keeps its bans so that a restart or a crash loses nothing it acknowledged.
///
/// The actor calls ``append(_:)`` synchronously inside the turn that changes its state, so the
/// order of changes in the store is the order they happened; nothing on the accept path ever
/// writes. ``JournalStore`` is the embedded implementation; a shared backend (Redis for a
/// cluster) implements the same protocol and delivers other nodes' bans through
/// ``subscribe(_:)``.
public protocol GreylistStore: AnyObject, Sendable {
    /// Reads the stored state at start-up; expired entries may be included (the greylist drops
    /// them). Problems that lose nothing critical (a torn last record) come back as warnings.
    ///
    /// - Throws: ``GreylistError/storage(_:reason:)`` when the store cannot be used at all.
    func load() throws(GreylistError) -> GreylistSnapshot

    /// Queues a change; returns its sequence number at once (never waits for the disk).
    func append(_ change: GreylistChange) -> UInt64

    /// Returns when every change up to `sequence` is stored (on disk, for ``JournalStore``).
    ///
    /// - Throws: ``GreylistError/storage(_:reason:)`` when storing failed.
    func waitUntilStored(_ sequence: UInt64) async throws(GreylistError)

    /// Whether enough changes piled up that the store wants a fresh snapshot.
    var wantsCompaction: Bool { get }

    /// Marks the point the next snapshot covers. Call it in the same actor turn that captures
    /// the snapshot, so no change falls between the two.
    func beginCompaction() -> UInt64

    /// Writes `snapshot` as covering everything before `point` and drops what it replaces.
    ///
    /// - Throws: ``GreylistError/storage(_:reason:)``; the older files then stay and nothing is lost.
    func finishCompaction(_ point: UInt64, snapshot: GreylistSnapshot) async throws(GreylistError)

    /// Receives changes made elsewhere (other nodes of a cluster). A backend awaits the handler
    /// for each change before delivering the next, so they apply in order. The embedded store
    /// has none.
    func subscribe(_ handler: @escaping @Sendable (GreylistChange) async -> Void)
}

/// One stored change.
public enum GreylistChange: Hashable, Sendable {
    /// A ban was placed or replaced (its `banCount` and `expiresAt` also carry the escalation history).
    case banned(BanEntry)
    /// The ban of exactly this key was dropped to make room (its history stays).
    case removed(IPNetwork)
    /// An operator lifted the bans inside this network and forgot their history.
    case unbanned(IPNetwork)
}

/// Escalation memory of one key whose ban already ended.
public struct BanHistory: Hashable, Sendable, Codable {
    /// The ban key.
    public var network: IPNetwork
    /// Bans remembered.
    public var banCount: Int
    /// When the last of them ended.
    public var lastBanEnd: Date

    /// Creates a history entry.
    ///
    /// - Parameters:
    ///   - network: The ban key.
    ///   - banCount: Bans remembered.
    ///   - lastBanEnd: When the last ended.
    public init(network: IPNetwork, banCount: Int, lastBanEnd: Date) {
        self.network = network
        self.banCount = banCount
        self.lastBanEnd = lastBanEnd
    }
}

/// The whole persistent state: bans and escalation histories. It is also the admin export.
public struct GreylistSnapshot: Hashable, Sendable {
    /// Bans, expired ones possibly included.
    public var bans: [BanEntry]
    /// Histories of keys not banned now.
    public var histories: [BanHistory]
    /// What loading had to skip or set aside; empty when written.
    public var warnings: [String]

    /// Creates a snapshot.
    ///
    /// - Parameters:
    ///   - bans: Bans.
    ///   - histories: Escalation histories.
    ///   - warnings: Problems met while loading.
    public init(bans: [BanEntry] = [], histories: [BanHistory] = [], warnings: [String] = []) {
        self.bans = bans
        self.histories = histories
        self.warnings = warnings
    }
}
