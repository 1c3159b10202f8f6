import Greylist
import Synchronization

/// The demo server's connection caps for the example: at most `maxConnections` open streams, at
/// most `maxConnectionsPerAddress` from one address (an IPv6 client's /64), and at most
/// `maxUnauthenticatedPerAddress` of those not logged in yet, so one address cannot hold the
/// server's descriptors with idle connections. Shared by every stream, behind one lock.
final class ConnectionCaps: Sendable {
    /// The caps, with the demo's defaults.
    struct Limits: Sendable {
        var maxConnections = 1_024
        var maxConnectionsPerAddress = 64
        var maxUnauthenticatedPerAddress = 8
    }

    private struct Count {
        var open = 0
        var unauthenticated = 0
    }

    private struct State {
        var total = 0
        var perAddress: [IPNetwork: Count] = [:]
    }

    let limits: Limits
    private let state = Mutex(State())

    init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// What the caps count under: the address, or its /64 for IPv6.
    static func source(of address: IPAddress) -> IPNetwork {
        address.isIPv4 ? IPNetwork(host: address) : ((try? IPNetwork(address: address, prefixLength: 64)) ?? IPNetwork(host: address))
    }

    /// Takes a new unauthenticated stream from `address`; `false` when a cap is reached (close it).
    func admit(_ address: IPAddress) -> Bool {
        let source = Self.source(of: address)
        return state.withLock { state in
            let count = state.perAddress[source] ?? Count()
            guard state.total < limits.maxConnections, count.open < limits.maxConnectionsPerAddress,
                  count.unauthenticated < limits.maxUnauthenticatedPerAddress else { return false }
            state.total += 1
            state.perAddress[source] = Count(open: count.open + 1, unauthenticated: count.unauthenticated + 1)
            return true
        }
    }

    /// A stream from `address` logged in: it no longer counts as unauthenticated.
    func authenticated(_ address: IPAddress) {
        state.withLock { $0.perAddress[Self.source(of: address)]?.unauthenticated -= 1 }
    }

    /// A stream admitted from `address` closed.
    func closed(_ address: IPAddress, wasAuthenticated: Bool) {
        let source = Self.source(of: address)
        state.withLock { state in
            guard var count = state.perAddress[source] else { return }
            state.total -= 1
            count.open -= 1
            if !wasAuthenticated { count.unauthenticated -= 1 }
            state.perAddress[source] = count.open > 0 ? count : nil
        }
    }

    /// Open streams now, and those from `address` (for tests).
    func counts(from address: IPAddress) -> (total: Int, open: Int, unauthenticated: Int) {
        state.withLock { state in
            let count = state.perAddress[Self.source(of: address)] ?? Count()
            return (state.total, count.open, count.unauthenticated)
        }
    }
}
