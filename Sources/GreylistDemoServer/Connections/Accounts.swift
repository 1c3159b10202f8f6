import GreylistXMPP

/// The demo's credential store: usernames and passwords from the configuration file.
struct Accounts: Sendable {
    private let passwords: [String: String]

    init(_ passwords: [String: String]) {
        self.passwords = passwords
    }

    /// Whether the credentials log in, and if not, whether the account exists.
    func verdict(for credentials: XMPPCredentials) -> XMPPCredentialVerdict {
        guard let expected = passwords[credentials.user] else { return .unknownAccount }
        return XMPPPasswordComparison.constantTimeEqual(expected, credentials.password) ? .valid : .invalidCredentials
    }
}
