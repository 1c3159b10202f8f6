#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Something the greylist did, delivered to the host's sink so it can log or count it.
///
/// The library never prints; the host turns events into log lines (``description`` is one, with
/// every piece of network-supplied text escaped by ``OperatorText``: one event, one line).
/// Events are delivered synchronously on the caller's thread: ``refused(address:network:dryRun:)``
/// on the accept path, the others from the actor. A sink must be quick and must not call back
/// into the greylist synchronously. New kinds of event come in minor versions: switch over events
/// with a `default` case.
public enum GreylistEvent: Hashable, Sendable, CustomStringConvertible {
    /// A rule tripped or an operator banned a network (in dry run, `dryRun` is true and nothing is refused).
    case banned(BanEntry, dryRun: Bool)
    /// A connection was refused by a ban (in dry run: would have been; it was accepted).
    case refused(address: IPAddress, network: IPNetwork, dryRun: Bool)
    /// A failed login was reported.
    case failureRecorded(user: String, address: IPAddress, kind: AuthenticationFailure, outcome: FailureOutcome)
    /// A ban ran out and was purged.
    case expired(BanEntry)
    /// An operator lifted a ban.
    case unbanned(BanEntry)
    /// The ban table was full: one of the soonest-expiring bans made room.
    case banEvicted(BanEntry)
    /// The least recently seen key's failure counters, or an ended ban's escalation history,
    /// made room in a full table.
    case counterEvicted(IPNetwork)
    /// Loading the stored state skipped or set aside something (a torn last record, a damaged file).
    case storageWarning(String)
    /// Storing changes failed (a full or read-only disk); refusing carries on from memory and a
    /// full snapshot is written once the disk works again.
    case storageFailed(String)
    /// The link to a shared store (the cluster's Redis) went down or came back. Said once per
    /// change: while it is down, refusing carries on from memory and the local journal.
    case sharedStoreChanged(available: Bool, detail: String)
    /// A failure another node counted was counted here too; `count` is the rule's count on the
    /// key now (the node that completes the count bans).
    case sharedFailureCounted(SharedFailure, count: Int)
    /// A new configuration took effect; bans and counters were kept.
    case reconfigured(rules: [String], dryRun: Bool)
    /// A trusted key lost its trust: wrong passwords for this many distinct accounts came from it.
    case trustRevoked(IPNetwork, accounts: Int)
    /// Failures on this username came from this many distinct keys: it is under attack, and a
    /// failure on it from an untrusted key now bans at once.
    case accountUnderAttack(user: String, sources: Int)
    /// Failures on this unknown username came from this many distinct untrusted keys: it is a
    /// bot's name, and a failure on it from an untrusted key now bans at once.
    case nameMarked(user: String, sources: Int)
    /// This account's password guesses from the shared address `network` are used up until
    /// `until`: its logins from there are answered as wrong passwords without a check.
    case loginsBlocked(IPNetwork, user: String, until: Date)
    /// An operator added a network to the soft-trust list (`added`), or took it out.
    case softTrustChanged(IPNetwork, added: Bool)

    /// A log line an operator can read and grep.
    public var description: String {
        switch self {
        case .banned(let entry, let dryRun):
            return dryRun ? "dry-run: would ban \(entry)" : "banned \(entry)"
        case .refused(let address, let network, let dryRun):
            return dryRun ? "dry-run: would refuse \(address) (ban \(network))" : "refused \(address) (ban \(network))"
        case .failureRecorded(let user, let address, let kind, let outcome):
            return "failed login user=\(OperatorText.escaped(user)) address=\(address) kind=\(kind) outcome=\(outcome)"
        case .expired(let entry):
            return "expired \(entry.network) (\(entry.reason), refused \(entry.refusedCount))"
        case .unbanned(let entry):
            return "unbanned \(entry.network) (\(entry.reason), refused \(entry.refusedCount))"
        case .banEvicted(let entry):
            return "evicted ban \(entry.network) (\(entry.reason)): ban table full"
        case .counterEvicted(let network):
            return "evicted counters of \(network): tracked-address table full"
        case .storageWarning(let text):
            return "state store warning: \(OperatorText.escaped(text))"
        case .storageFailed(let text):
            return "state store failed: \(OperatorText.escaped(text)); refusing continues from memory"
        case .sharedStoreChanged(let available, let detail):
            return available
                ? "shared state available: \(OperatorText.escaped(detail))"
                : "shared state unavailable: \(OperatorText.escaped(detail)); refusing continues from memory and the local journal"
        case .sharedFailureCounted(let failure, let count):
            return "failure shared by another node: \(failure.key) user=\(OperatorText.escaped(failure.account)) rule \(OperatorText.escaped(failure.rule)) (\(count) counted)"
        case .reconfigured(let rules, let dryRun):
            return "reconfigured: rules \(OperatorText.escaped(rules.joined(separator: ", ")))\(dryRun ? " (dry run)" : "")"
        case .trustRevoked(let network, let accounts):
            return "trust revoked for \(network): wrong passwords for \(accounts) accounts"
        case .accountUnderAttack(let user, let sources):
            return "account under attack: user=\(OperatorText.escaped(user)) failed from \(sources) sources; failures on it from untrusted sources now ban at once"
        case .nameMarked(let user, let sources):
            return "bot name marked: user=\(OperatorText.escaped(user)) (no such account) failed from \(sources) untrusted sources; failures on it from untrusted sources now ban at once"
        case .loginsBlocked(let network, let user, let until):
            return "guesses used up: user=\(OperatorText.escaped(user)) from the shared address \(network); its logins from there are refused unchecked until \(until.formatted(.iso8601))"
        case .softTrustChanged(let network, let added):
            return added ? "soft trust added: \(network) (bans there are soft)" : "soft trust removed: \(network)"
        }
    }
}

extension FailureOutcome: CustomStringConvertible {
    /// `banned`, `counted by botnet`, `no rule matched`, …
    public var description: String {
        switch self {
        case .banned: return "banned"
        case .counted(let rules): return "counted by \(rules.joined(separator: ", "))"
        case .noRuleMatched: return "no rule matched"
        case .allowlisted: return "allowlisted"
        case .alreadyBanned: return "already banned"
        case .notClientFault: return "not counted (not the client's fault)"
        case .sharedAddress(let key, _): return "stream ended (\(key) is a shared address this account never logged in from)"
        }
    }
}
