/// What kind of failed login the SASL layer reports.
public enum AuthenticationFailure: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The account exists and the password is wrong: counts toward bans.
    case invalidCredentials
    /// The account does not exist (a bot trying `admin`, `test`, `info`…): counts toward bans.
    case unknownAccount
    /// The server could not check the credentials (backend down, timeout): not the client's
    /// fault, so it is reported in events and statistics but never counts toward a ban.
    case serviceUnavailable

    /// `invalid-credentials`, `unknown-account` or `service-unavailable`.
    public var description: String {
        switch self {
        case .invalidCredentials: return "invalid-credentials"
        case .unknownAccount: return "unknown-account"
        case .serviceUnavailable: return "service-unavailable"
        }
    }

    /// Whether the failure is the client's doing (so rules may count it).
    public var isClientFault: Bool {
        self != .serviceUnavailable
    }
}
