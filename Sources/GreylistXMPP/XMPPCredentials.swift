/// What a client offered in SASL PLAIN (RFC 4616), for the host to check against its accounts.
public struct XMPPCredentials: Hashable, Sendable {
    /// The authentication identity: the username.
    public var user: String
    /// The password.
    public var password: String
    /// The authorization identity, when the client sent one that names the same account.
    public var authorizationIdentity: String?

    /// Creates credentials.
    ///
    /// - Parameters:
    ///   - user: The username.
    ///   - password: The password.
    ///   - authorizationIdentity: The authorization identity, if any.
    public init(user: String, password: String, authorizationIdentity: String? = nil) {
        self.user = user
        self.password = password
        self.authorizationIdentity = authorizationIdentity
    }
}

extension XMPPCredentials: CustomStringConvertible {
    /// The username only: a password never reaches a log through this type.
    public var description: String {
        "credentials of \(user)"
    }
}

/// The host's answer to ``XMPPSessionRequest/checkCredentials(_:)``.
public enum XMPPCredentialVerdict: Hashable, Sendable {
    /// The password is right: the client is logged in.
    case valid
    /// The account exists and the password is wrong.
    case invalidCredentials
    /// No such account.
    case unknownAccount
    /// The credential store could not answer (the client is not at fault).
    case unavailable
}
