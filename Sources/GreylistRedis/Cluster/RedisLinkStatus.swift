/// How a ``RedisStore``'s link to Redis is doing, for `admin stats` and health checks.
public struct RedisLinkStatus: Hashable, Sendable, CustomStringConvertible {
    /// The link's state.
    public enum State: Hashable, Sendable {
        /// Not connected yet.
        case starting
        /// Connected, subscribed, and caught up with the shared state.
        case connected
        /// Redis cannot be used; the reason names the address or the command. Refusing carries
        /// on from memory and the local journal; changes wait in the queue.
        case unavailable(String)
        /// The store was closed.
        case stopped
    }

    /// The state.
    public var state: State = .starting
    /// Where Redis is (no password).
    public var address: String
    /// Changes waiting for Redis.
    public var queued = 0
    /// Changes and failures published to the other nodes.
    public var published = 0
    /// Changes and failures received from other nodes (and from the shared state on connecting).
    public var received = 0
    /// Foreign or damaged values and messages skipped.
    public var skipped = 0
    /// Successful connections (the first one and every reconnection).
    public var connections = 0

    /// Creates a status.
    ///
    /// - Parameter address: Where Redis is.
    public init(address: String) {
        self.address = address
    }

    /// `connected to redis://127.0.0.1:6379/0: 0 queued, 12 published, 3 received, 0 skipped, 1 connection`.
    public var description: String {
        let head: String
        switch state {
        case .starting: head = "connecting to \(address)"
        case .connected: head = "connected to \(address)"
        case .unavailable(let reason): head = "unavailable (\(reason))"
        case .stopped: head = "stopped"
        }
        return "\(head): \(queued) queued, \(published) published, \(received) received, \(skipped) skipped, \(connections) connection(s)"
    }
}
