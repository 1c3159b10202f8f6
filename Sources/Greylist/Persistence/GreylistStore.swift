#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where a ``Greylist`` keeps its bans so that a restart or a crash loses nothing it acknowledged.
///
/// The actor calls ``append(_:state:)`` synchronously inside the turn that changes its state, so the
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
    ///
    /// A store that keeps a log may take this moment to compact it: `state` returns the whole
    /// state as of this change, so a snapshot taken from it covers exactly the changes up to this
    /// one. Call it only when you need it; it walks every ban.
    ///
    /// - Parameters:
    ///   - change: The change, in the order the greylist made it.
    ///   - state: The greylist's whole state including `change`, computed on demand, synchronously.
    /// - Returns: The sequence number to pass to ``waitUntilStored(_:)``.
    func append(_ change: GreylistChange, state: () -> GreylistSnapshot) -> UInt64

    /// Returns when every change up to `sequence` is stored (on disk, for ``JournalStore``).
    ///
    /// - Throws: ``GreylistError/storage(_:reason:)`` when storing failed.
    func waitUntilStored(_ sequence: UInt64) async throws(GreylistError)

    /// Stores everything appended so far, finishes any background work, and lets go of the
    /// store's resources (a state directory's lock, a connection). Appends after this are not
    /// stored.
    func close() async

    /// Receives what the store has to tell the greylist: changes made elsewhere (other nodes of
    /// a cluster) and failures of its background work. A store awaits the handler for each
    /// notice before delivering the next, so changes apply in order.
    ///
    /// - Parameter handler: Called for each notice.
    func subscribe(_ handler: @escaping @Sendable (GreylistStoreNotice) async -> Void)

    /// The embedded journal under this store when the store is a layer over one (a cluster link
    /// whose acknowledgement is the local journal). The greylist then appends to that journal
    /// itself, in compact form, and hands each change to ``share(_:)-(GreylistChange)``.
    /// `nil` by default.
    var localJournal: JournalStore? { get }

    /// Passes a change on to other nodes, after ``localJournal`` has it; never waits. Called
    /// only for a store with a ``localJournal``, and only for changes this node made. Does
    /// nothing by default.
    ///
    /// - Parameter change: The change.
    func share(_ change: GreylistChange)

    /// Passes a counted failure on to other nodes, so a bot that spreads its tries over them
    /// trips the same threshold; never waits. Does nothing by default.
    ///
    /// - Parameter failure: The failure, counted by one rule on one key.
    func share(_ failure: SharedFailure)

    /// Hands the whole state over after the store asked for it with
    /// ``GreylistStoreNotice/stateWanted`` (a reconnect, a shared server that lost its data).
    /// Does nothing by default.
    ///
    /// - Parameter state: The greylist's state now.
    func share(state: GreylistSnapshot)
}

extension GreylistStore {
    /// No local journal underneath: the store is its own acknowledgement.
    public var localJournal: JournalStore? { nil }

    /// Nothing is shared.
    ///
    /// - Parameter change: Ignored.
    public func share(_ change: GreylistChange) {}

    /// Nothing is shared.
    ///
    /// - Parameter failure: Ignored.
    public func share(_ failure: SharedFailure) {}

    /// Nothing is shared.
    ///
    /// - Parameter state: Ignored.
    public func share(state: GreylistSnapshot) {}
}

/// What a store tells the greylist on its own initiative.
public enum GreylistStoreNotice: Hashable, Sendable {
    /// Another node changed the shared state; apply it without storing it again.
    case remoteChange(GreylistChange)
    /// Background work failed (a compaction, a write); nothing acknowledged is lost.
    case failed(GreylistError)
    /// Another node counted a failure for one of the rules (see ``GreylistStore/share(_:)-(SharedFailure)``).
    case remoteFailure(SharedFailure)
    /// The store wants the whole state, to share it again (``GreylistStore/share(state:)``).
    case stateWanted
    /// The link to the shared state went down or came back; said once per change, not per ban.
    case linkChanged(available: Bool, detail: String)
    /// The store skipped something it could not use (foreign or damaged shared data).
    case warning(String)
}

