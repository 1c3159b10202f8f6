/// One operator request: a JSON line on the admin socket.
public struct GreylistAdminRequest: Codable, Equatable, Sendable {
    /// `list`, `stats`, `export`, `ban`, `unban`, `trusted`, `distrust`, `soft-trust` or `soft-untrust`.
    public var command: String
    /// The CIDR for `ban`, `unban`, `distrust`, `soft-trust` and `soft-untrust`; for `list` and
    /// `trusted`, only what overlaps it.
    public var network: String?
    /// For `list`: the most bans to return (the soonest-expiring).
    public var limit: Int?
    /// The ban length for `ban` (`"1h"`, `"30m"`, `"2 hours"`, …).
    public var duration: String?
    /// The reason for `ban`.
    public var reason: String?
    /// For `ban`: a network wider than the server's widest ban is banned only with this.
    public var force: Bool?

    /// Creates a request.
    ///
    /// - Parameters:
    ///   - command: The verb.
    ///   - network: The network it acts on or looks into.
    ///   - limit: For `list`: the most bans returned.
    ///   - duration: For `ban`: how long.
    ///   - reason: For `ban`: the reason shown in listings.
    ///   - force: For `ban`: take a network wider than the server's widest ban.
    public init(command: String, network: String? = nil, limit: Int? = nil, duration: String? = nil, reason: String? = nil, force: Bool? = nil) {
        self.command = command
        self.network = network
        self.limit = limit
        self.duration = duration
        self.reason = reason
        self.force = force
    }
}
