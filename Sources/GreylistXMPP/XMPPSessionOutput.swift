/// What one call into an ``XMPPServerSession`` asks its shell to do, in this order: write
/// ``bytes`` (in one write), carry out ``requests``, arm the one timer for ``deadline``, and close
/// once everything is written when ``closeReason`` is set.
public struct XMPPSessionOutput: Hashable, Sendable {
    /// Bytes to write to the client, all of this call's output in one buffer.
    public var bytes: [UInt8]
    /// What the session needs from the host.
    public var requests: [XMPPSessionRequest]
    /// When to call ``XMPPServerSession/deadlineReached(at:)``, replacing any earlier deadline;
    /// `nil` once the stream is closed.
    public var deadline: ContinuousClock.Instant?
    /// Close the connection after writing ``bytes``, for this reason (for logs).
    public var closeReason: String?

    /// Creates an output.
    ///
    /// - Parameters:
    ///   - bytes: Bytes to write.
    ///   - requests: Requests to the host.
    ///   - deadline: The next deadline.
    ///   - closeReason: Why to close, if closing.
    public init(bytes: [UInt8] = [], requests: [XMPPSessionRequest] = [], deadline: ContinuousClock.Instant? = nil,
                closeReason: String? = nil) {
        self.bytes = bytes
        self.requests = requests
        self.deadline = deadline
        self.closeReason = closeReason
    }

    /// ``bytes`` as text (for tests and logs).
    public var text: String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Whether the shell must close the connection.
    public var closes: Bool {
        closeReason != nil
    }
}

/// Something a session needs from its host, which answers through the session's methods.
public enum XMPPSessionRequest: Hashable, Sendable {
    /// Check these credentials and answer with ``XMPPServerSession/credentialsChecked(_:at:)``.
    /// Input waits until then.
    case checkCredentials(XMPPCredentials)
    /// A login failed: report it (to the greylist), then answer with
    /// ``XMPPServerSession/failureRecorded(closeStream:at:)``. Input waits until then, and the
    /// client hears of the failure only after the verdict, so a client that reconnects the
    /// moment it reads the failure meets a ban already in place.
    case reportFailure(user: String, verdict: XMPPCredentialVerdict)
    /// A login succeeded (to clear failure counters, for example). Needs no answer.
    case reportSuccess(user: String)
    /// Write this output's bytes (the `<proceed/>`), then start TLS as the server on this
    /// connection and answer with ``XMPPServerSession/tlsEstablished(at:)``. Input waits until
    /// then; bytes the client sent after `<starttls/>` and before the handshake are dropped.
    case startTLS
}
