/// Which peers are load balancers that speak HAProxy's PROXY protocol, and how long and how much
/// of a header the server waits for. A connection from a trusted proxy must begin with a header,
/// and the client address in it is what the greylist sees (``Greylist/shouldAccept(ip:)`` and
/// ``Greylist/recordFailedAuth(user:ip:kind:)``), before one byte is sent back; a connection
/// from anywhere else that begins with a header is refused, so no client can claim another's
/// address.
public struct ProxyProtocolPolicy: Hashable, Sendable {
    /// The load balancers' addresses.
    public var trustedProxies: [IPNetwork]
    /// How long a trusted proxy's connection may take to deliver its whole header.
    public var headerTimeout: Duration
    /// The longest version 2 header taken (version 1 is bounded at 107 bytes by its specification).
    public var maximumHeaderLength: Int

    /// Creates a policy.
    ///
    /// - Parameters:
    ///   - trustedProxies: The load balancers; empty (the default) expects no header from anyone.
    ///   - headerTimeout: The time allowed for the header; 5 s by default.
    ///   - maximumHeaderLength: The longest version 2 header; 1,024 bytes by default.
    public init(trustedProxies: [IPNetwork] = [], headerTimeout: Duration = .seconds(5), maximumHeaderLength: Int = 1_024) {
        self.trustedProxies = trustedProxies
        self.headerTimeout = headerTimeout
        self.maximumHeaderLength = maximumHeaderLength
    }

    /// Whether a connection from `peer` must begin with a PROXY header.
    ///
    /// - Parameter peer: The address `accept` returned.
    public func expectsHeader(from peer: IPAddress) -> Bool {
        trustedProxies.contains { $0.contains(peer) }
    }

    /// A parser for a trusted proxy's connection.
    public func makeParser() -> ProxyHeaderParser {
        ProxyHeaderParser(maximumLength: maximumHeaderLength)
    }
}
