/// Trust per (key, account) and the guess budget of shared addresses.
///
/// A key is a shared address when enough distinct accounts logged in from it (an office behind
/// NAT), or when it is in `softTrust`. Which accounts logged in from it is remembered per key; the
/// failed logins each account received from it within the guess window are counted, and a pair
/// whose budget is spent is blocked until the window moves on. The blocked pairs sit behind a lock
/// of their own, so ``Greylist/shouldVerify(user:ip:)`` answers without the actor.
struct SharedAddresses {
    /// Accounts that logged in from a key, with the end of that trust; at most
    /// ``maximumAccountsPerKey`` per key (the soonest-ending dropped).
    var accounts: RecencyTable<IPNetwork, [String: Int64]>
    /// Failed logins per (key, account) within the guess window, oldest first, at most the budget.
    var guesses: RecencyTable<Pair, [Int64]>

    static let maximumAccountsPerKey = 256
    static let maximumPairs = 100_000

    /// One account on one key.
    struct Pair: Hashable, Sendable {
        var key: IPNetwork
        var account: String
    }

    init(maximumKeys: Int) {
        accounts = RecencyTable(capacity: maximumKeys)
        guesses = RecencyTable(capacity: Self.maximumPairs)
    }

    /// Notes that `account` logged in from `key`, trusted until `until`.
    mutating func noteLogin(_ account: String, on key: IPNetwork, until: Int64, now: Int64) {
        _ = accounts.update(key, make: { [:] }) { known in
            known[account] = until
            if known.count > Self.maximumAccountsPerKey {
                known = known.filter { $0.value > now }
                if known.count > Self.maximumAccountsPerKey, let soonest = known.min(by: { $0.value < $1.value }) {
                    known[soonest.key] = nil
                }
            }
        }
    }

    /// How many accounts logged in from `key` and are still trusted there.
    func accountCount(on key: IPNetwork, now: Int64) -> Int {
        accounts[key]?.values.count { $0 > now } ?? 0
    }

    /// Whether `account` logged in from `key` and is still trusted there.
    func isFamiliar(_ account: String, on key: IPNetwork, now: Int64) -> Bool {
        (accounts[key]?[account] ?? 0) > now
    }

    /// Counts a failed login on `account` from `key`; returns the end of the window in which the
    /// budget is spent, or `nil` while guesses are left.
    mutating func noteGuess(_ account: String, on key: IPNetwork, budget: Int, window: Int64, now: Int64) -> Int64? {
        let (times, _) = guesses.update(Pair(key: key, account: account), make: { [] }) { times -> [Int64] in
            times.removeAll { $0 <= now - window }
            times.append(now)
            if times.count > budget { times.removeFirst(times.count - budget) }
            return times
        }
        guard times.count >= budget, let first = times.first else { return nil }
        return first + window
    }

    /// Forgets what a login as `account` from `key` proves was its owner's.
    mutating func clearGuesses(_ account: String, on key: IPNetwork) {
        guesses.remove(Pair(key: key, account: account))
    }
}

/// Pairs whose guesses are used up, until when: read by the accept side without the actor.
struct BlockedLogins: Sendable {
    var until: [SharedAddresses.Pair: Int64] = [:]
    var prefixLength = (ipv4: 32, ipv6: 64)

    /// The key `ip` is counted under.
    func key(for ip: IPAddress) -> IPNetwork {
        IPNetwork(unchecked: ip, prefixLength: ip.isIPv4 ? prefixLength.ipv4 : prefixLength.ipv6)
    }

    /// Blocks a pair until `end`; past the cap, ended blocks go first, then the soonest-ending.
    mutating func block(_ pair: SharedAddresses.Pair, until end: Int64, now: Int64) {
        until[pair] = end
        if until.count > SharedAddresses.maximumPairs {
            until = until.filter { $0.value > now }
            if until.count > SharedAddresses.maximumPairs, let soonest = until.min(by: { $0.value < $1.value }) {
                until[soonest.key] = nil
            }
        }
    }
}
