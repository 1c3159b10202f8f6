/// What kind of failed login the SASL layer reports.
public enum AuthenticationFailure: Hashable, Sendable, CustomStringConvertible {
    /// The client sent a wrong username or password: this counts toward bans.
    case invalidCredentials
    /// The server could not check the credentials (backend down, timeout): not the client's
    /// fault, so it is reported in events and statistics but never counts toward a ban.
    case serviceUnavailable

    /// `invalid-credentials` or `service-unavailable`.
    public var description: String {
        switch self {
        case .invalidCredentials: return "invalid-credentials"
        case .serviceUnavailable: return "service-unavailable"
        }
    }
}
