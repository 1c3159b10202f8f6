import Foundation
import GreylistXMPP
import Testing

/// STARTTLS (RFC 6120 §5) and direct TLS (XEP-0368): PLAIN only on an encrypted stream.
@Suite struct XMPPStartTLSTests {
    static var settings: XMPPSessionSettings {
        var settings = XMPPServerSessionTests.settings
        settings.offersStartTLS = true
        return settings
    }

    static let header = XMPPServerSessionTests.header
    static let auth = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>\(Data("\0demo\0secret".utf8).base64EncodedString())</auth>"
    let start = ContinuousClock.now

    @Test("STARTTLS is offered as required; <proceed/> asks the host for TLS; after it, a new stream offers PLAIN")
    func upgrade() {
        var session = XMPPServerSession(settings: Self.settings, now: start, identifiers: SeededGenerator(state: 1))
        let features = session.receive(Array(Self.header.utf8), at: start)
        #expect(features.text.contains("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"))
        #expect(!features.text.contains("PLAIN"))
        // Bytes after <starttls/> in the same read are the client's mistake: dropped, not parsed.
        let proceed = session.receive(Array("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><junk".utf8), at: start)
        #expect(proceed.text == "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        #expect(proceed.requests == [.startTLS])
        #expect(!session.isEncrypted)
        // Until the host says the handshake is done, nothing is read.
        #expect(session.receive(Array(Self.header.utf8), at: start).bytes.isEmpty)
        #expect(session.tlsEstablished(at: start).bytes.isEmpty)
        #expect(session.isEncrypted)
        let secured = session.receive(Array(Self.header.utf8), at: start)
        #expect(secured.text.contains("<mechanism>PLAIN</mechanism>"))
        #expect(!secured.text.contains("starttls"))
        #expect(session.receive(Array(Self.auth.utf8), at: start).requests == [.checkCredentials(XMPPCredentials(user: "demo", password: "secret"))])
    }

    @Test("a password before STARTTLS is refused with a stream error, and never reaches the host")
    func plainBeforeTLS() {
        var session = XMPPServerSession(settings: Self.settings, now: start, identifiers: SeededGenerator(state: 1))
        _ = session.receive(Array(Self.header.utf8), at: start)
        let refused = session.receive(Array(Self.auth.utf8), at: start)
        #expect(refused.requests.isEmpty)
        #expect(refused.text.contains("<policy-violation"))
        #expect(refused.closes)
    }

    @Test("a direct TLS connection (XEP-0368) is offered PLAIN at once, no STARTTLS")
    func directTLS() {
        var session = XMPPServerSession(settings: Self.settings, now: start, identifiers: SeededGenerator(state: 1), encrypted: true)
        let features = session.receive(Array(Self.header.utf8), at: start)
        #expect(features.text.contains("<mechanism>PLAIN</mechanism>"))
        #expect(!features.text.contains("starttls"))
        // An unexpected <starttls/> on an encrypted stream is a stream error, not a second handshake.
        let again = session.receive(Array("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>".utf8), at: start)
        #expect(!again.requests.contains(.startTLS))
    }
}
