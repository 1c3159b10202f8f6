/// The XML namespaces the engine speaks.
public enum XMPPNamespace {
    /// `jabber:client`, the client stream's default namespace.
    public static let client = "jabber:client"
    /// The stream element's namespace.
    public static let streams = "http://etherx.jabber.org/streams"
    /// Stream error conditions (RFC 6120 §4.9.3).
    public static let streamErrors = "urn:ietf:params:xml:ns:xmpp-streams"
    /// STARTTLS negotiation (RFC 6120 §5).
    public static let tls = "urn:ietf:params:xml:ns:xmpp-tls"
    /// SASL negotiation (RFC 6120 §6).
    public static let sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
    /// Resource binding (RFC 6120 §7).
    public static let bind = "urn:ietf:params:xml:ns:xmpp-bind"
    /// The legacy session establishment (RFC 3921), still asked for by some clients.
    public static let session = "urn:ietf:params:xml:ns:xmpp-session"
    /// Stanza error conditions (RFC 6120 §8.3.3).
    public static let stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
    /// XMPP Ping (XEP-0199).
    public static let ping = "urn:xmpp:ping"
}