/// One stored change.
public enum GreylistChange: Hashable, Sendable {
    /// A ban was placed or replaced (its `banCount` and `expiresAt` also carry the escalation history).
    case banned(BanEntry)
    /// The ban of exactly this key was dropped to make room (its history stays).
    case removed(IPNetwork)
    /// An operator lifted the bans inside this network and forgot their history.
    case unbanned(IPNetwork)
    /// A successful login trusts this key until then.
    case trusted(IPNetwork, until: Date)
    /// This key's trust was taken away (or dropped to make room).
    case distrusted(IPNetwork)
    /// A login as the account from the key trusts that pair until then: the evidence that the key
    /// is a shared address, and that the account is one of its users.
    case accountTrusted(AccountMark)
    /// The account's password guesses from the key are used up until then
    /// (``Greylist/shouldVerify(user:ip:)`` answers `false`).
    case loginsBlocked(AccountMark)
    /// The unknown username is marked as a bot's until then.
    case nameMarked(NameMark)
    /// An operator added the network to the soft-trust list (`added`), or took it out
    /// (``Greylist/addSoftTrust(_:)``, ``Greylist/removeSoftTrust(_:)``).
    case softTrustChanged(IPNetwork, added: Bool)
}

/// A key trusted by a recent successful login.
public struct TrustedKey: Hashable, Sendable {
    /// The key (the address masked to the configured prefix length).
    public var network: IPNetwork
    /// When the trust ends.
    public var until: Date

    /// Creates a trusted key.
    ///
    /// - Parameters:
    ///   - network: The key.
    ///   - until: The end of the trust.
    public init(network: IPNetwork, until: Date) {
        self.network = network
        self.until = until
    }
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

/// The whole persistent state: bans, escalation histories, trust and the judgment's marks. It is
/// also the admin export.
public struct GreylistSnapshot: Hashable, Sendable {
    /// Bans, expired ones possibly included.
    public var bans: [BanEntry]
    /// Histories of keys not banned now.
    public var histories: [BanHistory]
    /// Keys trusted by a recent successful login.
    public var trusted: [TrustedKey]
    /// Accounts trusted on a key by a recent successful login there.
    public var trustedAccounts: [AccountMark]
    /// Accounts whose password guesses from a shared address are used up.
    public var blockedLogins: [AccountMark]
    /// Unknown usernames marked as bots' names.
    public var markedNames: [NameMark]
    /// Networks an operator added to the soft-trust list at run time (the configuration's list
    /// is not stored).
    public var softTrust: [IPNetwork]
    /// What loading had to skip or set aside; empty when written.
    public var warnings: [String]

    /// Creates a snapshot.
    ///
    /// - Parameters:
    ///   - bans: Bans.
    ///   - histories: Escalation histories.
    ///   - trusted: Trusted keys.
    ///   - trustedAccounts: Accounts trusted on a key.
    ///   - blockedLogins: Accounts whose guesses from a key are used up.
    ///   - markedNames: Unknown names marked as bots'.
    ///   - softTrust: Soft-trust networks added at run time.
    ///   - warnings: Problems met while loading.
    public init(bans: [BanEntry] = [], histories: [BanHistory] = [], trusted: [TrustedKey] = [],
                trustedAccounts: [AccountMark] = [], blockedLogins: [AccountMark] = [], markedNames: [NameMark] = [],
                softTrust: [IPNetwork] = [], warnings: [String] = []) {
        self.bans = bans
        self.histories = histories
        self.trusted = trusted
        self.trustedAccounts = trustedAccounts
        self.blockedLogins = blockedLogins
        self.markedNames = markedNames
        self.softTrust = softTrust
        self.warnings = warnings
    }
}
