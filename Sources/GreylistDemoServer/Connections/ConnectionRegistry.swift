import Dispatch
import Greylist
import GreylistXMPP

/// The open client connections, and what the accept thread needs to admit new ones: the cap,
/// the session settings and the accounts (replaced on reload; connections keep what they began with).
final class ConnectionRegistry: Sendable {
    /// What a reload can change.
    struct Policy: Sendable {
        var maxConnections: Int
        var settings: XMPPSessionSettings
        var accounts: Accounts
        var maxOutboxBytes: Int
    }

    private struct State {
        var connections: [ObjectIdentifier: ClientConnection] = [:]
        var policy: Policy
        var admitting = true
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
    /// - Returns: `false` when the caller must close the descriptor.
    func admit(_ descriptor: Int32, from peer: IPAddress) -> Bool {
        let admitted = state.withLock { state -> ClientConnection? in
            guard state.admitting, state.connections.count < state.policy.maxConnections,
                  (try? Syscalls.setNonBlocking(descriptor)) != nil else { return nil }
            try? Syscalls.setNoDelay(descriptor)
            let policy = state.policy
            let connection = ClientConnection(
                descriptor: descriptor, peer: peer, greylist: greylist, settings: policy.settings, accounts: policy.accounts,
                maxOutboxBytes: policy.maxOutboxBytes,
                queue: DispatchQueue(label: "greylist.demo.connection", target: .global()),
                onClose: { [weak self] closed in self?.remove(closed) }
            )
            state.connections[ObjectIdentifier(connection)] = connection
            return connection
        }
        admitted?.start()
        return admitted != nil
    }

    /// Applies a reloaded policy to connections admitted from now on.
    func update(_ policy: Policy) {
        state.withLock { $0.policy = policy }
    }

    /// Stops admitting and returns the open connections, to be shut down.
    func closeAdmission() -> [ClientConnection] {
        state.withLock { state in
            state.admitting = false
            return Array(state.connections.values)
        }
    }

    /// Open client connections now.
    var count: Int {
        state.withLock { $0.connections.count }
    }

    private func remove(_ connection: ClientConnection) {
        state.withLock { _ = $0.connections.removeValue(forKey: ObjectIdentifier(connection)) }
    }
}
