/// What a session needs from its server's configuration: the domain, the bounds and the deadlines.
public struct XMPPSessionSettings: Hashable, Sendable {
    /// The XMPP domain served; a header addressed elsewhere gets `host-unknown`.
    public var domain: String
    /// The largest stanza (and the most unparsed input) one stream may hold.
    public var maxStanzaBytes: Int
    /// The deepest element nesting accepted.
    public var maxDepth: Int
    /// Failed logins allowed on one stream before it is closed.
    public var maxAuthAttempts: Int
    /// Time from the start of the session to the stream header.
    public var headerTimeout: Duration
    /// Time from the start of the session to a successful login.
    public var authTimeout: Duration
    /// Time without a byte from the client after which the stream is closed.
    public var idleTimeout: Duration
    /// Whether the host can switch a plaintext stream to TLS (RFC 6120 §5): then STARTTLS is
    /// offered as required, and SASL PLAIN only once the stream is encrypted. `false` (the
    /// default) for a host without TLS, which offers PLAIN in the clear.
    public var offersStartTLS: Bool = false
    /// The largest SASL payload (the base64 text of `<auth>`, whitespace trimmed) decoded; a
    /// larger one is a malformed login, counted as a failed attempt. A PLAIN login of the
    /// longest name and a long password fits in far less than the default.
    public var maxSASLPayloadBytes: Int = 4_096

    /// Creates settings; every value has a default.
    ///
    /// - Parameters:
    ///   - domain: The domain served.
    ///   - maxStanzaBytes: The largest stanza.
    ///   - maxDepth: The deepest nesting.
    ///   - maxAuthAttempts: Failed logins per stream.
    ///   - headerTimeout: Start to stream header.
    ///   - authTimeout: Start to login.
    ///   - idleTimeout: Silence allowed.
    public init(domain: String = "localhost", maxStanzaBytes: Int = 65_536, maxDepth: Int = 16, maxAuthAttempts: Int = 3,
                headerTimeout: Duration = .seconds(10), authTimeout: Duration = .seconds(30), idleTimeout: Duration = .seconds(300)) {
        self.domain = domain
        self.maxStanzaBytes = maxStanzaBytes
        self.maxDepth = maxDepth
        self.maxAuthAttempts = maxAuthAttempts
        self.headerTimeout = headerTimeout
        self.authTimeout = authTimeout
        self.idleTimeout = idleTimeout
    }
}

extension Duration {
    /// `10s`, `250ms`, `5m`: how deadlines are named in stream error texts.
    var shortText: String {
        let (seconds, attoseconds) = components
        let milliseconds = seconds * 1_000 + attoseconds / 1_000_000_000_000_000
        if milliseconds % 60_000 == 0 && milliseconds >= 60_000 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1_000 == 0 { return "\(milliseconds / 1_000)s" }
        return "\(milliseconds)ms"
    }
}
