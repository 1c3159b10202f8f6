import GreylistSystem
import Dispatch
import Greylist
import GreylistXMPP

/// The open client connections, and what the accept thread needs to admit new ones: the cap,
/// the session settings and the accounts (replaced on reload; connections keep what they began with).
final class ConnectionRegistry: Sendable {
    /// What a reload can change.
    struct Policy: Sendable {
        var maxConnections: Int
        var maxConnectionsPerAddress: Int
        var maxUnauthenticatedPerAddress: Int
        var settings: XMPPSessionSettings
        var accounts: Accounts
        var maxOutboxBytes: Int
    }

    /// One address's (an IPv6 /64's) connections.
    private struct AddressCount {
        var open = 0
        var unauthenticated = 0
    }

    private struct Entry {
        var connection: ClientConnection
        var source: IPNetwork
        var authenticated = false
    }

    private struct State {
        var connections: [ObjectIdentifier: Entry] = [:]
        var perAddress: [IPNetwork: AddressCount] = [:]
        var policy: Policy
        var admitting = true
    }

    /// Why a connection was not admitted.
    enum Refusal: Error {
        case full
        case addressCap
    }

    private let state: LockedValue<State>
    private let greylist: Greylist

    init(policy: Policy, greylist: Greylist) {
        self.state = LockedValue(State(policy: policy))
        self.greylist = greylist
    }

    /// Takes a connection the greylist let in, unless the server is full or stopping. Runs on
    /// the accept thread.
    ///
    /// - Returns: `nil` when admitted; otherwise why, and the caller must close the descriptor.
    /// - Parameters:
    ///   - client: The address caps count under, and whether its logins are reported.
    ///   - onProxyHeader: Set when the peer is not a trusted proxy but some are configured: a
    ///     connection that begins with a PROXY header is refused and reported here.
    func admit(_ descriptor: Int32, _ client: AcceptedClient, onProxyHeader: (@Sendable (IPAddress) -> Void)? = nil) -> Refusal? {
        let source = Self.source(of: client.address)
        let admitted = state.withLock { state -> Result<ClientConnection, Refusal> in
            let counts = state.perAddress[source] ?? AddressCount()
            guard state.admitting, state.connections.count < state.policy.maxConnections,
                  (try? Syscalls.setNonBlocking(descriptor)) != nil else { return .failure(.full) }
            guard counts.open < state.policy.maxConnectionsPerAddress,
                  counts.unauthenticated < state.policy.maxUnauthenticatedPerAddress else { return .failure(.addressCap) }
            try? Syscalls.setNoDelay(descriptor)
            let policy = state.policy
            let connection = ClientConnection(
                descriptor: descriptor, client: client, greylist: greylist, settings: policy.settings, accounts: policy.accounts,
                maxOutboxBytes: policy.maxOutboxBytes,
                queue: DispatchQueue(label: "greylist.demo.connection", target: .global()),
                onProxyHeader: onProxyHeader,
                onAuthenticated: { [weak self] connection in self?.markAuthenticated(connection) },
                onClose: { [weak self] closed in self?.remove(closed) }
            )
            state.connections[ObjectIdentifier(connection)] = Entry(connection: connection, source: source)
            state.perAddress[source, default: AddressCount()].open += 1
            state.perAddress[source, default: AddressCount()].unauthenticated += 1
            return .success(connection)
        }
        switch admitted {
        case .success(let connection):
            connection.start()
            return nil
        case .failure(let refusal):
            return refusal
        }
    }

    /// Applies a reloaded policy to connections admitted from now on.
    func update(_ policy: Policy) {
        state.withLock { $0.policy = policy }
    }

    /// Stops admitting and returns the open connections, to be shut down.
    func closeAdmission() -> [ClientConnection] {
        state.withLock { state in
            state.admitting = false
            return state.connections.values.map(\.connection)
        }
    }

    /// Open and not-yet-authenticated connections from `peer`'s address (for tests).
    func counts(from peer: IPAddress) -> (open: Int, unauthenticated: Int) {
        let source = Self.source(of: peer)
        return state.withLock { state in
            let counts = state.perAddress[source] ?? AddressCount()
            return (counts.open, counts.unauthenticated)
        }
    }

    /// The open connections from `peer`'s address (for tests that check socket options, or
    /// hold a connection past its close as a verdict in flight does).
    func connections(from peer: IPAddress) -> [ClientConnection] {
        let source = Self.source(of: peer)
        return state.withLock { state in state.connections.values.filter { $0.source == source }.map(\.connection) }
    }

    /// What the per-address caps count under: the address, or its /64 for IPv6.
    private static func source(of peer: IPAddress) -> IPNetwork {
        peer.isIPv4 ? IPNetwork(host: peer) : ((try? IPNetwork(address: peer, prefixLength: 64)) ?? IPNetwork(host: peer))
    }

    /// Open client connections now.
    var count: Int {
        state.withLock { $0.connections.count }
    }

    private func markAuthenticated(_ connection: ClientConnection) {
        state.withLock { state in
            guard let entry = state.connections[ObjectIdentifier(connection)], !entry.authenticated else { return }
            state.connections[ObjectIdentifier(connection)]?.authenticated = true
            state.perAddress[entry.source]?.unauthenticated -= 1
        }
    }

    private func remove(_ connection: ClientConnection) {
        state.withLock { state in
            guard let entry = state.connections.removeValue(forKey: ObjectIdentifier(connection)) else { return }
            var counts = state.perAddress[entry.source] ?? AddressCount()
            counts.open -= 1
            if !entry.authenticated { counts.unauthenticated -= 1 }
            state.perAddress[entry.source] = counts.open > 0 ? counts : nil
        }
    }
}
