import Greylist

/// The `nft -f -` scripts the kernel offload runs, built from values alone (no process, no
/// clock): one table of family `inet`, one interval set with timeouts per address family and
/// prefix length in use (keys of one length never overlap), and one rule per set in an input
/// chain that refuses new connections to the server's port from members.
struct NFTablesScript {
    let table: String
    let port: Int
    let action: KernelOffloadSettings.Action

    /// Creates the table afresh (an older one of the same name, left by a crash, is replaced).
    var setUp: String {
        """
        table inet \(table) {}
        delete table inet \(table)
        table inet \(table) {
          chain input { type filter hook input priority filter - 10; policy accept; }
        }

        """
    }

    /// Deletes the table, its sets and rules.
    var tearDown: String {
        "delete table inet \(table)\n"
    }

    /// The longest element timeout `nft` accepts (it refuses `100000000s` as "value too large"):
    /// a longer ban's element is given this much and refreshed before it ends.
    static let maximumTimeoutSeconds: Int64 = 99_999_999

    /// The set holding keys like `network`: `b4_32`, `b6_64`, …
    static func setName(_ network: IPNetwork) -> String {
        "b\(network.address.isIPv4 ? 4 : 6)_\(network.prefixLength)"
    }

    /// Creates the set for keys like `network`, and its rule.
    func addSet(for network: IPNetwork) -> String {
        let name = Self.setName(network)
        let family = network.address.isIPv4 ? "ip" : "ip6"
        let verdict = action == .reject ? "reject with tcp reset" : "drop"
        return """
        add set inet \(table) \(name) { type \(family == "ip" ? "ipv4_addr" : "ipv6_addr"); flags interval, timeout; }
        add rule inet \(table) input tcp dport \(port) tcp flags & (syn | ack) == syn \(family) saddr @\(name) \(verdict)

        """
    }

    /// Puts `network` into its set for `seconds`. Replacing an element already there takes a
    /// delete first (adding an element that exists keeps its old timeout), and deleting one that
    /// does not exist fails the whole transaction: a short-lived add makes the delete safe.
    func add(_ network: IPNetwork, seconds: Int64, replacing: Bool) -> String {
        let set = Self.setName(network)
        let element = "add element inet \(table) \(set) { \(network) timeout \(seconds)s }\n"
        guard replacing else { return element }
        return "add element inet \(table) \(set) { \(network) timeout 1s }\ndelete element inet \(table) \(set) { \(network) }\n" + element
    }

    /// Puts many keys that are not in their sets yet, a thousand elements per statement.
    func addNew(_ elements: [(network: IPNetwork, seconds: Int64)]) -> String {
        var text = ""
        for (set, members) in Dictionary(grouping: elements, by: { Self.setName($0.network) }).sorted(by: { $0.key < $1.key }) {
            for start in stride(from: 0, to: members.count, by: 1_000) {
                let chunk = members[start..<min(start + 1_000, members.count)]
                text += "add element inet \(table) \(set) { " + chunk.map { "\($0.network) timeout \($0.seconds)s" }.joined(separator: ", ") + " }\n"
            }
        }
        return text
    }

    /// Takes `network` out of its set, whether or not it is still there.
    func remove(_ network: IPNetwork) -> String {
        let set = Self.setName(network)
        return """
        add element inet \(table) \(set) { \(network) timeout 1s }
        delete element inet \(table) \(set) { \(network) }

        """
    }
}
